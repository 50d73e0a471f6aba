package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type queryOptions struct {
	source storeSource
	file   string
	format string
	out    string
}

func (o *queryOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.StringVarP(&o.file, "file", "f", "", "read the SQL from this file")
	f.StringVar(&o.format, "format", "table", "table, csv, json, jsonl or parquet (parquet needs --out)")
	f.StringVarP(&o.out, "out", "o", "", "write the result to this file (written atomically) instead of stdout")
}

func newQueryCommand(io *streams) *cobra.Command {
	o := &queryOptions{}
	cmd := &cobra.Command{
		Use:   "query [flags] [SQL]",
		Short: "Run your own read-only SQL over a case database",
		Long: `Run your own read-only SQL over a case database.

The database is opened read-only: statements that would change it (INSERT,
DELETE, DROP, COPY, ATTACH, ...) are refused. Write results out with --format
and --out instead. Results stream, however large. See ` + "`trailsift schema`" + ` for
the tables (events, files, ingest_errors) and views (signins,
mfa_device_changes, root_activity). Times are UTC.` + "\n" + exitStatusHelp,
		Example: `  trailsift query --db case.duckdb "select actor, count(*) from signins where result='Failure' group by 1"
  trailsift query --db case.duckdb -f hunt.sql --format csv > out.csv
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
			if (len(args) == 1) == (o.file != "") {
				return &usageError{"give the SQL either as an argument or with -f FILE"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuery(cmd, o, args, io)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runQuery(cmd *cobra.Command, o *queryOptions, args []string, io *streams) error {
	sqlText := ""
	if len(args) == 1 {
		sqlText = args[0]
	} else {
		b, err := os.ReadFile(o.file)
		if err != nil {
			return &usageError{fmt.Sprintf("read SQL: %v", err)}
		}
		sqlText = string(b)
	}
	ctx := cmd.Context()
	store, err := o.source.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if o.format == "parquet" {
		return writeAtomically(o.out, func(tmp string) error {
			return withHint(query.CopyToParquet(ctx, store.DB, sqlText, tmp))
		})
	}
	rows, err := query.Query(ctx, store.DB, sqlText)
	if err != nil {
		return withHint(err)
	}
	defer rows.Close()
	opts := reports.ResultOptions{Format: o.format}
	if o.out != "" {
		return writeAtomically(o.out, func(tmp string) error {
			f, err := os.Create(tmp)
			if err != nil {
				return err
			}
			if _, err := reports.WriteRows(f, rows, opts); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		})
	}
	if f, ok := io.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			opts.MaxWidth = w
		}
	}
	_, err = reports.WriteRows(io.Out, rows, opts)
	return withHint(err)
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

// writeAtomically writes to a temporary file beside path, then renames it,
// so a reader never sees half a file.
func writeAtomically(path string, write func(tmp string) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	tmp.Close()
	os.Remove(name) // DuckDB's COPY wants to create the file itself
	defer os.Remove(name)
	if err := write(name); err != nil {
		return err
	}
	return os.Rename(name, path)
}
