package lake

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/trailsift/trailsift/query"
)

// partSchemas is what the footers of a dataset's event parts say, one
// footer per part, in order, each read once: the events view, the staging
// load's check of raw and its slices all read them from here.
type partSchemas struct {
	// footers is nil when a footer could not be read: the events view then
	// keeps union_by_name and reads issued_credential where it is, and a
	// staging is checked and loaded in one slice (the load reports why).
	footers []partFooter
}

// partFooter is what one part's footer says.
type partFooter struct {
	schema       string   // the whole schema, printed, to compare parts
	columns      []string // top-level columns
	rawChecked   bool     // its writer checked every raw (rawCheckedKey)
	rows         int64
	merged       []string // the parts merged into it (mergedKey), by file name
	pathsMissing bool     // see footerPathsMissing
	// holds maps each holdsKey the footer has to its value: whether the
	// part holds an event its condition is true of.
	holds map[string]bool
	// covers, in a typed file's footer, the parts it holds the rows of,
	// and how many (typedCoversKey); nil in any other file.
	covers map[string]int64
}

// readPartSchemas reads the footers of files, on every core: every command
// that opens a dataset starts here (95 parts of the bench corpus took 11
// ms on one goroutine, a bucket's thousands a second). A footer cache's
// entry (see FooterCacheFile) stands for its file's footer; cache may be
// nil.
func readPartSchemas(files []string, cache *footerCache) partSchemas {
	footers := make([]partFooter, len(files))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, name := range files {
		if f, ok := cache.lookup(name); ok {
			footers[i] = f
			continue
		}
		g.Go(func() error {
			if f, ok := footersRead.lookup(name); ok {
				footers[i] = f
				return nil
			}
			return withParquet(name, false, func(file *os.File, pf *parquet.File) error {
				schema := pf.Schema()
				v, _ := pf.Lookup(rawCheckedKey)
				footers[i] = partFooter{schema: schema.String(), rawChecked: v == "true", rows: pf.NumRows(),
					merged: mergedParts(pf.Metadata()), pathsMissing: footerPathsMissing(pf.Metadata()),
					holds: footerHolds(pf.Metadata()), covers: footerCovers(pf.Metadata())}
				for _, f := range schema.Fields() {
					footers[i].columns = append(footers[i].columns, f.Name())
				}
				footersRead.store(name, file, &footers[i])
				return nil
			})
		})
	}
	if g.Wait() != nil {
		return partSchemas{}
	}
	return partSchemas{footers: footers}
}

// footerMemo is the footers this process has read, by file, with the
// size and modification time the open file had (as the footer cache file
// keeps them, and for the same reason: a committed file never changes).
// The end of a run reads the footers of the dataset three times (the
// merge, the sessions build, the footer cache), and before there is a
// cache file each time from the files: on a bucket's 1,443 parts the
// run's footer reading fell from 1.8 to 0.4 CPU-s with the memo.
// Footers share their schema's text and columns, so an entry is small.
type footerMemo struct {
	mu      sync.Mutex
	files   map[string]memoFooter
	schemas map[string]partFooter // by schema text: the schema and columns shared
}

type memoFooter struct {
	size, mtime int64
	footer      partFooter
}

var footersRead footerMemo

// lookup is the footer read of the file at path, if it is as it was.
func (m *footerMemo) lookup(path string) (partFooter, bool) {
	m.mu.Lock()
	e, ok := m.files[path]
	m.mu.Unlock()
	if !ok || !unchanged(path, e.size, e.mtime) {
		return partFooter{}, false
	}
	return e.footer, true
}

// store remembers f, read from the open file at path; f's schema and
// columns become the ones shared by every footer of that schema.
func (m *footerMemo) store(path string, file *os.File, f *partFooter) {
	st, err := file.Stat()
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files, m.schemas = map[string]memoFooter{}, map[string]partFooter{}
	}
	if shared, ok := m.schemas[f.schema]; ok {
		f.schema, f.columns = shared.schema, shared.columns
	} else {
		m.schemas[f.schema] = partFooter{schema: f.schema, columns: f.columns}
	}
	m.files[path] = memoFooter{st.Size(), st.ModTime().UnixNano(), *f}
}

// live is the indexes of the parts (files, with these footers) that no
// merged file in their directory lists as merged into it: a part a merge
// replaced is read from the merged file only, whether the merge is not
// finished yet (the merged file comes before the parts go) or the part
// was copied back in (a worker's dataset copied into a union again). When
// the footers could not be read, every part is live.
func (ps partSchemas) live(parts []string) []int {
	superseded := map[string]bool{}
	for i, f := range ps.footers {
		for _, name := range f.merged {
			if name != filepath.Base(parts[i]) {
				superseded[filepath.Join(filepath.Dir(parts[i]), name)] = true
			}
		}
	}
	var keep []int
	for i, p := range parts {
		if !superseded[p] {
			keep = append(keep, i)
		}
	}
	return keep
}

// liveParts lists the Parquet files matching glob that are live (see
// partSchemas.live), with their footers (cache may be nil).
func liveParts(glob string, cache *footerCache) ([]string, partSchemas) {
	parts, _ := filepath.Glob(glob)
	if len(parts) == 0 {
		return nil, partSchemas{}
	}
	schemas := readPartSchemas(parts, cache)
	keep := schemas.live(parts)
	live := make([]string, len(keep))
	for k, i := range keep {
		live[k] = parts[i]
	}
	return live, schemas.pick(keep)
}

