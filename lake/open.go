package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trailsift/trailsift/query"
)

// ErrNoDataset is returned when a directory holds no trailsift dataset.
var ErrNoDataset = errors.New("no trailsift Parquet dataset")

// Open opens the dataset at dir for reading, as a store with the same
// tables and views as a DuckDB case database.
func Open(ctx context.Context, dir string) (*query.Store, error) {
	return openTables(ctx, dir, tableSources(dir), query.OpenSources)
}

// openSources opens a store over a dataset's tables: query.OpenSources, or
// its variant for a build (query.OpenSourcesToBuild).
type openSources func(ctx context.Context, name string, sources map[string]string) (*query.Store, error)

// openTables is Open over the tables tableSources found in dir, opened
// with open.
func openTables(ctx context.Context, dir string, t datasetTables, open openSources) (*query.Store, error) {
	sources := t.sources
	if sources["event_rows"] == "" && sources["files"] == "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("%w at %s: run `trailsift ingest --parquet %s EVIDENCE...` first", ErrNoDataset, dir, dir)
		}
		return nil, fmt.Errorf("%w in %s (no account=*/region=*/date=* partitions and no %s/): run `trailsift ingest --parquet %s EVIDENCE...` first", ErrNoDataset, dir, FilesDir, dir)
	}
	s, err := open(ctx, dir, sources)
	if err != nil {
		return nil, err
	}
	s.Parquet, s.SessionsStale = true, t.staleSessions
	if len(t.parts) > 0 {
		s.EventsIn, s.EventsHolding = t.eventsIn, t.eventsHolding
	}
	if t.typed != "" {
		s.TypedEvents = query.TypedEvents(t.typed)
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
	return t.eventsOf(t.window(since, until))
}

// window is the indexes of the parts that can hold events in [since,
// until) (see eventsIn): every part when neither is set, the events
// without a time too.
func (t datasetTables) window(since, until time.Time) []int {
	var keep []int
	if since.IsZero() && until.IsZero() {
		for i := range t.parts {
			keep = append(keep, i)
		}
		return keep
	}
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
	return keep
}

// eventsOf selects the events view's columns from the parts at keep: ""
// when that is every part (the events view itself).
func (t datasetTables) eventsOf(keep []int) string {
	switch len(keep) {
	case len(t.parts):
		return ""
	case 0:
		return "SELECT * FROM main.events WHERE false"
	}
	parts := make([]string, len(keep))
	for k, i := range keep {
		parts[k] = t.parts[i]
	}
	return query.EventsOver("(" + eventsSQL(parts, t.schemas.pick(keep)) + ")")
}

// eventsHolding selects, for each of conds (on the stored columns), the
// events view's columns from only the parts of [since, until) holding an
// event the condition is true of, for query.Store.EventsHolding. A part's
// footer says so when its writer tested the condition (holdsKey); one scan
// reads the conditions' columns of the window's other parts. DuckDB opens
// only the parts that matter for the rest.
func (t datasetTables) eventsHolding(ctx context.Context, conn *sql.Conn, since, until time.Time, conds []string) ([]string, error) {
	window := t.window(since, until)
	out := make([]string, len(conds))
	if len(window) == 0 {
		return out, nil // the window reads no part already
	}
	holding := make([][]int, len(conds))
	var unknown []int // the parts whose footers do not say for every condition
	for _, i := range window {
		var said map[string]bool
		if t.schemas.footers != nil {
			said = t.schemas.footers[i].holds
		}
		known := true
		for _, c := range conds {
			_, ok := said[holdsKey(c)]
			known = known && ok
		}
		if !known {
			unknown = append(unknown, i)
			continue
		}
		for k, c := range conds {
			if said[holdsKey(c)] {
				holding[k] = append(holding[k], i)
			}
		}
	}
	if err := t.scanHolding(ctx, conn, unknown, conds, holding); err != nil {
		return nil, err
	}
	for k, keep := range holding {
		if len(keep) == len(window) {
			continue // every part of the window: what the window reads
		}
		slices.Sort(keep)
		out[k] = t.eventsOf(keep) // fewer parts than the window: never "" (every part)
	}
	return out, nil
}

// scanHolding adds to holding[k] each of the parts (indexes into t.parts)
// that holds an event conds[k] is true of, in one scan of their
// conditions' columns.
func (t datasetTables) scanHolding(ctx context.Context, conn *sql.Conn, parts []int, conds []string, holding [][]int) error {
	if len(parts) == 0 {
		return nil
	}
	at := make(map[string]int, len(parts)) // part -> its index
	files := make([]string, len(parts))
	for k, i := range parts {
		at[t.parts[i]], files[k] = i, t.parts[i]
	}
	either := make([]string, len(conds))
	which := make([]string, len(conds))
	for k, c := range conds {
		either[k] = "(" + c + ")"
		which[k] = "bool_or(coalesce((" + c + "), false))"
	}
	q := fmt.Sprintf("SELECT filename, %s FROM %s WHERE %s GROUP BY filename",
		strings.Join(which, ", "), readParts(files, t.schemas.pick(parts), "filename = true"), strings.Join(either, " OR "))
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]any, 1+len(conds))
	var name string
	flags := make([]bool, len(conds))
	dest[0] = &name
	for k := range flags {
		dest[1+k] = &flags[k]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		i, ok := at[name]
		if !ok {
			return fmt.Errorf("DuckDB named a file not asked for: %q", name)
		}
		for k, f := range flags {
			if f {
				holding[k] = append(holding[k], i)
			}
		}
	}
	return rows.Err()
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
	cache := loadFooterCache(dir)
	if parts, schemas := liveParts(EventsGlob(dir), cache); len(parts) > 0 {
		t.parts, t.schemas = parts, schemas
		sources["event_rows"] = eventsSQL(parts, t.schemas)
		sources["sessions"], t.staleSessions = sessionsSource(dir, parts)
		if typed, typedSchemas := typedCovering(dir, parts, schemas, cache); len(typed) > 0 {
			t.typed = typedSQL(typed, typedSchemas)
		}
	}
	if files, _ := liveParts(filepath.Join(dir, FilesDir, "*.parquet"), cache); len(files) > 0 {
		sources["files"] = fmt.Sprintf("SELECT %s FROM read_parquet(%s, union_by_name = true)",
			query.ColumnList(query.FileColumns), fileList(files))
	}
	if files, _ := liveParts(filepath.Join(dir, ErrorsDir, "*.parquet"), cache); len(files) > 0 {
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
	return fmt.Sprintf("SELECT %s FROM %s", strings.Join(cols, ", "), readParts(files, schemas, ""))
}

// readParts is read_parquet of the event parts files, whose footers say
// schemas, with options (DuckDB's, comma-separated) besides: their
// partition folders are not read as columns (see eventsSQL), and their
// schemas are unified by name only when they differ (see
// partSchemas.same).
func readParts(files []string, schemas partSchemas, options string) string {
	if options != "" {
		options += ", "
	}
	if !schemas.same() {
		options += "union_by_name = true, "
	}
	return fmt.Sprintf("read_parquet(%s, %shive_partitioning = false)", fileList(files), options)
}

// datasetTables is what tableSources finds in a dataset.
type datasetTables struct {
	sources       map[string]string // table name -> a SELECT of its stored columns
	parts         []string          // the event parts, in path order
	schemas       partSchemas       // their footers
	staleSessions bool              // the sessions parts lag the events (see sessionsSource)
	typed         string            // the event_rows columns from the typed files (typedSQL); "" when they do not cover the parts
}
