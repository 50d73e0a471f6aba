package lake

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Compaction. A commit writes a part per partition it touches (or a few,
// cutPieces), so a partition ends an ingest as parts of one row group each (the
// bench corpus: 96 parts in 24 partitions). DuckDB sets up a reader for
// every file a scan names (about 0.1 ms a file), and a detect scans the
// events several times: on the bench corpus, 24 files instead of 96 made
// detect --parquet 1.62x the time of detect --db -> 1.45x (the bench's
// medians). Compact merges the parts a run wrote in each partition into
// one file, copying their row groups byte for byte (pages, statistics and
// page index kept; nothing decoded), so the data and how it is cut into
// row groups stay exactly as written. Each merge is a commit of its own:
// the merged file is staged, then the commit file records the move that
// publishes it and the parts it replaces, and the next run finishes a
// merge a killed run left half done.
const (
	compactBelow = 64 << 20  // a part this large already is left as it is
	compactUpTo  = 128 << 20 // a merged file stops growing here
)

// Compact merges the parts this run wrote in every partition of the
// dataset (and in its files and ingest_errors tables) into larger ones,
// repairs the footers of older parts that lack their column paths, and
// removes the parts a merged file already holds (copied back in from
// another dataset). It is for the end of a run, after Flush: no commit
// may be in flight. merged counts the parts merged, removed or repaired.
func (w *Writer) Compact(ctx context.Context) (merged int, err error) {
	if err := w.wait(); err != nil {
		return 0, err
	}
	events, _ := filepath.Glob(EventsGlob(w.dir))
	byDir := map[string][]string{}
	for _, p := range events {
		byDir[filepath.Dir(p)] = append(byDir[filepath.Dir(p)], p)
	}
	for _, t := range []string{FilesDir, ErrorsDir, TypedDir} {
		d := filepath.Join(w.dir, t)
		byDir[d], _ = filepath.Glob(filepath.Join(d, "*.parquet"))
	}
	for _, d := range slices.Sorted(maps.Keys(byDir)) {
		parts := byDir[d]
		slices.Sort(parts)
		schemas := readPartSchemas(parts, nil)
		if schemas.footers == nil {
			continue // a part that cannot be read: DuckDB's reads say which
		}
		live := schemas.live(parts)
		if gone := len(parts) - len(live); gone > 0 {
			if err := w.removeSuperseded(parts, live); err != nil {
				return merged, err
			}
			merged += gone
		}
		groups, repairs := compactGroups(parts, schemas.footers, live, w.run)
		for _, group := range groups {
			if err := ctx.Err(); err != nil {
				return merged, err
			}
			ok, err := w.mergeCommit(d, group)
			if err != nil {
				return merged, err
			}
			if ok {
				merged += len(group)
			}
		}
		for _, p := range repairs {
			if err := ctx.Err(); err != nil {
				return merged, err
			}
			ok, err := w.repairCommit(p)
			if err != nil {
				return merged, err
			}
			if ok {
				merged++
			}
		}
	}
	return merged, nil
}

// removeSuperseded removes, in one commit, the parts not in live (indexes
// into parts): a merged file beside them holds their rows.
func (w *Writer) removeSuperseded(parts []string, live []int) error {
	var moves []move
	for i, p := range parts {
		if slices.Contains(live, i) {
			continue
		}
		r, err := filepath.Rel(w.dir, p)
		if err != nil {
			return err
		}
		moves = append(moves, move{From: r})
	}
	id := w.nextCommitID()
	if err := writeCommitFile(w.dir, id, moves); err != nil {
		return err
	}
	return w.rollForward(id, moves)
}

// compactGroups cuts the live parts of one directory (indexes into parts,
// whose footers are footers) into runs to merge: the parts this run wrote
// (run, see newRunID), under compactBelow each, of one schema, in name
// order, at most compactUpTo bytes a run and at least two parts (one run
// writes one schema; mergeParts checks it all the same). Only a
// run's own parts: the parts of other runs may have been copied in from
// another machine that merges them itself, and two merged files holding
// the same part could not both be read. repairs are the other parts whose
// footers lack their column paths (see footerPathsMissing): each is copied
// with them put back, under its own name.
func compactGroups(parts []string, footers []partFooter, live []int, run string) (groups [][]string, repairs []string) {
	var cur []int
	var size int64
	flush := func() {
		if len(cur) > 1 {
			group := make([]string, len(cur))
			for k, i := range cur {
				group[k] = parts[i]
			}
			groups = append(groups, group)
		} else if len(cur) == 1 && footers[cur[0]].pathsMissing {
			repairs = append(repairs, parts[cur[0]])
		}
		cur, size = nil, 0
	}
	for _, i := range live {
		st, err := os.Stat(parts[i])
		if err != nil {
			continue
		}
		if !strings.HasPrefix(filepath.Base(parts[i]), "part-"+run+"-") || st.Size() >= compactBelow {
			if footers[i].pathsMissing {
				repairs = append(repairs, parts[i])
			}
			continue
		}
		if size+st.Size() > compactUpTo {
			flush()
		}
		cur = append(cur, i)
		size += st.Size()
	}
	flush()
	return groups, repairs
}

// repairCommit copies part p with its column paths put back and commits
// the copy in its place, under its name (a rename over it: a reader sees
// one or the other, the same rows). ok is false when p cannot be copied
// so (errNotMergeable): it is left as it is.
func (w *Writer) repairCommit(p string) (ok bool, err error) {
	id := w.nextCommitID()
	rel, err := filepath.Rel(w.dir, p)
	if err != nil {
		return false, err
	}
	staged, ok, err := w.stageCopy(id, rel, []string{p}, false, "repair the column paths of "+p)
	if !ok || err != nil {
		return false, err
	}
	moves := []move{{From: staged, To: rel}}
	if err := writeCommitFile(w.dir, id, moves); err != nil {
		return false, err
	}
	return true, w.rollForward(id, moves)
}

// stageCopy writes parts, merged (mergeParts; record names them in the
// footer), to the staging folder of commit id, named as rel, and returns
// that staged path (relative to the dataset). ok is false, with nothing
// staged, when the parts cannot be copied so (errNotMergeable). The
// staged file's name is durable before a commit file names it. A copy that
// fails says what (doing).
func (w *Writer) stageCopy(id, rel string, parts []string, record bool, doing string) (staged string, ok bool, err error) {
	staged = stagedName(id, filepath.Base(rel))
	if err := os.MkdirAll(filepath.Dir(filepath.Join(w.dir, staged)), 0o755); err != nil {
		return "", false, err
	}
	if err := mergeParts(filepath.Join(w.dir, staged), parts, record); err != nil {
		cleanErr := os.RemoveAll(filepath.Join(w.dir, stagingDir, id))
		if errors.Is(err, errNotMergeable) {
			return "", false, cleanErr
		}
		return "", false, fmt.Errorf("%s: %w", doing, err)
	}
	if err := syncPath(filepath.Dir(filepath.Join(w.dir, staged))); err != nil {
		return "", false, err
	}
	return staged, true, nil
}

// errNotMergeable says the parts cannot be merged by copying: their
// schemas or footers' key-value metadata differ (written by different
// trailsift versions), or they hold something this copy does not move
// (bloom filters, encryption). They are then left as they are.
var errNotMergeable = errors.New("parts not mergeable")

// mergeCommit merges parts (of directory dir) into one file and commits
// it in their place. ok is false when the parts cannot be merged.
func (w *Writer) mergeCommit(dir string, parts []string) (ok bool, err error) {
	id, moves, ok, err := w.stageMerge(dir, parts)
	if !ok || err != nil {
		return ok, err
	}
	if err := writeCommitFile(w.dir, id, moves); err != nil {
		return false, err
	}
	return true, w.rollForward(id, moves)
}

// stageMerge merges parts into a staged file and returns the commit that
// publishes it: the merged file comes before the parts go, and its footer
// names them (mergedKey), so a reader listing the partition meanwhile
// reads their rows from it alone (see partSchemas.live); a merge killed
// half-way hides nothing and doubles nothing.
func (w *Writer) stageMerge(dir string, parts []string) (id string, moves []move, ok bool, err error) {
	id = w.nextCommitID()
	relDir, err := filepath.Rel(w.dir, dir)
	if err != nil {
		return "", nil, false, err
	}
	rel := filepath.Join(relDir, partName(id))
	staged, ok, err := w.stageCopy(id, rel, parts, true, "merge the parts of "+dir)
	if !ok || err != nil {
		return "", nil, false, err
	}
	moves = append(moves, move{From: staged, To: rel})
	for _, p := range parts {
		r, err := filepath.Rel(w.dir, p)
		if err != nil {
			return "", nil, false, err
		}
		moves = append(moves, move{From: r})
	}
	return id, moves, true, nil
}

// mergeParts writes the row groups of parts, in order, into one Parquet
// file at path: the bytes of each row group's column chunks as they are,
// their offsets (and the page index's) moved to where they land, and one
// footer over all of them. The file is synced, then read back: its footer
// and page index must parse and count every row.
func mergeParts(path string, parts []string, record bool) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	m := &merger{out: out, record: record}
	if _, err := out.Write([]byte("PAR1")); err != nil {
		return err
	}
	m.pos = 4
	for _, p := range parts {
		if err := m.add(p); err != nil {
			return err
		}
	}
	if err := m.finish(); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return checkMerged(path, m.meta.NumRows, len(m.meta.RowGroups))
}

