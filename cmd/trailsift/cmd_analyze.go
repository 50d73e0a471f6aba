package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/integrity"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type analyzeOptions struct {
	ingest     ingestOptions
	out        string
	failOn     string
	publicKeys string
}

func (o *analyzeOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.out, "out", "", "case folder to create or add to (default: <first input's name>-case in the current folder)")
	f.StringVar(&o.failOn, "fail-on", "none", "exit 4 when a finding at or above this severity fires (info, low, medium, high, critical, none)")
	f.StringVar(&o.publicKeys, "public-keys", "", "`FILE` of JSON saved from aws cloudtrail list-public-keys (while online), to check digest signatures too")
	o.ingest.addLoadFlags(f)
}

func newAnalyzeCommand(io *streams) *cobra.Command {
	o := &analyzeOptions{}
	cmd := &cobra.Command{
		Use:   "analyze [flags] PATH...",
		Short: "Ingest evidence, run every detection and write the case report (the main job)",
		Long: `Ingest evidence, run every detection and write the case report: the main job.

It creates a case folder (never inside the evidence) holding:
  case.duckdb     the events, the evidence manifest and the findings (query it with trailsift query)
  findings.jsonl  one finding per line
  report.html     one self-contained HTML report (opens offline)
  report.md       the same report in Markdown
The report includes the CloudTrail digest verification of the evidence (as
trailsift verify does; with --public-keys, signatures too) and the coverage
gaps and trail tampering of the events (as trailsift coverage does).
Running it again on the same evidence adds nothing twice and rewrites the
findings and reports.` + "\n" + exitHelp("analyze"),
		Example: `  trailsift analyze ./evidence.zip
  trailsift analyze ./evidence.zip --out case1/
  trailsift analyze ./bucket-copy/ lookup-events-*.json --out case1/ --fail-on high`,
		Args: positionalArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAnalyze(cmd, o, args, io)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// analyzeSummary is what analyze prints with --json.
type analyzeSummary struct {
	Case       string         `json:"case"`
	Ingest     *ingestSummary `json:"ingest"`
	Findings   int            `json:"findings"`
	BySeverity map[string]int `json:"by_severity"`
	Outputs    []string       `json:"outputs"`
}

func runAnalyze(cmd *cobra.Command, o *analyzeOptions, args []string, io *streams) error {
	keys, err := readPublicKeys(o.publicKeys)
	if err != nil {
		return err
	}
	failRank := 0
	if o.failOn != "none" {
		sev, err := query.ParseSeverity(o.failOn)
		if err != nil {
			return &usageError{fmt.Sprintf("--fail-on: %v", err)}
		}
		failRank = sev.Rank()
	}
	out := o.out
	if out == "" {
		base := strings.TrimSuffix(filepath.Base(filepath.Clean(args[0])), filepath.Ext(args[0]))
		if args[0] == "-" || base == "" || base == "." || base == string(filepath.Separator) {
			base = "trailsift"
		}
		out = base + "-case"
	}
	dbPath := filepath.Join(out, "case.duckdb")
	if err := checkOutsideEvidence("--out", out, args); err != nil {
		return err
	}
	if err := ingest.CheckInputs(args); err != nil {
		return err // before the case folder exists
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create case folder: %w", err)
	}
	ctx := cmd.Context()
	store, err := query.Open(ctx, dbPath, false)
	if err != nil {
		return err
	}
	defer store.Close()
	o.ingest.db = dbPath
	ingestSum, st, runErr := ingestInto(cmd, store, &o.ingest, args, io)
	if ingestSum == nil {
		return runErr
	}
	if runErr != nil { // interrupted: keep what is stored, skip the rest
		return runErr
	}
	rules, err := query.BuiltinRules()
	if err != nil {
		return err
	}
	found, err := query.Detect(ctx, store.DB, rules, query.DetectOptions{})
	if err != nil {
		return err
	}
	if err := store.SaveFindings(ctx, found); err != nil {
		return err
	}
	rep, err := reports.Build(ctx, store.DB, dbPath, found)
	if err != nil {
		return err
	}
	rep.Integrity, rep.IntegrityNote = verifyEvidence(ctx, args, keys)
	outputs := []string{dbPath}
	for _, w := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"findings.jsonl", func(b *bytes.Buffer) error { return writeFindings(b, "jsonl", found) }},
		{"report.html", func(b *bytes.Buffer) error { return reports.WriteHTML(b, rep) }},
		{"report.md", func(b *bytes.Buffer) error { return reports.WriteMarkdown(b, rep) }},
	} {
		var b bytes.Buffer
		if err := w.write(&b); err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		p := filepath.Join(out, w.name)
		if err := writeFileAtomically(p, b.Bytes()); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		outputs = append(outputs, p)
	}
	sum := analyzeSummary{Case: out, Ingest: ingestSum, Findings: len(found), BySeverity: rep.BySeverity, Outputs: outputs}
	if o.ingest.json {
		enc := json.NewEncoder(reports.JSONWriter{W: io.Out})
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	}
	if !o.ingest.quiet {
		printIngestSummary(io, *ingestSum, store)
		printAnalyzeSummary(io, found, rep, outputs)
	}
	return analyzeExit(found, failRank, o.failOn, rep.Integrity, st.FilesFailed > 0 || st.Errors > 0, caseEvents(ctx, store))
}

