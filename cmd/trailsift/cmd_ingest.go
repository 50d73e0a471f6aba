package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/cases"
	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type ingestOptions struct {
	db            string
	parquet       string
	json          bool
	workers       int
	maxRecordSize int
	quiet         bool
}

func (o *ingestOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.db, "db", "trailsift.duckdb", "DuckDB database `FILE` to create or add to")
	f.StringVar(&o.parquet, "parquet", "", "write a Parquet dataset in `DIR` instead of a DuckDB database (see docs/parquet.md)")
	o.addLoadFlags(f)
}

// addLoadFlags are the flags of loading, shared by ingest and analyze.
func (o *ingestOptions) addLoadFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.json, "json", false, "print the summary as JSON on stdout")
	f.IntVar(&o.workers, "workers", 0, "run `N` decoders in parallel (default: number of CPUs)")
	f.IntVar(&o.maxRecordSize, "max-record-size", 32<<20, "largest single event, in `BYTES`; larger ones are reported and skipped")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress and no summary on stderr")
}

func newIngestCommand(ios *streams) *cobra.Command {
	o := &ingestOptions{}
	cmd := &cobra.Command{
		Use:   "ingest [flags] PATH...",
		Short: "Load CloudTrail exports into a DuckDB database or a Parquet dataset",
		Long: `Load CloudTrail exports into a DuckDB database (--db) or a Parquet dataset
(--parquet DIR) that DuckDB, Spark, Trino and Athena read.

PATH is a file, a folder (read recursively), a .zip, .tar, .tar.gz/.tgz or .gz
archive (streamed, never extracted to disk), or - for standard input. The shape
of each file is detected from its content: S3 delivery or console Event history
({"Records":[...]}), aws cloudtrail lookup-events output, JSON lines, or a JSON
array of events. CloudTrail-Digest files and files that are not CloudTrail are
recorded as skipped, with the reason.

Every input file is hashed (SHA-256) into the files table, the evidence
manifest. An event is stored once however often it is delivered or ingested; a
file already loaded is not read again. Bad input is recorded in ingest_errors
and never stops the files around it. Inputs are only ever read.` + "\n" + exitHelp("ingest"),
		Example: `  trailsift ingest --db case.duckdb ./evidence/ incident-bucket.zip lookup-events-page*.json
  trailsift ingest --db case.duckdb - < events.ndjson
  trailsift ingest --db case.duckdb --json ./evidence/ > summary.json
  trailsift ingest --parquet ./lake/ s3-sync-of-bucket/`,
		Args: positionalArgs(cobra.MinimumNArgs(1)),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if o.parquet != "" && cmd.Flags().Changed("db") {
				return &usageError{"give either --db or --parquet, not both"}
			}
			if o.maxRecordSize > ingest.MaxRecordLimit {
				return &usageError{fmt.Sprintf("--max-record-size is at most %d (256 MiB); CloudTrail's largest events are under 1 MiB", ingest.MaxRecordLimit)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIngest(cmd, o, args, ios)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runIngest(cmd *cobra.Command, o *ingestOptions, args []string, ios *streams) error {
	flag, target := "--db", o.db
	if o.parquet != "" {
		flag, target = "--parquet", o.parquet
	}
	if err := cases.CheckOutsideEvidence(flag, target, args); err != nil {
		return err
	}
	// A mistyped path creates nothing: no database, no staging, no lock.
	if err := ingest.CheckInputs(args); err != nil {
		return err
	}
	ctx := cmd.Context()
	var (
		sum *cases.Loaded
		err error
	)
	if o.parquet != "" {
		sum, err = cases.LoadDataset(ctx, o.parquet, args, o.loadOptions(ctx, ios))
	} else {
		store, openErr := query.Open(ctx, o.db, false)
		if openErr != nil {
			return openErr
		}
		defer store.Close()
		if m := store.Migrated; m != nil && !o.quiet {
			fmt.Fprintln(ios.Err, m.Describe(o.db))
		}
		sum, err = cases.Load(ctx, store, args, o.loadOptions(ctx, ios))
	}
	if sum == nil {
		return err
	}
	sum.FailedFiles = newTypedPaths(args).showAll(sum.FailedFiles)
	if o.json {
		if err := writeJSONSummary(ios.Out, sum); err != nil {
			return err
		}
	}
	if !o.quiet {
		printIngestSummary(ios, sum, o.parquet != "", newTypedPaths(args))
	}
	if err != nil {
		return err
	}
	if sum.Partial() {
		return &exitCodeError{code: exitPartial}
	}
	return nil
}

// loadOptions are the options of a load, with progress on a terminal.
func (o *ingestOptions) loadOptions(ctx context.Context, ios *streams) cases.LoadOptions {
	opts := cases.LoadOptions{Workers: o.workers, MaxRecordSize: o.maxRecordSize, Stdin: ios.In}
	show := ios.errIsTerm && !o.quiet
	if show {
		prog := newProgressLine(ios.Err)
		opts.Progress, opts.AfterRead = prog.update, prog.done
	}
	if atFilesDone != nil {
		show, done := opts.Progress, int64(0)
		opts.Progress = func(p ingest.Progress) {
			if show != nil {
				show(p)
			}
			if p.Files != done {
				done = p.Files
				atFilesDone(ctx, done)
			}
		}
	}
	opts.Step = func(ctx context.Context, s lake.Step, target string) {
		if show {
			line := string(s)
			if s == lake.StepStore {
				line += " in " + target
			}
			fmt.Fprintf(ios.Err, "%s ...\n", line)
		}
		if s == lake.StepStore && atStoreLoad != nil {
			atStoreLoad(ctx, ios)
		}
	}
	return opts
}

// atStoreLoad, when set, runs just before the staged events are loaded
// into the store: tests interrupt the run there.
var atStoreLoad func(ctx context.Context, ios *streams)

// atFilesDone, when set, runs each time the sink has taken one more file:
// tests interrupt or kill the run there, at a point that does not depend
// on timing.
var atFilesDone func(ctx context.Context, files int64)

func printIngestSummary(ios *streams, s *cases.Loaded, parquet bool, paths typedPaths) {
	w := ios.Err
	fmt.Fprintf(w, "files:  %d loaded, %d skipped, %d failed, %d duplicate content, %d unchanged since last run\n",
		s.FilesLoaded, s.FilesSkipped, s.FilesFailed, s.FilesDuplicate, s.FilesUnchanged)
	fmt.Fprintf(w, "events: %d read, %d new, %d already stored or delivered twice\n", s.EventsRead, s.EventsNew, s.EventsDuplicate)
	rate := 0.0
	if s.Seconds > 0 {
		rate = float64(s.EventsRead) / s.Seconds
	}
	fmt.Fprintf(w, "time:   %.1fs (%s), %s read, %.0f events/s\n", s.Seconds, phasesText(s.Phases), humanBytes(s.BytesRead), rate)
	flag, kind := "--db", "database"
	if parquet {
		flag, kind = "--parquet", "dataset"
	}
	if s.Errors > 0 || s.Warnings > 0 {
		fmt.Fprintf(w, "problems: %d errors, %d warnings; first ones:\n", s.Errors, s.Warnings)
		problems := slices.Clone(s.Problems)
		for i := range problems {
			problems[i].Path = paths.show(problems[i].Path)
		}
		reports.WriteProblems(w, problems)
		fmt.Fprintf(w, "  all of them: trailsift query %s %s \"select * from ingest_errors\"\n", flag, s.Database)
	}
	fmt.Fprintf(w, "%s: %s\n", kind, s.Database)
}

// phasesText says where a load's time went, leaving out a step it did
// not take (a dataset has no store step, a store no merging of parts; a
// load that stored nothing new builds no sessions).
func phasesText(p cases.Phases) string {
	parts := []string{fmt.Sprintf("reading %.1fs", p.Read)}
	if p.Store > 0 {
		parts = append(parts, fmt.Sprintf("storing %.1fs", p.Store))
	}
	if p.Compact >= 0.05 {
		parts = append(parts, fmt.Sprintf("merging parts %.1fs", p.Compact))
	}
	if p.Lineage > 0 {
		parts = append(parts, fmt.Sprintf("lineage %.1fs", p.Lineage))
	}
	return strings.Join(parts, ", ")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
