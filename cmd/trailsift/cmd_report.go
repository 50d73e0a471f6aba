package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/cases"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type reportOptions struct {
	source storeSource
	rules  ruleSetFlags
	out    string
	format string
	stored bool
	force  bool
	quiet  bool
	json   bool
}

func (o *reportOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.StringVarP(&o.out, "out", "o", "", "write the report to `FILE` (written atomically; an existing FILE only with --force; default: stdout)")
	f.StringVar(&o.format, "format", "", "`FORMAT`: html or md (default: from --out's extension, else html)")
	f.BoolVar(&o.stored, "stored-findings", false, "use the findings table written by the last analyze instead of running the rules now")
	f.BoolVar(&o.force, "force", false, "replace the --out file if it exists (the report analyze wrote, say)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no summary on stderr")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON on stdout (needs --out: without it the report is on stdout)")
	o.rules.AddFlags(f)
}

func newReportCommand(ios *streams) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report [flags]",
		Short: "Write the case report: one self-contained HTML file, or Markdown",
		Long: `Write the case report of a store: the case summary (time range, accounts,
regions, event counts), the findings by severity each with its own short
timeline, the sign-in summary, charts (events per hour with findings marked,
sign-in outcomes, top source IPs), the CloudTrail digest check of the evidence
(the newest one analyze stored in the case; a store made by ingest has none:
run trailsift verify), the coverage gaps and trail tampering calls, and the
evidence manifest (every input file with its size and sha256, and the files
that failed or were skipped, and why). On a case folder's case.duckdb it
writes the report analyze wrote, with the findings of the rules run now.

The HTML file opens offline in any browser: it loads nothing (no scripts,
fonts, images or styles from anywhere; a Content Security Policy forbids them)
and every text from the logs is escaped. Long lists are capped with counts of
what is not shown; every finding is listed. The rules (the built-in ones, with
--rules and --set as in trailsift detect) run on the store now, so any store
works, unless --stored-findings reads those analyze saved. The database is
opened read-only. An existing --out file is never replaced silently: the
command refuses it unless --force is given, and then says it replaced it.` + "\n" + exitHelp("report"),
		Example: `  trailsift report --db case.duckdb --out report.html
  trailsift report --db case.duckdb --format md > report.md
  trailsift report --db case/case.duckdb --stored-findings -o case/report.html --force
  trailsift report --db case/case.duckdb --rules ./my-rules/ --set mfa-failure-burst.threshold=3 -o report2.html`,
		Args: positionalArgs(cobra.NoArgs),
		PreRunE: func(*cobra.Command, []string) error {
			if o.format == "" {
				o.format = "html"
				if ext := strings.ToLower(filepath.Ext(o.out)); ext == ".md" || ext == ".markdown" {
					o.format = "md"
				}
			}
			if o.json && o.out == "" {
				return &usageError{"--json prints the summary on stdout, where the report goes without --out: give --out FILE"}
			}
			if o.stored && (o.rules.rulesDir != "" || len(o.rules.sets) > 0) {
				return &usageError{"--stored-findings reads the findings analyze stored: --rules and --set do not apply to it"}
			}
			return checkChoice("--format", o.format, "html", "md")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd, o, ios)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// reportSummary is report --json: the keys analyze and detect use too.
type reportSummary struct {
	Findings   int            `json:"findings"`
	BySeverity map[string]int `json:"by_severity"`
	Events     int64          `json:"events"`
	Outputs    []string       `json:"outputs"`
	Replaced   bool           `json:"replaced"`
	Bytes      int64          `json:"bytes"`
	Seconds    float64        `json:"seconds"`
}

func runReport(cmd *cobra.Command, o *reportOptions, ios *streams) error {
	start := time.Now()
	replacing, err := checkReplace("--out", o.out, o.force)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var rules cases.Rules
	set := &ruleSet{}
	if !o.stored {
		if err := o.rules.parse(); err != nil {
			return err
		}
		if set, err = o.rules.load(ios); err != nil {
			return err
		}
		rules.Rules, rules.Options.Params = set.rules, o.rules.params
	}
	store, err := o.source.open(ctx, ios.Err)
	if err != nil {
		return err
	}
	defer store.Close()
	var found []query.Finding
	if o.stored {
		found, err = query.LoadFindings(ctx, store.DB)
	} else {
		found, err = rules.Run(ctx, store)
		err = set.detectErr(ios, err) // rules that failed are said; the others' findings stay
	}
	if err != nil {
		return err
	}
	rep, err := cases.Report(ctx, store, found)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if o.format == "md" {
		err = reports.WriteMarkdown(&b, rep)
	} else {
		err = reports.WriteHTML(&b, rep)
	}
	if err != nil {
		return err
	}
	if o.out == "" {
		if _, err := ios.Out.Write(b.Bytes()); err != nil {
			return err
		}
		return set.exitErr()
	}
	if err := reports.WriteFileAtomically(o.out, b.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	sum := reportSummary{Findings: len(found), BySeverity: bySeverity(found), Events: rep.Events,
		Outputs: []string{o.out}, Replaced: replacing, Bytes: int64(b.Len()), Seconds: time.Since(start).Seconds()}
	if o.json {
		if err := writeJSONSummary(ios.Out, sum); err != nil {
			return err
		}
	}
	if !o.quiet {
		verb := "wrote"
		if replacing {
			verb = "replaced"
		}
		fmt.Fprintf(ios.Err, "%s; %d events; %s %s (%s) in %.1fs\n", summarize(found), sum.Events, verb, o.out, humanBytes(sum.Bytes), sum.Seconds)
	}
	return set.exitErr() // a rule that could not run makes the exit status say so
}

// checkReplace refuses an output file that exists unless force is given:
// a report the user already has (the one analyze wrote, say) is never
// replaced silently. It says whether path will be replaced.
func checkReplace(flag, path string, force bool) (bool, error) {
	if path == "" {
		return false, nil
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, &usageError{fmt.Sprintf("%s %s: %v", flag, path, err)}
	case fi.IsDir():
		return false, &usageError{fmt.Sprintf("%s %s is a folder: give a file name", flag, path)}
	case !force:
		return false, &usageError{fmt.Sprintf("%s %s exists: give --force to replace it, or another file name", flag, path)}
	}
	return true, nil
}
