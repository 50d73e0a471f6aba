package lake

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// commitsOf writes n batches of events into dir in one run, each its own
// commit (so its own part in every partition, and its own files part):
// the events of batch r have keys and record indexes of their own. The
// run's writer is returned open, for its Compact.
func commitsOf(t *testing.T, dir string, n int) *Writer {
	t.Helper()
	w, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for r := range n {
		evs := testEvents(9, "111122223333")
		for i := range evs {
			evs[i].Key += uint64(100 * r)
			evs[i].FileID = int64(r + 1)
			evs[i].Raw = fmt.Sprintf(`{"eventName":"ConsoleLogin","run":%d,"i":%d}`, r, i)
		}
		must(t, w.WriteEvents(evs))
		must(t, w.FileDone(&ingest.File{ID: int64(r + 1), Path: fmt.Sprintf("in-%d.json", r), Size: 10, SHA256: "ab", Shape: "records", Events: 9, Status: ingest.StatusLoaded}))
		must(t, w.Flush())
	}
	return w
}

// runsOf writes n batches of events into dir as commitsOf does, and ends
// the run without merging its parts.
func runsOf(t *testing.T, dir string, n int) {
	t.Helper()
	must(t, commitsOf(t, dir, n).Close())
}

// everyRow is every column of every event, files and ingest_errors row
// of the dataset at dir, as text, in a fixed order.
func everyRow(t *testing.T, dir string) string {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b strings.Builder
	for _, q := range []string{"SELECT e::VARCHAR FROM events e ORDER BY event_key", "SELECT f::VARCHAR FROM files f ORDER BY file_id"} {
		rows, err := s.DB.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line + "\n")
		}
		rows.Close()
	}
	return b.String()
}

func partsIn(dir string) map[string]int {
	n := map[string]int{}
	all, _ := filepath.Glob(EventsGlob(dir))
	files, _ := filepath.Glob(filepath.Join(dir, FilesDir, "*.parquet"))
	for _, p := range append(all, files...) {
		n[filepath.Dir(p)]++
	}
	return n
}

