package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/trailsift/trailsift/query"
)

// The typed copy. DuckDB's cost is per file a scan opens (a bucket's
// 1,443 parts, one per account, region and day: half a second a scan,
// whatever the scan reads), and the rules and the sessions build scan the
// events again and again. So a run into many partitions (see
// typedFromPartitions) also writes, with each commit, its events' columns
// but raw into one file of TypedDir, which Compact merges like the
// manifest's, and a reader whose typed files hold exactly the rows of the
// live parts (typedCovering) reads them instead where it can: the sessions
// build always (raw is kept for the events it reads raw of, typedRaw),
// a rule unless it reads raw (query.TypedEvents). Like _files, a leading
// underscore keeps Hive, Spark and Athena from reading it as events.
const TypedDir = "_typed"

// typedCoversKey names, in a typed file's footer, the parts whose rows it
// holds, and how many of each: a JSON object of part path (relative to
// the dataset, slash-separated) to row count.
const typedCoversKey = "trailsift.typed_covers"

// typedRaw is the tag of raw in a typed file (manifestWriters.
// typedWriter): kept only
// for the events the sessions build reads it of (query.ConsoleRaw), NULL
// (an empty string, optional) otherwise, as plain text (no JSON type: an
// empty value would fail a reader's JSON check; nothing reads it but the
// build, for those events). The other columns are eventRow's.
var typedRaw = parquet.StructTag(`parquet:"raw,optional,plain"`, "Raw")

// typedRows are the rows of a commit's typed file: the rows of all at the
// indexes of each part (by its path relative to the dataset), and what
// its footer says it covers.
func typedRows(all []eventRow, parts map[string][]int32) ([]eventRow, string, error) {
	var rows []eventRow
	covers := map[string]int64{}
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		for _, i := range parts[p] {
			r := all[i]
			if !query.ConsoleRaw(r.UserType, r.AccessKeyID) {
				r.Raw = ""
			}
			rows = append(rows, r)
		}
		covers[filepath.ToSlash(p)] = int64(len(parts[p]))
	}
	b, err := json.Marshal(covers)
	return rows, string(b), err
}

// footerCovers is what a typed file's footer says it covers (nil for any
// other file).
func footerCovers(md *format.FileMetaData) map[string]int64 {
	for _, kv := range md.KeyValueMetadata {
		if kv.Key == typedCoversKey {
			var covers map[string]int64
			if json.Unmarshal([]byte(kv.Value), &covers) != nil {
				return map[string]int64{} // unreadable: covers nothing, so no reader trusts it
			}
			return covers
		}
	}
	return nil
}

// mergedCovers is the typedCoversKey entry of a file merged from typed
// files whose footers say covers: every part each covers.
func mergedCovers(covers []map[string]int64) ([]format.KeyValue, error) {
	if covers[0] == nil {
		return nil, nil // not typed files
	}
	all := map[string]int64{}
	for _, c := range covers {
		for p, n := range c {
			all[p] += n
		}
	}
	b, err := json.Marshal(all)
	return []format.KeyValue{{Key: typedCoversKey, Value: string(b)}}, err
}

// typedCovering returns the live typed files of the dataset at dir (and
// their footers, from cache where it has them) when, together, they hold
// the rows of its live parts (as tableSources lists them, with their
// footers) and no other (see typedCoverage). Otherwise (a dataset written
// before typed files, parts removed or copied in by hand, footers that
// cannot be read) nil: readers read the parts. Typed files are used only
// when they are no more than the parts.
func typedCovering(dir string, parts []string, schemas partSchemas, cache *footerCache) ([]string, partSchemas) {
	typed, typedSchemas := liveParts(filepath.Join(dir, TypedDir, "*.parquet"), cache)
	if len(typed) == 0 || len(typed) > len(parts) {
		return nil, partSchemas{}
	}
	if uncovered, ok := typedCoverage(dir, parts, schemas, typedSchemas); !ok || len(uncovered) > 0 {
		return nil, partSchemas{}
	}
	return typed, typedSchemas
}

