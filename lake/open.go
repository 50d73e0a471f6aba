package lake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trailsift/trailsift/query"
)

// ErrNoDataset is returned when a directory holds no trailsift dataset.
var ErrNoDataset = errors.New("no trailsift Parquet dataset")

// Open opens the dataset at dir for reading, as a store with the same
// tables and views as a DuckDB case database.
func Open(ctx context.Context, dir string) (*query.Store, error) {
	return openTables(ctx, dir, tableSources(dir))
}

// openTables is Open over the tables tableSources found in dir.
func openTables(ctx context.Context, dir string, t datasetTables) (*query.Store, error) {
	sources := t.sources
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
	s.Parquet, s.SessionsStale = true, t.staleSessions
	if len(t.parts) > 0 {
		s.EventsIn = t.eventsIn
	}
	return s, nil
}

// eventsIn selects the events view's columns from the parts whose day can
// hold events in [since, until), for query.Store.EventsIn: a window's rules
// then open only those files, not every file of every day for each scan
// (DuckDB sets up a reader for each file a scan names, which on a bucket's
// many small partitions was most of a detect run). A part outside a day
// folder (put there by hand) is kept; the folder of events without a time
// is not, as no window holds them.
func (t datasetTables) eventsIn(since, until time.Time) string {
	var keep []int
	for i, p := range t.parts {
		day, ok := partDay(p)
		if !ok {
			if filepath.Base(filepath.Dir(p)) != "date="+nullPartition {
				keep = append(keep, i)
			}
			continue
		}
		if (until.IsZero() || day.Before(until)) && (since.IsZero() || day.Add(24*time.Hour).After(since)) {
			keep = append(keep, i)
		}
	}
	switch len(keep) {
	case len(t.parts):
		return "" // every part: the events view itself
	case 0:
		return "SELECT * FROM main.events WHERE false"
	}
	parts := make([]string, len(keep))
	for k, i := range keep {
		parts[k] = t.parts[i]
	}
	return query.EventsOver("(" + eventsSQL(parts, t.schemas.pick(keep)) + ")")
}

// partDay is the day of the date=YYYY-MM-DD folder a part is in.
func partDay(part string) (time.Time, bool) {
	folder, ok := strings.CutPrefix(filepath.Base(filepath.Dir(part)), "date=")
	if !ok {
		return time.Time{}, false
	}
	day, err := time.Parse(time.DateOnly, folder)
	return day, err == nil
}

// tableSources maps each stored table that has files in the dataset at dir
// (event_rows, files, ingest_errors, sessions) to a SELECT of its columns, in the
// store's order and types, and says what the footers tell of them.
func tableSources(dir string) (t datasetTables) {
	sources := map[string]string{}
	t.sources = sources
	if parts, schemas := liveParts(EventsGlob(dir)); len(parts) > 0 {
		t.parts, t.schemas = parts, schemas
		sources["event_rows"] = eventsSQL(parts, t.schemas)
		sources["sessions"], t.staleSessions = sessionsSource(dir, parts)
	}
	if files, _ := liveParts(filepath.Join(dir, FilesDir, "*.parquet")); len(files) > 0 {
		sources["files"] = fmt.Sprintf("SELECT %s FROM read_parquet(%s, union_by_name = true)",
			query.ColumnList(query.FileColumns), fileList(files))
	}
	if files, _ := liveParts(filepath.Join(dir, ErrorsDir, "*.parquet")); len(files) > 0 {
		sources["ingest_errors"] = fmt.Sprintf("SELECT %s FROM read_parquet(%s, union_by_name = true)",
			query.ColumnList(query.ErrorColumns), fileList(files))
	}
	return t
}

// fileList is files as a DuckDB list of strings, for read_parquet.
func fileList(files []string) string {
	names := make([]string, len(files))
	for i, p := range files {
		names[i] = query.StringLiteral(p)
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// eventsSQL selects the event_rows columns of the event parts files, whose
// footers say schemas. The parts are named, not globbed, and their
// partition folders not read as columns (they repeat account_id,
// aws_region and the day of event_time, and the tables keep the stored
// columns only): every scan of the events did both again, and the rules
// scan them dozens of times (detect --parquet 7% faster on the bench
// corpus). raw carries Parquet's JSON logical type, which DuckDB reads as
// JSON; the store's column is text. A part written before
// issued_credential existed has it computed from raw.
func eventsSQL(files []string, schemas partSchemas) string {
	var cols []string
	for _, c := range query.StoredEventColumns() {
		switch c.Name {
		case "raw":
			cols = append(cols, "raw::VARCHAR AS raw")
		case "issued_credential":
			cols = append(cols, query.IssuedCredentialSQL(schemas.has(c.Name))+" AS issued_credential")
		default:
			cols = append(cols, c.Name)
		}
	}
	union := "union_by_name = true, "
	if schemas.same() {
		union = ""
	}
	return fmt.Sprintf("SELECT %s FROM read_parquet(%s, %shive_partitioning = false)",
		strings.Join(cols, ", "), fileList(files), union)
}

// datasetTables is what tableSources finds in a dataset.
type datasetTables struct {
	sources       map[string]string // table name -> a SELECT of its stored columns
	parts         []string          // the event parts, in path order
	schemas       partSchemas       // their footers
	staleSessions bool              // the sessions parts lag the events (see sessionsSource)
}
