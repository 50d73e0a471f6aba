package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type queryOptions struct {
	source storeSource
	sql    string
	file   string
	format string
	out    string
	force  bool
	// replacing is set when --out names a file that --force lets us replace.
	replacing bool
}

func (o *queryOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.StringVarP(&o.sql, "sql", "e", "", "the `SQL` to run (instead of the argument)")
	f.StringVarP(&o.file, "file", "f", "", "read the SQL from `FILE` (- for standard input)")
	f.StringVar(&o.format, "format", "table", "output `FORMAT`: table, csv, json, jsonl or parquet (parquet needs --out)")
	f.StringVarP(&o.out, "out", "o", "", "write the result to `FILE` (written atomically; an existing FILE only with --force) instead of stdout")
	f.BoolVar(&o.force, "force", false, "replace the --out file if it exists")
}

func newQueryCommand(ios *streams) *cobra.Command {
	o := &queryOptions{}
	cmd := &cobra.Command{
		Use:   "query [flags] [SQL | -]",
		Short: "Run your own read-only SQL over a case database",
		Long: `Run your own read-only SQL over a case database.

The database is opened read-only: statements that would change it (INSERT,
DELETE, DROP, COPY, ATTACH, ...) are refused. Write results out with --format
and --out instead. Results stream, however large. See ` + "`trailsift schema`" + ` for
the tables and views: events, files, ingest_errors, findings, signins,
mfa_device_changes, root_activity, and the credential lineage in sessions and
event_sessions. Times are UTC.

Give the SQL as the argument, with --sql (-e), from a file with --file (-f),
or on standard input with - (or -f -). SQL that starts with a -- comment
works as the argument too; everything after a lone -- is the SQL, never a
flag. SQL DuckDB cannot read gets DuckDB's own message (exit 2). EXPLAIN
[ANALYZE] of a query is allowed. Nothing reaches the network: remote URLs
(https://, s3://) and DuckDB extensions are refused.` + "\n" + exitHelp("query"),
		Example: `  trailsift query --db case.duckdb "select actor, count(*) from signins where result='Failure' group by 1"
  trailsift query --db case.duckdb -f hunt.sql --format csv > out.csv
  trailsift query --db case.duckdb - < hunt.sql
  trailsift query --db case.duckdb -e "explain select * from signins"
  trailsift query --db case.duckdb -- "-- failed sign-ins
select * from signins where result = 'Failure'"
  trailsift query --db case.duckdb "select * from events where source_ip = '203.0.113.7'" --format parquet --out result.parquet`,
		Args: positionalArgs(cobra.MaximumNArgs(1)),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			switch o.format {
			case reports.FormatTable, reports.FormatCSV, reports.FormatJSON, reports.FormatJSONL:
			case "parquet":
				if o.out == "" {
					return &usageError{"--format parquet needs --out FILE"}
				}
			default:
				return &usageError{fmt.Sprintf("unknown --format %q: use table, csv, json, jsonl or parquet", o.format)}
			}
			given := 0
			for _, set := range []bool{len(args) == 1, o.sql != "", o.file != ""} {
				if set {
					given++
				}
			}
			if given != 1 {
				return &usageError{"give the SQL once: as the argument, with --sql, with --file FILE, or - for standard input"}
			}
			var err error
			o.replacing, err = checkReplace("--out", o.out, o.force)
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuery(cmd, o, args, ios)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runQuery(cmd *cobra.Command, o *queryOptions, args []string, ios *streams) error {
	sqlText, err := readSQL(o, args, ios)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	store, err := o.source.open(ctx, ios.Err)
	if err != nil {
		return err
	}
	defer store.Close()
	if o.out != "" {
		if err := writeQueryFile(ctx, store.DB, sqlText, o); err != nil {
			return err
		}
		if o.replacing {
			fmt.Fprintf(ios.Err, "replaced %s\n", reports.SafeText(o.out))
		}
		return nil
	}
	rows, err := query.Query(ctx, store.DB, sqlText)
	if err != nil {
		return withHint(err)
	}
	defer rows.Close()
	_, err = reports.WriteRows(ios.Out, rows, reports.ResultOptions{Format: o.format, MaxWidth: ios.outWidth})
	return withHint(err)
}

// writeQueryFile writes the result to --out atomically: a failed query
// leaves what was there.
func writeQueryFile(ctx context.Context, db *sql.DB, sqlText string, o *queryOptions) error {
	if o.format == "parquet" {
		return reports.WriteAtomically(o.out, func(tmp string) error {
			return withHint(query.CopyToParquet(ctx, db, sqlText, tmp))
		})
	}
	rows, err := query.Query(ctx, db, sqlText)
	if err != nil {
		return withHint(err)
	}
	defer rows.Close()
	return reports.WriteAtomically(o.out, func(tmp string) error {
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		if _, err := reports.WriteRows(f, rows, reports.ResultOptions{Format: o.format}); err != nil {
			f.Close()
			return withHint(err)
		}
		return f.Close()
	})
}

// withHint adds the hint of a SQL error to its message.
func withHint(err error) error {
	if err == nil {
		return nil
	}
	var se *query.SQLError
	if errors.As(err, &se) && se.Hint != "" {
		return fmt.Errorf("%w\nhint: %s", err, se.Hint)
	}
	return err
}

// maxSQLSize bounds SQL read from a file or standard input.
const maxSQLSize = 16 << 20

// readSQL returns the SQL of the command line: the argument, --sql, --file
// or standard input (- as the argument or the file).
func readSQL(o *queryOptions, args []string, ios *streams) (string, error) {
	var r io.Reader
	name := o.file
	switch {
	case o.sql != "":
		return o.sql, nil
	case len(args) == 1 && args[0] != "-":
		return args[0], nil
	case len(args) == 1 || o.file == "-":
		r, name = ios.In, "standard input"
	default:
		f, err := os.Open(o.file)
		if err != nil {
			return "", &usageError{fmt.Sprintf("read SQL: %v", err)}
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSQLSize+1))
	if err != nil {
		return "", fmt.Errorf("read SQL from %s: %w", name, err)
	}
	if len(b) > maxSQLSize {
		return "", &usageError{fmt.Sprintf("the SQL in %s is over %d MiB", name, maxSQLSize>>20)}
	}
	return string(b), nil
}
