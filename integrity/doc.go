// Package integrity checks CloudTrail evidence offline: it verifies the
// digest files CloudTrail writes when log file validation is on (the chain
// of digests, the SHA-256 of every log file they list, and, with public keys
// the user saved while online, the RSA signatures), and it measures coverage
// in a case database: silent hours, delivery gaps and trail tampering events.
//
// What goes in: paths to folders, files and zip/tar(.gz) archives exactly as
// copied out of S3 (Verify), or an open case database (Coverage). What comes
// out: a Report or CoverageReport whose findings each name the file and the
// time range concerned. What always holds: evidence is only read, never
// written; files are hashed as streams, so memory does not grow with their
// size; everything read from the evidence is treated as attacker-controlled
// (it is never interpolated into SQL).
//
// Sources for the AWS formats, cited again where each fact is used:
//   - Digest file structure: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html
//   - Custom validation (signing string, steps): https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-custom-validation.html
//   - PublicKey (list-public-keys): https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PublicKey.html
//   - aws-cli's validate-logs: awscli/customizations/cloudtrail/validation.py (github.com/aws/aws-cli)
package integrity