func compact(t *testing.T, dir string) int {
	t.Helper()
	w, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := w.Compact(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	must(t, w.Close())
	return merged
}

// Compact merges each partition's parts into one file, row group for row
// group: every row reads back the same, the page index points at the
// pages where they landed, and a later run still finds the events it
// holds (stores none twice).
func TestCompactMergesPartsByteForByte(t *testing.T) {
	dir := t.TempDir()
	w := commitsOf(t, dir, 3)
	before := everyRow(t, dir)
	for d, n := range partsIn(dir) {
		if n != 3 {
			t.Fatalf("%s: %d parts before, want 3", d, n)
		}
	}
	merged, err := w.Compact(context.Background())
	must(t, err)
	must(t, w.Close())
	if merged != 3*len(partsIn(dir)) {
		t.Errorf("merged %d parts, want %d", merged, 3*len(partsIn(dir)))
	}
	for d, n := range partsIn(dir) {
		if n != 1 {
			t.Errorf("%s: %d parts after, want 1", d, n)
		}
	}
	if after := everyRow(t, dir); after != before {
		t.Errorf("the rows changed:\n%s\nwant\n%s", after, before)
	}
	for _, leftover := range []string{stagingDir, commitsDir} {
		if m, _ := filepath.Glob(filepath.Join(dir, leftover, "*")); len(m) > 0 {
			t.Errorf("left behind: %v", m)
		}
	}
	parts, _ := filepath.Glob(EventsGlob(dir))
	for _, p := range parts {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		md := pf.Metadata()
		if len(md.RowGroups) != 3 {
			t.Errorf("%s: %d row groups, want the 3 parts' ones", p, len(md.RowGroups))
		}
		offsets := pf.OffsetIndexes()
		if len(offsets) != len(md.RowGroups)*len(md.RowGroups[0].Columns) {
			t.Fatalf("%s: %d offset indexes", p, len(offsets))
		}
		for k, oi := range offsets {
			c := md.RowGroups[k/len(md.RowGroups[0].Columns)].Columns[k%len(md.RowGroups[0].Columns)]
			if len(oi.PageLocations) == 0 || oi.PageLocations[0].Offset != c.MetaData.DataPageOffset {
				t.Fatalf("%s chunk %d: the offset index's first page is at %v, its data page at %d", p, k, oi.PageLocations, c.MetaData.DataPageOffset)
			}
		}
		f.Close()
	}
	w = writeDataset(t, dir, testEvents(9, "111122223333"))
	if w.Inserted() != 0 || w.Duplicates() != 9 {
		t.Errorf("the first run's events again: %d new, %d duplicates; want 0 and 9", w.Inserted(), w.Duplicates())
	}
	if compact(t, dir) != 0 {
		t.Error("a compacted dataset was merged again")
	}
}

// A run merges only the parts it wrote: parts of other runs may have been
// copied in from a machine that merges them itself (a union of workers'
// datasets), and two merged files holding the same parts could not both
// be read. Copying a worker in again after both it and the union ran
// again reads every event once.
func TestCompactMergesOnlyItsRunsParts(t *testing.T) {
	worker, union := t.TempDir(), t.TempDir()
	copyTree := func() { // cp -r worker/* union/
		t.Helper()
		must(t, filepath.WalkDir(worker, func(p string, d os.DirEntry, err error) error {
			rel, _ := filepath.Rel(worker, p)
			switch {
			case err != nil:
				return err
			case d.IsDir():
				return os.MkdirAll(filepath.Join(union, rel), 0o755)
			case rel == "_lock":
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(union, rel), b, 0o644)
		}))
	}
	runsOf(t, worker, 2) // a run that did not merge its parts (killed before)
	copyTree()
	// The union ingests events of its own, then the worker more of its own;
	// each then runs a Compact, which must not merge the first run's parts
	// (each would, into a file of its own, and the union would hold them
	// twice once the worker is copied in again).
	writeDataset(t, union, shiftedEvents(5000))
	if n := compact(t, union); n != 0 {
		t.Errorf("the union merged %d parts of other runs", n)
	}
	writeDataset(t, worker, shiftedEvents(7000))
	if n := compact(t, worker); n != 0 {
		t.Errorf("the worker merged %d parts of an earlier run", n)
	}
	copyTree()
	s, err := Open(context.Background(), union)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, distinct := count(t, s, "SELECT count(*) FROM events"), count(t, s, "SELECT count(DISTINCT event_key) FROM events"); n != distinct || n != 36 {
		t.Errorf("the union holds %d events, %d distinct; want 36 once each", n, distinct)
	}
	if n, distinct := count(t, s, "SELECT count(*) FROM files"), count(t, s, "SELECT count(DISTINCT file_id) FROM files"); n != distinct {
		t.Errorf("the union's files: %d rows, %d distinct", n, distinct)
	}
}

// A merge a run was killed in is finished by the next run when its
// commit file was written (whatever of its moves were made: the merged
// file comes first, and readers meanwhile read each row once), dropped
// when it was not, and dropped too when its staged file was lost (the
// parts are all still there, as they go after it).
func TestCompactKilledMergeIsFinished(t *testing.T) {
	for _, c := range []struct {
		name      string
		committed bool
		made      int  // moves made before the kill
		lost      bool // the staged file is gone
		parts     int  // in the partition after the next run
	}{
		{"staged only", false, 0, false, 3},
		{"committed", true, 0, false, 1},
		{"published", true, 1, false, 1},
		{"one part removed", true, 2, false, 1},
		{"staged file lost", true, 0, true, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			runsOf(t, dir, 3)
			before := everyRow(t, dir)
			w, err := NewWriter(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			parts, _ := filepath.Glob(EventsGlob(dir))
			partition := filepath.Dir(parts[0])
			inPartition, _ := filepath.Glob(filepath.Join(partition, "*.parquet"))
			id, moves, ok, err := w.stageMerge(partition, inPartition)
			if err != nil || !ok {
				t.Fatalf("stage: %v %v", ok, err)
			}
			if c.committed {
				must(t, writeCommitFile(w.dir, id, moves))
			}
			for _, m := range moves[:c.made] {
				if m.To == "" {
					must(t, os.Remove(filepath.Join(dir, m.From)))
				} else {
					must(t, os.Rename(filepath.Join(dir, m.From), filepath.Join(dir, m.To)))
				}
			}
			if c.lost {
				must(t, os.Remove(filepath.Join(dir, moves[0].From)))
			}
			killAndRecover(t, dir, w, before)
			if n := partsIn(dir)[partition]; n != c.parts {
				t.Errorf("%d parts in the partition, want %d", n, c.parts)
			}
		})
	}
}

// A part copied back in beside the merged file that holds it (a worker's
// dataset copied into a union again, after the worker merged its parts)
// is not read twice, and the next run's Compact removes it.
func TestCompactedPartCopiedBackIsReadOnce(t *testing.T) {
	dir := t.TempDir()
	w := commitsOf(t, dir, 2)
	before := everyRow(t, dir)
	parts, _ := filepath.Glob(EventsGlob(dir))
	saved := map[string][]byte{}
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		saved[p] = b
	}
	_, err := w.Compact(context.Background())
	must(t, err)
	must(t, w.Close())
	for p, b := range saved {
		must(t, os.WriteFile(p, b, 0o644))
	}
	if got := everyRow(t, dir); got != before {
		t.Errorf("with the parts copied back the rows are:\n%s\nwant\n%s", got, before)
	}
	if n := compact(t, dir); n != len(saved) {
		t.Errorf("%d parts removed, want the %d copied back", n, len(saved))
	}
	for p := range saved {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
	if got := everyRow(t, dir); got != before {
		t.Errorf("after the next run the rows are:\n%s\nwant\n%s", got, before)
	}
}

// A part of another run and another schema (an older trailsift's, or
// another writer's) is left as it is beside the run's own parts, which
// are merged, and every row reads as before.
func TestCompactLeavesOtherSchemasAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := commitsOf(t, dir, 2)
	parts, _ := filepath.Glob(EventsGlob(dir))
	db, err := openReader()
	if err != nil {
		t.Fatal(err)
	}
	older := filepath.Join(filepath.Dir(parts[0]), "part-0-older.parquet")
	_, err = db.DB.ExecContext(ctx, "COPY (SELECT * EXCLUDE (auth_workflow_id) REPLACE (event_key + 1000 AS event_key, record_index + 1000 AS record_index) FROM read_parquet("+
		query.StringLiteral(parts[0])+")) TO "+query.StringLiteral(older)+" (FORMAT parquet)")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before := everyRow(t, dir)
	_, err = w.Compact(context.Background())
	must(t, err)
	must(t, w.Close())
	if n := partsIn(dir)[filepath.Dir(older)]; n != 2 {
		t.Errorf("%d parts in the partition with another schema, want 2 (it, and the others merged)", n)
	}
	if _, err := os.Stat(older); err != nil {
		t.Errorf("the part of another schema: %v", err)
	}
	if after := everyRow(t, dir); after != before {
		t.Errorf("the rows changed:\n%s\nwant\n%s", after, before)
	}
}

