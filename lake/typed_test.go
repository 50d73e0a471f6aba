package lake

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// withTypedFrom sets typedFromPartitions for one test.
func withTypedFrom(t *testing.T, n int) {
	old := typedFromPartitions
	typedFromPartitions = n
	t.Cleanup(func() { typedFromPartitions = old })
}

// mixedEvents are testEvents (ConsoleLogin, every third in a workflow,
// 2024-03-05 to 03-10) with the 7th's and the first half's of the 8th
// (the day writeRun's two commits share) renamed GetObject and out of any
// workflow, the 9th's CreateAccessKey, and one console session's
// call (an IAM user's temporary key), whose raw a typed file keeps. shift
// moves their keys, for a second run.
func mixedEvents(shift uint64) []ingest.Event {
	evs := testEvents(900, "111122223333")
	for i := range evs {
		ev := &evs[i]
		ev.Key += shift
		switch day := ev.Time.Day(); {
		case day == 7, day == 8 && i < len(evs)/2:
			ev.EventName, ev.AuthWorkflowID = "GetObject", ""
		case day == 9:
			ev.EventName = "CreateAccessKey"
		}
	}
	evs[5].UserType, evs[5].AccessKeyID = "IAMUser", "ASIAEXAMPLE"
	return evs
}

// writeRun writes evs into dir in one run of two commits, merged at its end.
func writeRun(t *testing.T, dir string, evs []ingest.Event) {
	t.Helper()
	w, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	half := len(evs) / 2
	must(t, w.WriteEvents(evs[:half]))
	must(t, w.Flush())
	must(t, w.WriteEvents(evs[half:]))
	must(t, w.Flush())
	if _, err := w.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	must(t, w.Close())
}

// Each part's footer says whether it holds an event of each shared
// relation's condition (merged parts too), and the parts a detect run
// stages a relation from are the same read from the footers as found by a
// scan of every part.
func TestPartFootersSayWhatTheyHold(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, mixedEvents(0))
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tables := tableSources(dir)
	if len(tables.parts) < 6 {
		t.Fatalf("%d parts", len(tables.parts))
	}
	var conds []string
	for _, h := range query.HoldsTests() {
		conds = append(conds, h.Cond)
	}
	merged := 0
	for i, p := range tables.parts {
		f := tables.schemas.footers[i]
		if len(f.merged) > 0 {
			merged++
		}
		for _, c := range conds {
			said, ok := f.holds[holdsKey(c)]
			n := count(t, s, "SELECT count(*) FROM read_parquet("+query.StringLiteral(p)+") WHERE coalesce(("+c+"), false)")
			if !ok || said != (n > 0) {
				t.Errorf("%s: footer says %v (recorded: %v) for %s; it holds %d such events", p, said, ok, c, n)
			}
		}
	}
	if merged == 0 {
		t.Error("no part merged")
	}
	conn, err := s.DB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fromFooters, err := tables.eventsHolding(context.Background(), conn, time.Time{}, time.Time{}, conds)
	if err != nil {
		t.Fatal(err)
	}
	scanned := tables
	scanned.schemas.footers = nil // footers that say nothing: every part scanned
	fromScan, err := scanned.eventsHolding(context.Background(), conn, time.Time{}, time.Time{}, conds)
	if err != nil {
		t.Fatal(err)
	}
	named := func(q string) (out []string) {
		for _, p := range tables.parts {
			if strings.Contains(q, query.StringLiteral(p)) {
				out = append(out, filepath.Base(filepath.Dir(p)))
			}
		}
		return out
	}
	for k := range conds {
		a, b := named(fromFooters[k]), named(fromScan[k])
		if !slices.Equal(a, b) || len(a) == 0 || len(a) == len(tables.parts) {
			t.Errorf("%s: the parts of %v from the footers, of %v from a scan (of %d parts)", conds[k], a, b, len(tables.parts))
		}
	}
}

