package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
)

type exportOptions struct {
	db      string
	parquet string
	json    bool
	quiet   bool
}

func (o *exportOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.db, "db", "trailsift.duckdb", "DuckDB database `FILE` to export (opened read-only)")
	f.StringVar(&o.parquet, "parquet", "", "Parquet dataset `DIR` to write (created, or added to)")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON on stdout")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no summary on stderr")
}

func newExportCommand(ios *streams) *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export --db DB --parquet DIR",
		Short: "Write a case database as a Parquet dataset for Spark, Trino and Athena",
		Long: `Write the events, files and ingest_errors of a DuckDB case database as a Parquet
dataset: hive partitions account=<id>/region=<r>/date=<YYYY-MM-DD>/ with zstd
compression, the same columns as the database, and _files/, _ingest_errors/ and
_sessions/ beside them. Every trailsift read command takes --parquet DIR to use it, and
docs/parquet.md has the DDL for Athena, Trino and Spark.

Exporting into a dataset that already holds some of the events adds only the
rest; an interrupted export is finished by running it again.` + "\n" + exitHelp("export"),
		Example: `  trailsift export --db case.duckdb --parquet ./lake/
  trailsift detect --parquet ./lake/`,
		Args: positionalArgs(cobra.NoArgs),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if o.parquet == "" {
				return &usageError{"--parquet DIR is required: the dataset to write"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd, o, ios)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runExport(cmd *cobra.Command, o *exportOptions, ios *streams) (err error) {
	ctx := cmd.Context()
	start := time.Now()
	src, err := query.OpenToStream(ctx, o.db)
	if errors.Is(err, query.ErrNoStore) {
		return &usageError{err.Error()}
	}
	if err != nil {
		return err
	}
	defer src.Close()
	w, err := lake.NewWriter(ctx, o.parquet)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, w.Close()) }()
	m, err := w.Manifest()
	if err != nil {
		return err
	}
	st, err := lake.Export(ctx, src, w, m)
	if errors.Is(err, ingest.ErrInterrupted) {
		// Keep what is written: the next run adds the rest.
		if ferr := w.Flush(); ferr != nil {
			return ferr
		}
	}
	if err != nil {
		return err
	}
	// The parts merged and the sessions stored, as ingest --parquet ends.
	// The store is read by the build: its DuckDB lets go of the blocks it
	// cached (up to its memory limit) before the build's DuckDB needs as
	// much (EndRun hands the writer's buffers back to the OS then too; the
	// 1.25M-event bench store: peak 1.40 -> 1.1 GB).
	end, err := lake.EndRun(ctx, w, true, func(s lake.Step) {
		if s == lake.StepSessions {
			_ = src.Close() // read-only: nothing of it is lost
		}
		if ios.errIsTerm && !o.quiet {
			fmt.Fprintf(ios.Err, "%s ...\n", s)
		}
	})
	for _, warning := range end.Warnings {
		fmt.Fprintf(ios.Err, "trailsift: warning: %s: %s\n", warning.Step, warning.Message)
	}
	if end.Interrupted {
		return errors.Join(err, ingest.ErrInterrupted)
	}
	if err != nil {
		return err
	}
	sum := struct {
		Dataset    string  `json:"dataset"`
		Files      int64   `json:"files"`
		EventsRead int64   `json:"events_read"`
		EventsNew  int64   `json:"events_new"`
		Seconds    float64 `json:"seconds"`
	}{o.parquet, st.Files, st.Events, w.Inserted(), time.Since(start).Seconds()}
	if o.json {
		if err := writeJSONSummary(ios.Out, sum); err != nil {
			return err
		}
	}
	if !o.quiet {
		fmt.Fprintf(ios.Err, "exported %d events (%d new) and %d file records to %s in %.1fs\n",
			sum.EventsRead, sum.EventsNew, sum.Files, sum.Dataset, sum.Seconds)
	}
	return nil
}