// A part whose footer lost its column paths (as trailsift wrote them with
// parquet-go v0.32.0) is copied with them put back, even alone in its
// partition; its rows read the same.
func TestCompactPutsBackColumnPaths(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, testEvents(9, "111122223333"))
	parts, _ := filepath.Glob(EventsGlob(dir))
	for _, p := range parts {
		clearPaths(t, p)
		if !pathsMissing(p) {
			t.Fatalf("%s: paths not cleared", p)
		}
	}
	before := everyRow(t, dir)
	if n := compact(t, dir); n != len(parts) {
		t.Errorf("%d parts copied, want %d", n, len(parts))
	}
	after, _ := filepath.Glob(EventsGlob(dir))
	if len(after) != len(parts) {
		t.Errorf("%d parts after, want %d", len(after), len(parts))
	}
	for _, p := range after {
		if pathsMissing(p) {
			t.Errorf("%s: still without its paths", p)
		}
	}
	if got := everyRow(t, dir); got != before {
		t.Errorf("the rows changed:\n%s\nwant\n%s", got, before)
	}
}

// clearPaths rewrites the footer of the Parquet file p with every column
// chunk's path empty, as parquet-go v0.32.0's reused writers wrote them.
func clearPaths(t *testing.T, p string) {
	t.Helper()
	md, err := readMetadata(p)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	footerLen := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	body := data[:len(data)-8-footerLen]
	for i := range md.RowGroups {
		for j := range md.RowGroups[i].Columns {
			md.RowGroups[i].Columns[j].MetaData.PathInSchema = []string{""}
		}
	}
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), md)
	if err != nil {
		t.Fatal(err)
	}
	out := append(append(slices.Clone(body), footer...), binary.LittleEndian.AppendUint32(nil, uint32(len(footer)))...)
	must(t, os.WriteFile(p, append(out, "PAR1"...), 0o644))
}

