package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type reportOptions struct {
	source storeSource
	out    string
	format string
	stored bool
	quiet  bool
}

func (o *reportOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.StringVarP(&o.out, "out", "o", "", "write the report to `FILE` (written atomically; default: stdout)")
	f.StringVar(&o.format, "format", "", "html or md (default: from --out's extension, else html)")
	f.BoolVar(&o.stored, "stored-findings", false, "use the findings table written by the last analyze instead of running the built-in rules now")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no summary on stderr")
}

func newReportCommand(io *streams) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report [flags]",
		Short: "Write the case report: one self-contained HTML file, or Markdown",
		Long: `Write the case report of a store: the case summary (time range, accounts,
regions, event counts), the findings by severity each with its own short
timeline, the sign-in summary, charts (events per hour with findings marked,
sign-in outcomes, top source IPs), the coverage gaps and trail tampering calls,
and the evidence manifest (every input file with its size and sha256, and the
files that failed or were skipped, and why). The CloudTrail digest check of the
evidence files is in the report analyze writes (it has the files; a store does
not), or run trailsift verify.

The HTML file opens offline in any browser: it loads nothing (no scripts,
fonts, images or styles from anywhere; a Content Security Policy forbids them)
and every text from the logs is escaped. Long lists are capped with counts of
what is not shown; every finding is listed. The built-in rules run on the store
now (so any store works), unless --stored-findings reads those analyze saved.
The database is opened read-only.` + "\n" + exitHelp("report"),
		Example: `  trailsift report --db case.duckdb --out report.html
  trailsift report --db case.duckdb --format md > report.md
  trailsift report --db case/case.duckdb --stored-findings -o case/report.html`,
		Args: positionalArgs(cobra.NoArgs),
		PreRunE: func(*cobra.Command, []string) error {
			if o.format == "" {
				o.format = "html"
				if ext := strings.ToLower(filepath.Ext(o.out)); ext == ".md" || ext == ".markdown" {
					o.format = "md"
				}
			}
			return checkChoice("--format", o.format, "html", "md")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd, o, io)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runReport(cmd *cobra.Command, o *reportOptions, io *streams) error {
	start := time.Now()
	ctx := cmd.Context()
	store, err := o.source.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	var found []query.Finding
	if o.stored {
		found, err = query.LoadFindings(ctx, store.DB)
	} else {
		var rules []query.Rule
		if rules, err = query.BuiltinRules(); err == nil {
			found, err = query.Detect(ctx, store.DB, rules, query.DetectOptions{})
		}
	}
	if err != nil {
		return err
	}
	rep, err := reports.Build(ctx, store.DB, store.Path, found)
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
		_, err = io.Out.Write(b.Bytes())
		return err
	}
	if err := writeFileAtomically(o.out, b.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if !o.quiet {
		fmt.Fprintf(io.Err, "%s; %d events; wrote %s (%s) in %.1fs\n", summarize(found), rep.Events, o.out, humanBytes(int64(b.Len())), time.Since(start).Seconds())
	}
	return nil
}
