package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	f.StringVar(&o.db, "db", "trailsift.duckdb", "DuckDB database file to create or add to")
	f.StringVar(&o.parquet, "parquet", "", "write a Parquet dataset in this directory instead of a DuckDB database (see docs/parquet.md)")
	o.addLoadFlags(f)
}

// addLoadFlags are the flags of loading, shared by ingest and analyze.
func (o *ingestOptions) addLoadFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.json, "json", false, "print the summary as JSON on stdout")
	f.IntVar(&o.workers, "workers", 0, "decoders in parallel (default: number of CPUs)")
	f.IntVar(&o.maxRecordSize, "max-record-size", 32<<20, "largest single event in bytes; larger ones are reported and skipped")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress and no summary on stderr")
}

func newIngestCommand(io *streams) *cobra.Command {
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
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIngest(cmd, o, args, io)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// ingestSummary is the run's result, printed as text or JSON.
type ingestSummary struct {
	Database        string   `json:"database"`
	FilesLoaded     int64    `json:"files_loaded"`
	FilesSkipped    int64    `json:"files_skipped"`
	FilesFailed     int64    `json:"files_failed"`
	FilesDuplicate  int64    `json:"files_duplicate"`
	FilesUnchanged  int64    `json:"files_unchanged"`
	EventsRead      int64    `json:"events_read"`
	EventsNew       int64    `json:"events_new"`
	EventsDuplicate int64    `json:"events_duplicate"`
	Errors          int64    `json:"errors"`
	Warnings        int64    `json:"warnings"`
	BytesRead       int64    `json:"bytes_read"`
	Seconds         float64  `json:"seconds"`
	FailedFiles     []string `json:"failed_files,omitempty"`
	Interrupted     bool     `json:"interrupted,omitempty"`
}

func runIngest(cmd *cobra.Command, o *ingestOptions, args []string, io *streams) error {
	flag, target := "--db", o.db
	if o.parquet != "" {
		flag, target = "--parquet", o.parquet
	}
	if err := checkOutsideEvidence(flag, target, args); err != nil {
		return err
	}
	// A mistyped path creates nothing: no database, no staging, no lock.
	if err := ingest.CheckInputs(args); err != nil {
		return err
	}
	ctx := cmd.Context()
	var (
		sum   *ingestSummary
		st    ingest.Stats
		err   error
		store *query.Store
	)
	if o.parquet != "" {
		sum, st, err = ingestParquet(cmd, o, args, io)
		if sum != nil && !o.quiet {
			// Reopen the dataset to show the problems this run recorded.
			if s, openErr := lake.Open(ctx, o.parquet); openErr == nil {
				store = s
				defer s.Close()
			}
		}
	} else {
		store, err = query.Open(ctx, o.db, false)
		if err != nil {
			return err
		}
		defer store.Close()
		if m := store.Migrated; m != nil && !o.quiet {
			fmt.Fprintf(io.Err, "migrated %s from store schema version %d to %d (%d stored events were copies of another and are kept once)\n",
				o.db, m.From, query.SchemaVersion, m.Merged)
		}
		sum, st, err = ingestInto(cmd, store, o, args, io)
	}
	if err != nil && sum == nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(reports.JSONWriter{W: io.Out})
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	}
	if !o.quiet {
		printIngestSummary(io, *sum, store)
	}
	if err != nil {
		return err
	}
	if st.FilesFailed > 0 || st.Errors > 0 {
		return &exitCodeError{code: exitPartial}
	}
	return nil
}

// ingestParquet loads args into the Parquet dataset of --parquet.
func ingestParquet(cmd *cobra.Command, o *ingestOptions, args []string, io *streams) (sum *ingestSummary, st ingest.Stats, err error) {
	w, err := lake.NewWriter(cmd.Context(), o.parquet)
	if err != nil {
		return nil, ingest.Stats{}, err
	}
	defer func() { err = errors.Join(err, w.Close()) }()
	m, err := w.Manifest()
	if err != nil {
		return nil, ingest.Stats{}, err
	}
	return load(cmd, w, m, o.parquet, o, args, io)
}

// ingestInto loads args into store with progress on a terminal, through
// lake.IngestStore (as the tests build their stores). A nil summary means
// nothing ran; otherwise the error is the run's (interrupted, or the store
// failed) and the summary says how far it got.
func ingestInto(cmd *cobra.Command, store *query.Store, o *ingestOptions, args []string, io *streams) (*ingestSummary, ingest.Stats, error) {
	ctx := cmd.Context()
	start := time.Now()
	opts, prog := runOptions(ctx, o, io)
	beforeLoad := func() {
		if prog != nil {
			prog.done()
			prog = nil
			fmt.Fprintf(io.Err, "storing the staged events in %s ...\n", store.Path)
		}
		if atStoreLoad != nil {
			atStoreLoad(ctx, io)
		}
	}
	run, err := lake.IngestStore(ctx, store, args, opts, beforeLoad)
	if prog != nil {
		prog.done()
	}
	if !run.Ran {
		return nil, run.Stats, err
	}
	sum := summaryOf(run.Stats, store.Path, run.Inserted, run.Events-run.Inserted, start, err)
	return sum, run.Stats, err
}

