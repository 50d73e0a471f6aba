package integrity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Digest is one parsed CloudTrail digest file. Field names follow the
// "CloudTrail digest file structure" page of the CloudTrail user guide.
type Digest struct {
	AccountID          string   `json:"awsAccountId"`
	StartTime          string   `json:"digestStartTime"`
	EndTime            string   `json:"digestEndTime"` // kept verbatim: it is part of the signing string
	S3Bucket           string   `json:"digestS3Bucket"`
	S3Object           string   `json:"digestS3Object"`
	KeyFingerprint     string   `json:"digestPublicKeyFingerprint"`
	SignatureAlgorithm string   `json:"digestSignatureAlgorithm"`
	NewestEventTime    *string  `json:"newestEventTime"`
	OldestEventTime    *string  `json:"oldestEventTime"`
	PreviousS3Bucket   *string  `json:"previousDigestS3Bucket"`
	PreviousS3Object   *string  `json:"previousDigestS3Object"`
	PreviousHashValue  *string  `json:"previousDigestHashValue"`
	PreviousHashAlgo   *string  `json:"previousDigestHashAlgorithm"`
	PreviousSignature  *string  `json:"previousDigestSignature"`
	LogFiles           logFiles `json:"logFiles"`

	// Filled in by Verify, not read from the JSON.
	Path        string    `json:"-"` // where it was found (archive!member inside archives)
	ContentHash string    `json:"-"` // hex SHA-256 of the uncompressed digest file
	StoredHash  string    `json:"-"` // hex SHA-256 of the bytes as stored (gzip)
	Start, End  time.Time `json:"-"`
	Backfill    bool      `json:"-"`
}

// LogFile is one log file a digest lists: hashValue is the hex SHA-256 of
// the log file's uncompressed content (user guide, "Custom implementations
// of CloudTrail log file integrity validation", Validate the log files).
type LogFile struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

// digestName matches a digest's S3 key, as given in the user guide:
// AWSLogs/[o-id/]<acct>/CloudTrail-Digest/<region>/YYYY/MM/DD/
// <acct>_CloudTrail-Digest_<region>_<trail>_<home-region>_<YYYYMMDDTHHMMSSZ>[_backfill].json.gz
var digestName = newKeyPattern(`AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail-Digest/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/(\d{12}_CloudTrail-Digest_[^/]+)_(\d{8}T\d{6}Z)(_backfill)?\.json(?:\.gz)?`)

// logName matches a log file's S3 key: AWSLogs/[o-id/]<acct>/CloudTrail/
// <region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<unique>.json.gz.
var logName = newKeyPattern(`AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/(\d{12}_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_[^/]+\.json(?:\.gz)?)`)

// keyPattern matches an S3 key (key, which starts with "AWSLogs/") at the
// end of a path, where it starts the path or follows a separator (/, \ or
// a zip's !). FindStringSubmatch's group 1 is the key and the key's own
// groups follow, as for the regexp (?:^|[/!\\])(key)$; the whole match is
// the key. The regexp runs anchored, only where "AWSLogs/" begins a
// segment: unanchored, it was tried at every position of every path, a
// second of CPU for a bucket of 200k files.
type keyPattern struct {
	key      string // the key's regexp, unanchored
	anchored *regexp.Regexp
}

func newKeyPattern(key string) keyPattern {
	return keyPattern{key: key, anchored: regexp.MustCompile(`^(` + key + `)$`)}
}

// FindStringSubmatch is the leftmost match in p, or nil.
func (k keyPattern) FindStringSubmatch(p string) []string {
	for from := 0; ; {
		i := strings.Index(p[from:], "AWSLogs/")
		if i < 0 {
			return nil
		}
		i += from
		if i == 0 || strings.IndexByte(`/!\`, p[i-1]) >= 0 {
			if m := k.anchored.FindStringSubmatch(p[i:]); m != nil {
				return m
			}
		}
		from = i + 1
	}
}

// MatchString says whether p ends in a key.
func (k keyPattern) MatchString(p string) bool { return k.FindStringSubmatch(p) != nil }

// s3Key returns the part of a path or S3 object name from "AWSLogs/" on:
// the same file has the same key in S3, in a folder copy and in a zip.
func s3Key(p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	if i := strings.LastIndex(p, "!"); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.Index(p, "AWSLogs/"); i >= 0 {
		return p[i:]
	}
	return p
}

// maxDigestLogFiles caps the log files one digest may list. A digest
// covers one hour of one trail in one account and region: a few hundred
// files at most. The cap, and the rule that each entry names its file and
// hash, keep a hostile digest (64 MiB of "{}," is 22 million entries) from
// costing gigabytes.
const maxDigestLogFiles = 100_000

// logFiles decodes a digest's logFiles array one entry at a time, checking
// each before keeping it.
type logFiles []LogFile

func (l *logFiles) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*l = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return fmt.Errorf("logFiles is not an array")
	}
	for i := 0; dec.More(); i++ {
		if i >= maxDigestLogFiles {
			return fmt.Errorf("logFiles lists more than %d files", maxDigestLogFiles)
		}
		var f LogFile
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("logFiles[%d]: %w", i, err)
		}
		if f.S3Object == "" || f.HashValue == "" {
			return fmt.Errorf("logFiles[%d]: s3Object or hashValue missing", i)
		}
		*l = append(*l, f)
	}
	return nil
}

func parseDigest(content []byte) (*Digest, error) {
	var d Digest
	if err := json.Unmarshal(content, &d); err != nil {
		return nil, fmt.Errorf("not a digest file: %w", err)
	}
	if d.S3Object == "" || d.EndTime == "" || d.StartTime == "" {
		return nil, fmt.Errorf("not a digest file: digestS3Object, digestStartTime or digestEndTime missing")
	}
	var err error
	if d.Start, err = time.Parse(time.RFC3339, d.StartTime); err != nil {
		return nil, fmt.Errorf("digestStartTime: %w", err)
	}
	if d.End, err = time.Parse(time.RFC3339, d.EndTime); err != nil {
		return nil, fmt.Errorf("digestEndTime: %w", err)
	}
	d.Backfill = strings.HasSuffix(d.S3Object, "_backfill.json.gz")
	return &d, nil
}

// chainID names the chain a digest belongs to: its key without the time
// stamp (account, region, trail and home region).
func chainID(object string) string {
	m := digestName.FindStringSubmatch(s3Key(object))
	if m == nil {
		return s3Key(object)
	}
	return m[2] + "/" + m[3] + "/" + m[4]
}

// parseTime reads an ISO 8601 time as CloudTrail writes it; zero if absent.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func ptr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