// merger is one merge in progress.
type merger struct {
	out     *os.File
	pos     int64
	meta    *format.FileMetaData // the first part's, with every part's row groups
	leaves  [][]string           // the path of each column, from the schema
	merged  []string             // the file names of the parts merged
	record  bool                 // name them in the footer (mergedKey); false for a repair
	holds   []map[string]bool    // each part's footerHolds
	covers  []map[string]int64   // each part's footerCovers (typed files)
	columns [][]byte             // the column index of each column chunk, in order (nil: none)
	offsets []*format.OffsetIndex
}

// add copies the row groups of the part at p.
func (m *merger) add(p string) error {
	err := withParquet(p, false, func(f *os.File, pf *parquet.File) error {
		md := pf.Metadata()
		if m.meta == nil {
			first := *md
			first.RowGroups, first.NumRows = nil, 0
			m.meta, m.leaves = &first, leafPaths(md.Schema)
		} else if !reflect.DeepEqual(m.meta.Schema, md.Schema) || !reflect.DeepEqual(commonKV(m.meta.KeyValueMetadata), commonKV(md.KeyValueMetadata)) {
			return errNotMergeable
		}
		m.holds = append(m.holds, footerHolds(md))
		m.covers = append(m.covers, footerCovers(md))
		m.merged = append(m.merged, filepath.Base(p))
		for _, rg := range md.RowGroups {
			if err := m.addRowGroup(f, rg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNotMergeable) {
		return fmt.Errorf("%s: %w", p, err)
	}
	return err
}

// addRowGroup copies one row group of part f.
func (m *merger) addRowGroup(f *os.File, rg format.RowGroup) error {
	if len(rg.Columns) == 0 {
		return errNotMergeable
	}
	start, end := int64(-1), int64(0)
	for i := range rg.Columns {
		c := &rg.Columns[i]
		if c.FilePath != "" || c.MetaData.BloomFilterOffset != 0 || !reflect.ValueOf(c.CryptoMetadata).IsZero() || len(c.EncryptedColumnMetadata) > 0 {
			return errNotMergeable
		}
		from := c.MetaData.DataPageOffset
		if d := c.MetaData.DictionaryPageOffset; d > 0 && d < from {
			from = d
		}
		if start < 0 || from < start {
			start = from
		}
		end = max(end, from+c.MetaData.TotalCompressedSize)
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	// *os.File to *os.File: the kernel copies (copy_file_range).
	if n, err := io.CopyN(m.out, f, end-start); err != nil {
		return fmt.Errorf("copy row group (%d of %d bytes): %w", n, end-start, err)
	}
	shift := m.pos - start
	rg.Columns = slices.Clone(rg.Columns)
	if len(m.leaves) != len(rg.Columns) {
		return errNotMergeable
	}
	for i := range rg.Columns {
		c := &rg.Columns[i]
		c.MetaData.PathInSchema = m.leaves[i] // put back where missing (see footerPathsMissing)
		colIndex, offIndex, err := readPageIndex(f, c)
		if err != nil {
			return err
		}
		if offIndex != nil {
			for j := range offIndex.PageLocations {
				offIndex.PageLocations[j].Offset += shift
			}
		}
		m.columns = append(m.columns, colIndex)
		m.offsets = append(m.offsets, offIndex)
		c.MetaData.DataPageOffset += shift
		if c.MetaData.DictionaryPageOffset > 0 {
			c.MetaData.DictionaryPageOffset += shift
		}
		if c.MetaData.IndexPageOffset > 0 {
			c.MetaData.IndexPageOffset += shift
		}
		if c.FileOffset > 0 {
			c.FileOffset += shift
		}
		c.ColumnIndexOffset, c.ColumnIndexLength, c.OffsetIndexOffset, c.OffsetIndexLength = 0, 0, 0, 0
	}
	rg.FileOffset = m.pos
	rg.Ordinal = int16(len(m.meta.RowGroups))
	m.pos += end - start
	m.meta.RowGroups = append(m.meta.RowGroups, rg)
	m.meta.NumRows += rg.NumRows
	return nil
}

// readPageIndex reads column chunk c's column index (kept as its bytes: it
// holds no offsets) and offset index (decoded, to move its offsets).
func readPageIndex(f *os.File, c *format.ColumnChunk) ([]byte, *format.OffsetIndex, error) {
	var colIndex []byte
	if c.ColumnIndexLength > 0 {
		colIndex = make([]byte, c.ColumnIndexLength)
		if _, err := f.ReadAt(colIndex, c.ColumnIndexOffset); err != nil {
			return nil, nil, fmt.Errorf("read column index: %w", err)
		}
	}
	if c.OffsetIndexLength <= 0 {
		return colIndex, nil, nil
	}
	b := make([]byte, c.OffsetIndexLength)
	if _, err := f.ReadAt(b, c.OffsetIndexOffset); err != nil {
		return nil, nil, fmt.Errorf("read offset index: %w", err)
	}
	oi := new(format.OffsetIndex)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), b, oi); err != nil {
		return nil, nil, fmt.Errorf("decode offset index: %w", err)
	}
	return colIndex, oi, nil
}

// finish writes the page index (column indexes, then offset indexes, as
// parquet-go lays them out) and the footer.
func (m *merger) finish() error {
	chunk := func(k int) *format.ColumnChunk {
		n := len(m.meta.RowGroups[0].Columns)
		return &m.meta.RowGroups[k/n].Columns[k%n]
	}
	for k, b := range m.columns {
		if b == nil {
			continue
		}
		c := chunk(k)
		c.ColumnIndexOffset, c.ColumnIndexLength = m.pos, int32(len(b))
		if err := m.write(b); err != nil {
			return err
		}
	}
	for k, oi := range m.offsets {
		if oi == nil {
			continue
		}
		b, err := thrift.Marshal(new(thrift.CompactProtocol), oi)
		if err != nil {
			return err
		}
		c := chunk(k)
		c.OffsetIndexOffset, c.OffsetIndexLength = m.pos, int32(len(b))
		if err := m.write(b); err != nil {
			return err
		}
	}
	covers, err := mergedCovers(m.covers)
	if err != nil {
		return err
	}
	m.meta.KeyValueMetadata = append(append(commonKV(m.meta.KeyValueMetadata), mergedHolds(m.holds)...), covers...)
	if m.record {
		if len(mergedParts(m.meta)) > 0 {
			return errNotMergeable // a merged file is never merged again (see compactGroups)
		}
		m.meta.KeyValueMetadata = append(slices.Clone(m.meta.KeyValueMetadata), format.KeyValue{Key: mergedKey, Value: strings.Join(m.merged, ",")})
	}
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), m.meta)
	if err != nil {
		return err
	}
	if err := m.write(footer); err != nil {
		return err
	}
	tail := binary.LittleEndian.AppendUint32(nil, uint32(len(footer)))
	return m.write(append(tail, "PAR1"...))
}