// atStoreLoad, when set, runs just before the staged events are loaded
// into the store: tests interrupt the run there.
var atStoreLoad func(ctx context.Context, io *streams)

// loadSink is where load puts events: a DuckDB store or a Parquet dataset.
type loadSink interface {
	ingest.Sink
	Inserted() int64
	Duplicates() int64
}

// load runs ingest into w, with progress on a terminal.
func load(cmd *cobra.Command, w loadSink, m ingest.Manifest, name string, o *ingestOptions, args []string, io *streams) (*ingestSummary, ingest.Stats, error) {
	start := time.Now()
	opts, prog := runOptions(cmd.Context(), o, io)
	opts.Manifest = m
	st, runErr := ingest.Run(cmd.Context(), args, w, opts)
	if prog != nil {
		prog.done()
	}
	if _, refused := errors.AsType[*ingest.InputError](runErr); refused {
		return nil, st, runErr
	}
	return summaryOf(st, name, w.Inserted(), w.Duplicates(), start, runErr), st, runErr
}

// runOptions are the ingest options of the flags, with a progress line on
// a terminal (nil otherwise).
func runOptions(ctx context.Context, o *ingestOptions, io *streams) (ingest.Options, *progressLine) {
	opts := ingest.Options{Workers: o.workers, MaxRecordSize: o.maxRecordSize, Stdin: io.In}
	var prog *progressLine
	if io.errIsTerm && !o.quiet {
		prog = newProgressLine(io.Err)
		opts.Progress = prog.update
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
	return opts, prog
}

// atFilesDone, when set, runs each time the sink has taken one more file:
// tests interrupt or kill the run there, at a point that does not depend
// on timing.
var atFilesDone func(ctx context.Context, files int64)

func summaryOf(st ingest.Stats, name string, inserted, duplicates int64, start time.Time, runErr error) *ingestSummary {
	return &ingestSummary{
		Database: name, FilesLoaded: st.FilesLoaded, FilesSkipped: st.FilesSkipped, FilesFailed: st.FilesFailed,
		FilesDuplicate: st.FilesDuplicate, FilesUnchanged: st.FilesUnchanged, EventsRead: st.Events,
		EventsNew: inserted, EventsDuplicate: max(0, duplicates), Errors: st.Errors, Warnings: st.Warnings,
		BytesRead: st.Bytes, Seconds: time.Since(start).Seconds(), FailedFiles: st.Failed,
		Interrupted: errors.Is(runErr, ingest.ErrInterrupted),
	}
}

func printIngestSummary(io *streams, s ingestSummary, store *query.Store) {
	w := io.Err
	fmt.Fprintf(w, "files:  %d loaded, %d skipped, %d failed, %d duplicate content, %d unchanged since last run\n",
		s.FilesLoaded, s.FilesSkipped, s.FilesFailed, s.FilesDuplicate, s.FilesUnchanged)
	fmt.Fprintf(w, "events: %d read, %d new, %d already stored or delivered twice\n", s.EventsRead, s.EventsNew, s.EventsDuplicate)
	rate := 0.0
	if s.Seconds > 0 {
		rate = float64(s.EventsRead) / s.Seconds
	}
	fmt.Fprintf(w, "time:   %.1fs, %s read, %.0f events/s\n", s.Seconds, humanBytes(s.BytesRead), rate)
	if (s.Errors > 0 || s.Warnings > 0) && store != nil {
		fmt.Fprintf(w, "problems: %d errors, %d warnings; first ones:\n", s.Errors, s.Warnings)
		rows, err := store.DB.Query(`SELECT path, record_index, byte_offset, severity, message FROM ingest_errors
			WHERE file_id IN (SELECT file_id FROM files WHERE ingested_at >= now() - INTERVAL (? || ' seconds'))
			ORDER BY severity, path LIMIT 10`, fmt.Sprint(int(s.Seconds)+5))
		if err == nil {
			for rows.Next() {
				var p, sev, msg string
				var idx, off *int64
				if rows.Scan(&p, &idx, &off, &sev, &msg) == nil {
					fmt.Fprintf(w, "  %s: %s%s: %s\n", sev, reports.SafeText(p), where(idx, off), reports.SafeText(msg))
				}
			}
			rows.Close()
		}
		fmt.Fprintf(w, "  all of them: trailsift query %s \"select * from ingest_errors\"\n", storeFlag(store))
	}
	if store != nil && store.Parquet {
		fmt.Fprintf(w, "dataset: %s\n", s.Database)
	} else {
		fmt.Fprintf(w, "database: %s\n", s.Database)
	}
}

func where(idx, off *int64) string {
	var parts []string
	if idx != nil {
		parts = append(parts, fmt.Sprintf("record %d", *idx))
	}
	if off != nil {
		parts = append(parts, fmt.Sprintf("byte %d", *off))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
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
