package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/integrity"
	"github.com/trailsift/trailsift/reports"
)

type verifyOptions struct {
	publicKeys string
	format     string
}

func (o *verifyOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.publicKeys, "public-keys", "", "`FILE` of JSON saved from \"aws cloudtrail list-public-keys\" (while online) to check digest signatures")
	f.StringVar(&o.format, "format", "table", "output `FORMAT`: table or json")
}

func newVerifyCommand(ios *streams) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [flags] EVIDENCE...",
		Short: "Verify CloudTrail digest files, log file hashes and signatures offline",
		Long: `Verify the evidence against the CloudTrail digest files delivered with it
(log file validation), without the AWS API.

Digest files (AWSLogs/<acct>/CloudTrail-Digest/<region>/YYYY/MM/DD/*.json.gz)
and log files are found by their S3 key in folders and inside zip and tar
archives. Every log file a digest lists is looked for and its SHA-256 compared
with the digest's; the chain of digests is followed through
previousDigestS3Object and previousDigestHashValue. Reported, each with the
file and the time range: missing and modified log files, log files no digest
lists, missing and modified digests, breaks in the chain.

With --public-keys, digest signatures are checked (SHA256withRSA over the
signing string AWS documents). A digest's own signature is S3 object metadata,
lost when the file is copied out of S3; the next digest carries it, so every
digest but the newest of each chain is checked. Without keys, the output says
signatures were not checked. Evidence with log files but no digest file at
all is "not checked": a warning, exit 0, not a failure. Nothing is written.` + "\n" + exitHelp("verify"),
		Example: `  trailsift verify ./evidence/
  trailsift verify ./evidence/ incident-bucket.zip --public-keys keys.json
  aws cloudtrail list-public-keys --start-time 2024-03-01T00:00:00Z > keys.json   # while online, per region
  trailsift verify samples/s3-export.zip --public-keys samples/public-keys.json --format json`,
		Args: positionalArgs(cobra.MinimumNArgs(1)),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if o.format != "table" && o.format != "json" {
				return &usageError{fmt.Sprintf("unknown --format %q: use table or json", o.format)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, o, args, ios)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runVerify(cmd *cobra.Command, o *verifyOptions, args []string, ios *streams) error {
	var opts integrity.VerifyOptions
	var err error
	if opts.Keys, err = readPublicKeys(o.publicKeys); err != nil {
		return err
	}
	rep, err := integrity.Verify(cmd.Context(), args, opts)
	var ie *integrity.InputError
	switch {
	case errors.As(err, &ie):
		return &usageError{err.Error()}
	case errors.Is(err, integrity.ErrNothingFound):
		return &usageError{fmt.Sprintf("%v in %s", err, strings.Join(args, ", "))}
	case err != nil:
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(reports.JSONWriter{W: ios.Out})
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := reports.WriteVerify(ios.Out, rep); err != nil {
		return err
	}
	if rep.Failed() {
		fails, _ := rep.Count()
		return &exitCodeError{code: exitIntegrity, err: fmt.Errorf("integrity check failed: %d problems", fails)}
	}
	return nil
}

// readPublicKeys reads --public-keys; no file means no keys (signatures are
// then not checked, and the results say so).
func readPublicKeys(path string) (integrity.Keys, error) {
	if path == "" {
		return nil, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("--public-keys: %v", err)}
	}
	defer fh.Close()
	keys, err := integrity.ReadKeys(fh)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("--public-keys %s: %v", path, err)}
	}
	return keys, nil
}
