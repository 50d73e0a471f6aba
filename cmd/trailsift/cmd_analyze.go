package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/cases"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type analyzeOptions struct {
	ingest     ingestOptions
	rules      ruleSetFlags
	sigma      sigmaFlags
	out        string
	failOn     string
	publicKeys string
}

func (o *analyzeOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.out, "out", "", "case `FOLDER` to create or add to (default: <first input's name>-case in the current folder)")
	f.StringVar(&o.failOn, "fail-on", "none", "exit 4 when a finding at or above `SEVERITY` fires: none, info, low, medium, high, critical")
	f.StringVar(&o.publicKeys, "public-keys", "", "`FILE` of JSON saved from \"aws cloudtrail list-public-keys\" (while online) to check digest signatures too")
	o.rules.AddFlags(f)
	o.sigma.AddFlags(f, true)
	o.ingest.addLoadFlags(f)
}

func newAnalyzeCommand(ios *streams) *cobra.Command {
	o := &analyzeOptions{}
	cmd := &cobra.Command{
		Use:   "analyze [flags] PATH...",
		Short: "Ingest evidence, run every detection and write the case report (the main job)",
		Long: `Ingest evidence, run every detection and write the case report: the main job.

It creates a case folder (never inside the evidence) holding:
  case.duckdb     the events, the evidence manifest, the findings and the digest
                  check (query it with trailsift query; trailsift report rewrites
                  the report from it)
  findings.jsonl  one finding per line
  report.html     one self-contained HTML report (opens offline)
  report.md       the same report in Markdown
The report includes the CloudTrail digest verification of the evidence (as
trailsift verify does; with --public-keys, signatures too) and the coverage
gaps and trail tampering of the events (as trailsift coverage does).
Running it again on the same evidence adds nothing twice and rewrites the
findings and reports. The rules are the built-in ones, with those of --rules
and the parameters of --set, as in trailsift detect.` + "\n" + exitHelp("analyze"),
		Example: `  trailsift analyze ./evidence.zip
  trailsift analyze ./evidence.zip --out case1/
  trailsift analyze ./bucket-copy/ lookup-events-*.json --out case1/ --fail-on high
  trailsift analyze ./evidence.zip --out case1/ --rules ./my-rules/ --set mfa-failure-burst.threshold=3
  trailsift analyze ./evidence.zip --out case1/ --sigma ~/sigma/rules/cloud/aws/`,
		Args: positionalArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAnalyze(cmd, o, args, ios)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// analyzeSummary is what analyze prints with --json.
type analyzeSummary struct {
	Case       string         `json:"case"`
	Ingest     *cases.Loaded  `json:"ingest"`
	Findings   int            `json:"findings"`
	BySeverity map[string]int `json:"by_severity"`
	Outputs    []string       `json:"outputs"`
	Seconds    float64        `json:"seconds"`
}

func runAnalyze(cmd *cobra.Command, o *analyzeOptions, args []string, ios *streams) error {
	start := time.Now()
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
	if err := o.rules.parse(); err != nil {
		return err
	}
	set, err := o.rules.load(ios)
	if err != nil {
		return err
	}
	if err := o.sigma.load(ios, o.ingest.quiet); err != nil {
		return err
	}
	more := o.sigma.detect
	if len(o.sigma.paths) == 0 {
		more = nil
	}
	res, err := cases.Analyze(cmd.Context(), args, cases.Options{
		Out:   o.out,
		Load:  o.ingest.loadOptions(cmd.Context(), ios),
		Rules: cases.Rules{Rules: set.rules, Options: query.DetectOptions{Params: o.rules.params}, More: more},
		Keys:  keys,
	})
	if res.Loaded == nil || err != nil {
		return err
	}
	set.fail(ios, res.RuleFailures)
	res.Loaded.FailedFiles = newTypedPaths(args).showAll(res.Loaded.FailedFiles)
	if o.ingest.json {
		sum := analyzeSummary{Case: res.Case, Ingest: res.Loaded, Findings: len(res.Findings), BySeverity: bySeverity(res.Findings),
			Outputs: res.Outputs, Seconds: time.Since(start).Seconds()}
		if err := writeJSONSummary(ios.Out, sum); err != nil {
			return err
		}
	}
	if !o.ingest.quiet {
		if res.Migrated != nil {
			fmt.Fprintln(ios.Err, res.Migrated.Describe(res.Database))
		}
		printIngestSummary(ios, res.Loaded, false, newTypedPaths(args))
		printAnalyzeSummary(ios, res)
	}
	if err := set.exitErr(); err != nil {
		return err // a rule that failed to load or run outranks the findings of the others
	}
	return analyzeExit(res, failRank, o.failOn)
}

// analyzeExit is analyze's exit status: integrity, inputs and findings all
// count, and exitStatus says which wins.
func analyzeExit(res cases.Result, failRank int, failOn string) error {
	var msgs []string
	o := outcome{partial: res.Loaded.Partial()}
	if ir := res.Integrity.Report; ir != nil && ir.Failed() {
		fails, _ := ir.Count()
		o.integrity = true
		msgs = append(msgs, fmt.Sprintf("integrity check failed: %d problems", fails))
	}
	if res.Events == 0 {
		o.partial = true
		msgs = append(msgs, "no CloudTrail events were loaded: the case is empty (check the paths; the summary above says what was skipped or failed)")
	}
	n := 0
	for _, f := range res.Findings {
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

func printAnalyzeSummary(ios *streams, res cases.Result) {
	w := ios.Err
	switch ir := res.Integrity.Report; {
	case ir == nil:
		fmt.Fprintf(w, "integrity: %s\n", reports.SafeLines(res.Integrity.Note))
	case ir.Failed():
		fails, warns := ir.Count()
		fmt.Fprintf(w, "integrity: FAILED: %d problems, %d warnings in %d digests (the report lists them; trailsift verify too)\n", fails, warns, ir.Digests)
	case !ir.Checked():
		fmt.Fprintf(w, "integrity: NOT CHECKED: %d log files and no digest file in the evidence: nothing could be verified (a warning, not a failure)\n", ir.LogFilesFound)
	default:
		_, warns := ir.Count()
		fmt.Fprintf(w, "integrity: OK: %d log files match %d digests, %d warnings\n", ir.LogFilesVerified, ir.Digests, warns)
	}
	fmt.Fprintf(w, "findings: %s\n", summarize(res.Findings))
	for _, f := range res.Findings {
		fmt.Fprintf(w, "  %-8s  %-32s  %-24s  %s  x%d\n", f.Severity, reports.SafeText(f.RuleID), reports.SafeText(truncate(f.Actor, 24)), reports.TimeZ(f.FirstSeen), f.Count)
	}
	fmt.Fprintln(w, "wrote:")
	for _, p := range res.Outputs {
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