// commonKV is kv without the entries that differ from part to part and
// that a merged file combines: holdsKey's (mergedHolds) and
// typedCoversKey's (mergedCovers).
func commonKV(kv []format.KeyValue) []format.KeyValue {
	return slices.DeleteFunc(slices.Clone(kv), func(e format.KeyValue) bool {
		return strings.HasPrefix(e.Key, holdsKeyPrefix) || e.Key == typedCoversKey
	})
}

// mergedHolds is the holdsKey entries of a file merged from parts whose
// footers record holds: a key every part has, true when any part's is;
// a key some part lacks is left out (its readers scan the merged file).
func mergedHolds(holds []map[string]bool) []format.KeyValue {
	var out []format.KeyValue
	if len(holds) == 0 {
		return out
	}
	for _, key := range slices.Sorted(maps.Keys(holds[0])) {
		all, some := true, false
		for _, h := range holds {
			v, ok := h[key]
			all, some = all && ok, some || v
		}
		if all {
			out = append(out, format.KeyValue{Key: key, Value: strconv.FormatBool(some)})
		}
	}
	return out
}

func (m *merger) write(b []byte) error {
	n, err := m.out.Write(b)
	m.pos += int64(n)
	return err
}

// checkMerged reads the merged file's footer and page index back: it must
// hold rows rows in groups row groups.
func checkMerged(path string, rows int64, groups int) error {
	err := withParquet(path, true, func(_ *os.File, pf *parquet.File) error {
		if pf.NumRows() != rows || len(pf.RowGroups()) != groups {
			return fmt.Errorf("%d rows in %d row groups, want %d in %d", pf.NumRows(), len(pf.RowGroups()), rows, groups)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read back the merged file: %w", err)
	}
	return nil
}