// part is the footers of parts i to j-1.
func (ps partSchemas) part(i, j int) partSchemas {
	if ps.footers == nil {
		return ps
	}
	return partSchemas{footers: ps.footers[i:j]}
}

// pick is the footers of the parts at idx.
func (ps partSchemas) pick(idx []int) partSchemas {
	if ps.footers == nil {
		return ps
	}
	footers := make([]partFooter, len(idx))
	for k, i := range idx {
		footers[k] = ps.footers[i]
	}
	return partSchemas{footers: footers}
}

// same says every part has the same schema. The events view then reads
// them without DuckDB's union_by_name, which unifies the schemas of every
// file again for each scan: a seventh of detect --parquet on the bench
// corpus. A dataset written by several trailsift versions, or a file that
// cannot be read here, keeps union_by_name.
func (ps partSchemas) same() bool {
	for _, f := range ps.footers {
		if f.schema != ps.footers[0].schema {
			return false
		}
	}
	return len(ps.footers) > 0
}

// has says in how many parts column is: "all", "some" or "none". When the
// footers could not be read it says "some", which reads the column where
// it is and fills it in where it is not.
func (ps partSchemas) has(column string) string {
	n := 0
	for _, f := range ps.footers {
		if slices.Contains(f.columns, column) {
			n++
		}
	}
	switch {
	case len(ps.footers) == 0:
		return "some"
	case n == len(ps.footers):
		return "all"
	case n == 0:
		return "none"
	}
	return "some"
}

// rawChecked says every part's writer checked its raw (rawCheckedKey).
func (ps partSchemas) rawChecked() bool {
	for _, f := range ps.footers {
		if !f.rawChecked {
			return false
		}
	}
	return len(ps.footers) > 0
}

// withParquet opens the Parquet file name and hands use the open file and
// its footer (and page index, when pageIndex); the file is closed after.
func withParquet(name string, pageIndex bool, use func(*os.File, *parquet.File) error) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(!pageIndex), parquet.SkipBloomFilters(true))
	if err != nil {
		return err
	}
	return use(f, pf)
}

// holdsKeyPrefix begins the footer keys that say whether a part holds an
// event a shared relation reads (query.HoldsTests): "true" or "false"
// under holdsKey(cond). A detect run then reads only the parts holding
// the sign-ins or credential changes it stages (datasetTables.
// eventsHolding) without a scan of every part for them (on a bucket's
// 1,443 parts half a second). The key is the condition's digest: a part
// written for another condition (an older or newer trailsift) has not its
// key and is scanned.
const holdsKeyPrefix = "trailsift.holds."

func holdsKey(cond string) string {
	sum := sha256.Sum256([]byte(cond))
	return holdsKeyPrefix + hex.EncodeToString(sum[:8])
}

// partHolds says, under each condition's holdsKey, whether rows hold an
// event the condition is true of.
func partHolds(rows []eventRow) map[string]bool {
	out := map[string]bool{}
	for _, t := range query.HoldsTests() {
		found := false
		for i := range rows {
			if found = t.Test(rows[i].EventName, rows[i].AuthWorkflowID); found {
				break
			}
		}
		out[holdsKey(t.Cond)] = found
	}
	return out
}

// footerHolds is the holdsKey values a footer records.
func footerHolds(md *format.FileMetaData) map[string]bool {
	var out map[string]bool
	for _, kv := range md.KeyValueMetadata {
		if strings.HasPrefix(kv.Key, holdsKeyPrefix) {
			if out == nil {
				out = map[string]bool{}
			}
			out[kv.Key] = kv.Value == "true"
		}
	}
	return out
}

// mergedKey names, in a merged part's footer, the parts merged into it
// (see Compact): their file names, comma-separated.
const mergedKey = "trailsift.merged_parts"

// mergedParts is the parts a footer says were merged into its file.
func mergedParts(md *format.FileMetaData) []string {
	for _, kv := range md.KeyValueMetadata {
		if kv.Key == mergedKey && kv.Value != "" {
			return strings.Split(kv.Value, ",")
		}
	}
	return nil
}

// footerPathsMissing says a footer names a column chunk by a path other
// than its column's. parquet-go v0.32.0 cleared the paths of every file a
// writer wrote after its first (format.ColumnMetaData.Reset shared the
// writer's own path slices); DuckDB reads such a file by column order, but
// Spark's and Trino's readers look each chunk's column up by its path and
// fail. trailsift wrote such parts until it went back to v0.31.0.
func footerPathsMissing(md *format.FileMetaData) bool {
	leaves := leafPaths(md.Schema)
	for _, rg := range md.RowGroups {
		for i := range rg.Columns {
			if i >= len(leaves) || !slices.Equal([]string(rg.Columns[i].MetaData.PathInSchema), leaves[i]) {
				return true
			}
		}
	}
	return false
}

// leafPaths is the path of each leaf column of a Parquet schema (its
// elements in depth-first order, as a footer lists them), in order.
func leafPaths(schema []format.SchemaElement) [][]string {
	var paths [][]string
	var walk func(i int, prefix []string) int
	walk = func(i int, prefix []string) int {
		for n := schema[i].NumChildren.V; n > 0 && i+1 < len(schema); n-- {
			c := i + 1
			path := append(slices.Clone(prefix), schema[c].Name)
			if schema[c].NumChildren.V == 0 {
				paths = append(paths, path)
				i = c
			} else {
				i = walk(c, path)
			}
		}
		return i
	}
	if len(schema) > 0 {
		walk(0, nil)
	}
	return paths
}
