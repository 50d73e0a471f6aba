package lake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trailsift/trailsift/query"
)

// ErrNoDataset is returned when a directory holds no trailsift dataset.
var ErrNoDataset = errors.New("no trailsift Parquet dataset")

// Open opens the dataset at dir for reading, as a store with the same
// tables and views as a DuckDB case database.
func Open(ctx context.Context, dir string) (*query.Store, error) {
	sources := tableSources(dir)
	if sources["event_rows"] == "" && sources["files"] == "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("%w at %s: run `trailsift ingest --parquet %s EVIDENCE...` first", ErrNoDataset, dir, dir)
		}
		return nil, fmt.Errorf("%w in %s (no account=*/region=*/date=* partitions and no %s/): run `trailsift ingest --parquet %s EVIDENCE...` first", ErrNoDataset, dir, FilesDir, dir)
	}
	s, err := query.OpenSources(ctx, dir, sources)
	if err != nil {
		return nil, err
	}
	s.Parquet = true
	return s, nil
}

// tableSources maps each stored table that has files in the dataset at dir
// (event_rows, files, ingest_errors) to a SELECT of its columns, in the
// store's order and types.
func tableSources(dir string) map[string]string {
	glob := func(g string) string {
		if m, _ := filepath.Glob(g); len(m) == 0 {
			return ""
		}
		return query.StringLiteral(g)
	}
	return sourcesOf(glob(EventsGlob(dir)), glob(filepath.Join(dir, FilesDir, "*.parquet")), glob(filepath.Join(dir, ErrorsDir, "*.parquet")))
}

// fileList is a DuckDB list of the files, for read_parquet; "" for none.
func fileList(files []string) string {
	if len(files) == 0 {
		return ""
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = query.StringLiteral(f)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// sourcesOf is tableSources for the Parquet files that events, files and
// errs name (each read_parquet's first argument: a glob or a list, "" for
// no files).
func sourcesOf(events, files, errs string) map[string]string {
	sources := map[string]string{}
	if events != "" {
		// The partition columns repeat account_id, aws_region and the day of
		// event_time; the tables keep the stored columns only. Partition
		// values are read as text, so account ids keep leading zeros.
		// raw carries Parquet's JSON logical type, which DuckDB reads as
		// JSON; the store's column is text.
		var cols []string
		for _, c := range query.StoredEventColumns() {
			if c.Name == "raw" {
				cols = append(cols, "raw::VARCHAR AS raw")
			} else {
				cols = append(cols, c.Name)
			}
		}
		sources["event_rows"] = fmt.Sprintf("SELECT %s FROM read_parquet(%s, hive_partitioning = true, union_by_name = true, hive_types = {'account': VARCHAR, 'region': VARCHAR, 'date': VARCHAR})",
			strings.Join(cols, ", "), events)
	}
	if files != "" {
		sources["files"] = fmt.Sprintf("SELECT %s FROM read_parquet(%s, union_by_name = true)",
			query.ColumnList(query.FileColumns), files)
	}
	if errs != "" {
		sources["ingest_errors"] = fmt.Sprintf("SELECT %s FROM read_parquet(%s, union_by_name = true)",
			query.ColumnList(query.ErrorColumns), errs)
	}
	return sources
}