// caseEvents counts the events of the case; -1 when it cannot be read.
func caseEvents(ctx context.Context, store *query.Store) int64 {
	var n int64
	if err := store.DB.QueryRowContext(ctx, "SELECT count(*) FROM event_rows").Scan(&n); err != nil {
		return -1
	}
	return n
}

// analyzeExit is analyze's exit status: integrity, inputs and findings all
// count, and exitStatus says which wins.
func analyzeExit(found []query.Finding, failRank int, failOn string, ir *integrity.Report, inputsFailed bool, events int64) error {
	var msgs []string
	o := outcome{partial: inputsFailed}
	if ir != nil && ir.Failed() {
		fails, _ := ir.Count()
		o.integrity = true
		msgs = append(msgs, fmt.Sprintf("integrity check failed: %d problems", fails))
	}
	if events == 0 {
		o.partial = true
		msgs = append(msgs, "no CloudTrail events were loaded: the case is empty (check the paths; the summary above says what was skipped or failed)")
	}
	n := 0
	for _, f := range found {
		if failRank > 0 && f.Severity.Rank() >= failRank {
			n++
		}
	}
	if n > 0 {
		o.findings = true
		msgs = append(msgs, fmt.Sprintf("%d finding(s) at or above %s (--fail-on)", n, failOn))
	}
	code := exitStatus(o)
	if code == exitOK {
		return nil
	}
	var err error
	if len(msgs) > 0 {
		err = errors.New(strings.Join(msgs, "; "))
	}
	return &exitCodeError{code: code, err: err}
}

func printAnalyzeSummary(io *streams, found []query.Finding, rep *reports.Report, outputs []string) {
	w := io.Err
	switch ir := rep.Integrity; {
	case ir == nil:
		fmt.Fprintf(w, "integrity: %s\n", reports.SafeLines(rep.IntegrityNote))
	case ir.Failed():
		fails, warns := ir.Count()
		fmt.Fprintf(w, "integrity: FAILED: %d problems, %d warnings in %d digests (the report lists them; trailsift verify too)\n", fails, warns, ir.Digests)
	case !ir.Checked():
		fmt.Fprintf(w, "integrity: NOT CHECKED: %d log files and no digest file in the evidence: nothing could be verified (a warning, not a failure)\n", ir.LogFilesFound)
	default:
		_, warns := ir.Count()
		fmt.Fprintf(w, "integrity: OK: %d log files match %d digests, %d warnings\n", ir.LogFilesVerified, ir.Digests, warns)
	}
	fmt.Fprintf(w, "findings: %s\n", summarize(found))
	for _, f := range found {
		fmt.Fprintf(w, "  %-8s  %-32s  %-24s  %s  x%d\n", f.Severity, reports.SafeText(f.RuleID), reports.SafeText(truncate(f.Actor, 24)), tsZ(f.FirstSeen), f.Count)
	}
	fmt.Fprintln(w, "wrote:")
	for _, p := range outputs {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// writeFileAtomically writes data to a temporary file beside path and
// renames it, so a reader never sees half a report.
func writeFileAtomically(path string, data []byte) error {
	return writeAtomically(path, func(tmp string) error { return os.WriteFile(tmp, data, 0o644) })
}

// verifyEvidence checks the CloudTrail digests of the inputs for the
// report. It never fails the analysis: what could not be checked is said
// in the note instead.
func verifyEvidence(ctx context.Context, inputs []string, keys integrity.Keys) (*integrity.Report, string) {
	var files []string
	for _, in := range inputs {
		if in != "-" { // standard input was read once, by ingest
			files = append(files, in)
		}
	}
	if len(files) == 0 {
		return nil, "The evidence came on standard input: run trailsift verify on the files to check their digests."
	}
	rep, err := integrity.Verify(ctx, files, integrity.VerifyOptions{Keys: keys})
	switch {
	case errors.Is(err, integrity.ErrNothingFound):
		return nil, "No CloudTrail digest files or S3-layout log files in the evidence: nothing to verify."
	case err != nil:
		return nil, "Digest verification could not run: " + err.Error()
	}
	return rep, ""
}