// A run into a dataset of many partitions writes typed files, which hold
// the rows of the live parts (merged or not, over several runs) and their
// raw only where the sessions build reads it; a part removed by hand
// leaves them unread; parts written without typed files get one at the
// end of the next run that writes some.
func TestTypedFilesCoverTheParts(t *testing.T) {
	withTypedFrom(t, 1)
	dir := t.TempDir()
	writeRun(t, dir, mixedEvents(0))
	writeRun(t, dir, mixedEvents(100000))
	t1, s := checkTypedCopy(t, dir)
	if n := count(t, s, "SELECT count(*) FROM event_rows"); n != 1800 {
		t.Errorf("%d events, want 1800", n)
	}

	// A part gone: its rows are still in the typed files, which are then
	// not read.
	if err := os.Remove(t1.parts[0]); err != nil {
		t.Fatal(err)
	}
	if tableSources(dir).typed != "" {
		t.Error("typed files read though a part they cover is gone")
	}

	// Parts of a run that wrote no typed files (before they existed): the
	// end of the next run that writes some writes one of them too.
	old := t.TempDir()
	typedFromPartitions = 1 << 20
	writeRun(t, old, mixedEvents(0))
	if m, _ := filepath.Glob(filepath.Join(old, TypedDir, "*")); len(m) != 0 {
		t.Fatalf("typed files written for a dataset of few partitions: %v", m)
	}
	typedFromPartitions = 1
	w, err := NewWriter(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	must(t, w.WriteEvents(mixedEvents(100000)))
	must(t, w.Flush())
	end, err := EndRun(context.Background(), w, true, nil)
	if err != nil || len(end.Warnings) > 0 {
		t.Fatalf("the second run's end: %+v, %v", end, err)
	}
	checkTypedCopy(t, old) // both runs' parts, and raw of both console session events
	// A later run writes them even into few partitions: the dataset has some.
	typedFromPartitions = 1 << 20
	before, _ := filepath.Glob(filepath.Join(old, TypedDir, "*"))
	writeRun(t, old, mixedEvents(200000))
	if after, _ := filepath.Glob(filepath.Join(old, TypedDir, "*")); len(after) <= len(before) {
		t.Errorf("a run into a dataset with typed files wrote none: %d files before, %d after", len(before), len(after))
	}
}

// checkTypedCopy checks that the typed files of the dataset at dir cover
// its parts and Open reads them, that they hold the parts' rows and no
// other, and raw only for the two console session events of mixedEvents'
// two runs. It returns the dataset's tables and the open store.
func checkTypedCopy(t *testing.T, dir string) (datasetTables, *query.Store) {
	t.Helper()
	tables := tableSources(dir)
	if tables.typed == "" {
		t.Fatal("the typed files do not cover the parts")
	}
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.TypedEvents == "" {
		t.Fatal("Open reads no typed files")
	}
	cols := "event_key, event_time, event_name, auth_workflow_id, user_type, access_key_id, file_id, record_index, issued_credential"
	minus := func(a, b string) string {
		return "SELECT count(*) FROM (SELECT " + cols + " FROM (" + a + ") EXCEPT ALL SELECT " + cols + " FROM (" + b + "))"
	}
	if n := count(t, s, minus(tables.typed, "SELECT * FROM event_rows")) + count(t, s, minus("SELECT * FROM event_rows", tables.typed)); n != 0 {
		t.Errorf("%d rows differ between the typed files and the parts", n)
	}
	kept := count(t, s, "SELECT count(*) FROM ("+tables.typed+") WHERE raw IS NOT NULL")
	console := count(t, s, "SELECT count(*) FROM ("+tables.typed+") t JOIN event_rows e USING (event_key) WHERE t.raw = e.raw AND e.user_type = 'IAMUser'")
	if kept != 2 || console != 2 {
		t.Errorf("raw kept for %d events (%d of them the console session's), want the 2 console session events", kept, console)
	}
	return tables, s
}