// A repair killed part-way (see repairCommit) leaves the part readable
// with the same rows, and the next run finishes what was committed: the
// part then has its column paths; what was only staged is dropped.
func TestCompactKilledRepairIsFinished(t *testing.T) {
	for _, c := range []struct {
		name      string
		committed bool
		moved     bool
		repaired  bool // after the next run's recovery
	}{
		{"staged only", false, false, false},
		{"committed", true, false, true},
		{"moved", true, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeDataset(t, dir, testEvents(9, "111122223333"))
			parts, _ := filepath.Glob(EventsGlob(dir))
			p := parts[0]
			clearPaths(t, p)
			before := everyRow(t, dir)
			w, err := NewWriter(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("%s-%06d", w.run, w.seq)
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				t.Fatal(err)
			}
			staged := filepath.Join(stagingDir, id, rel)
			must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, staged)), 0o755))
			must(t, mergeParts(filepath.Join(dir, staged), []string{p}, false))
			moves := []move{{From: staged, To: rel}}
			if c.committed {
				must(t, writeCommitFile(dir, id, moves))
			}
			if c.moved {
				must(t, os.Rename(filepath.Join(dir, staged), p))
			}
			killAndRecover(t, dir, w, before)
			if got := !pathsMissing(p); got != c.repaired {
				t.Errorf("column paths in place: %v, want %v", got, c.repaired)
			}
			if after, _ := filepath.Glob(EventsGlob(dir)); len(after) != len(parts) {
				t.Errorf("%d parts, want %d", len(after), len(parts))
			}
		})
	}
}

// killAndRecover ends w as a killed run would (Close neither moves nor
// removes what is staged), then opens the dataset again, which recovers:
// the rows read as before throughout, and nothing is left staged or
// committed.
func killAndRecover(t *testing.T, dir string, w *Writer, before string) {
	t.Helper()
	must(t, w.Close())
	if got := everyRow(t, dir); got != before {
		t.Errorf("before recovery the rows are:\n%s\nwant\n%s", got, before)
	}
	w2, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	must(t, w2.Close())
	if got := everyRow(t, dir); got != before {
		t.Errorf("after recovery the rows are:\n%s\nwant\n%s", got, before)
	}
	for _, leftover := range []string{stagingDir, commitsDir} {
		if m, _ := filepath.Glob(filepath.Join(dir, leftover, "*")); len(m) > 0 {
			t.Errorf("left behind: %v", m)
		}
	}
}

// shiftedEvents are testEvents with keys and record indexes of their own.
func shiftedEvents(by int) []ingest.Event {
	evs := testEvents(9, "111122223333")
	for i := range evs {
		evs[i].Key += uint64(by)
		evs[i].RecordIndex += int64(by)
	}
	return evs
}

// pathsMissing says the footer of part p names a column chunk by a path
// other than its column's (see footerPathsMissing).
func pathsMissing(p string) bool {
	md, err := readMetadata(p)
	if err != nil {
		return false // not this check's to judge: DuckDB's read says what is wrong
	}
	return footerPathsMissing(md)
}

// readMetadata reads the footer of the Parquet file at p.
func readMetadata(p string) (*format.FileMetaData, error) {
	var md *format.FileMetaData
	err := withParquet(p, false, func(_ *os.File, pf *parquet.File) error {
		md = pf.Metadata()
		return nil
	})
	return md, err
}