// typedCoverage says which of the live parts (indexes) the typed files,
// whose footers are typedSchemas, hold no row of, and whether they hold
// the rows of the others and no other (ok): each part they name is live
// or merged into a live one (see partSchemas.live), and each live part of
// which they hold rows has as many as they say.
func typedCoverage(dir string, parts []string, schemas, typedSchemas partSchemas) (uncovered []int, ok bool) {
	if schemas.footers == nil || typedSchemas.footers == nil {
		return nil, false
	}
	live := map[string]string{} // part path, or the path of one merged into it -> the live part
	for i, p := range parts {
		live[relPath(dir, p)] = relPath(dir, p)
		for _, name := range schemas.footers[i].merged {
			live[relPath(dir, filepath.Join(filepath.Dir(p), name))] = relPath(dir, p)
		}
	}
	held := map[string]int64{} // live part -> rows the typed files hold of it
	for _, f := range typedSchemas.footers {
		if f.covers == nil {
			return nil, false
		}
		var sum int64
		for p, n := range f.covers {
			l, ok := live[p]
			if !ok {
				return nil, false
			}
			held[l] += n
			sum += n
		}
		if sum != f.rows {
			return nil, false
		}
	}
	for i, p := range parts {
		switch held[relPath(dir, p)] {
		case schemas.footers[i].rows:
		case 0:
			uncovered = append(uncovered, i)
		default:
			return nil, false
		}
	}
	return uncovered, true
}

// relPath is p relative to the dataset at dir, slash-separated: how a
// typed file's footer names a part.
func relPath(dir, p string) string {
	r, err := filepath.Rel(dir, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// backfillTyped writes, as one commit, a typed file of the live parts no
// typed file covers, when the run writes typed files (w.typed) and the
// others cover the rest: parts written before there were typed files (by
// an older trailsift, or by runs of few partitions). Then the typed files
// cover the dataset again, and are read. DuckDB reads those parts (a
// bucket's 1,440: seconds, once). It is for the end of a run, after
// Flush: no commit may be in flight.
func (w *Writer) backfillTyped(ctx context.Context) error {
	if !w.typed {
		return nil
	}
	if err := w.wait(); err != nil {
		return err
	}
	t := tableSources(w.dir)
	_, typedSchemas := liveParts(filepath.Join(w.dir, TypedDir, "*.parquet"), nil)
	uncovered, ok := typedCoverage(w.dir, t.parts, t.schemas, typedSchemas)
	if !ok || len(uncovered) == 0 {
		return nil
	}
	files := make([]string, len(uncovered))
	covers := map[string]int64{}
	for k, i := range uncovered {
		files[k] = t.parts[i]
		covers[relPath(w.dir, t.parts[i])] = t.schemas.footers[i].rows
	}
	// The parts' event_rows, but raw where the sessions build reads it.
	rows := "SELECT * REPLACE (CASE WHEN " + query.ConsoleRawSQL + " THEN raw END AS raw) FROM (" +
		eventsSQL(files, t.schemas.pick(uncovered)) + ")"
	b, err := json.Marshal(covers)
	if err != nil {
		return err
	}
	id := w.nextCommitID()
	m := move{stagedName(id, "typed.parquet"), filepath.Join(TypedDir, partName(id))}
	staged := filepath.Join(w.dir, m.From)
	if err := os.MkdirAll(filepath.Dir(staged), 0o755); err != nil {
		return err
	}
	q := fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd, KV_METADATA {%s: %s})",
		rows, query.StringLiteral(staged), query.StringLiteral(typedCoversKey), query.StringLiteral(string(b)))
	if _, err := w.reader.DB.ExecContext(ctx, q); err != nil {
		_ = os.RemoveAll(filepath.Join(w.dir, stagingDir, id)) // the error below is the one to report
		return fmt.Errorf("the typed file of %d parts: %w", len(files), err)
	}
	if err := syncPath(staged); err != nil {
		return err
	}
	if err := syncPath(filepath.Dir(staged)); err != nil {
		return err
	}
	if err := writeCommitFile(w.dir, id, []move{m}); err != nil {
		return err
	}
	return w.rollForward(id, []move{m})
}

// typedSQL selects the event_rows columns from the typed files, whose
// footers say schemas: raw is NULL but for the events the sessions build
// reads it of (see typedRaw).
func typedSQL(files []string, schemas partSchemas) string {
	return fmt.Sprintf("SELECT %s FROM %s", query.ColumnList(query.StoredEventColumns()), readParts(files, schemas, ""))
}
