package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// runDB ingests inputs into the DuckDB store at db as trailsift ingest
// does: staged as Parquet, then loaded.
func runDB(t *testing.T, db string, inputs ...string) (st ingest.Stats, inserted, rejected int64) {
	t.Helper()
	ctx := context.Background()
	s, err := query.Open(ctx, db, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run, err := IngestStore(ctx, s, inputs, ingest.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return run.Stats, run.Inserted, run.Rejected
}

// runParquet ingests inputs into the dataset at dir.
func runParquet(t *testing.T, dir string, inputs ...string) ingest.Stats {
	t.Helper()
	w, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m, err := w.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	st, err := ingest.Run(context.Background(), inputs, w, ingest.Options{Manifest: m})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func storeCount(t *testing.T, db string, parquet bool, q string) int64 {
	t.Helper()
	var s *query.Store
	var err error
	if parquet {
		s, err = Open(context.Background(), db)
	} else {
		s, err = query.Open(context.Background(), db, true)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return count(t, s, q)
}

func writeInput(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	must(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

const loginID = "3038ebd2-c98a-4c65-9b6e-e22506292313"

func login(time, region string) string {
	return `{"eventVersion":"1.08","eventTime":"` + time + `","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"` + region + `","recipientAccountId":"111122223333","eventID":"` + loginID + `"}` + "\n"
}

// The same event is stored once whatever the input order and the split into
// runs, in a DuckDB store and in a dataset alike: the same instant written
// two ways is one event; copies that differ in awsRegion are two (a
// responder keeps the evidence of a double delivery or of tampering).
func TestSameRowsWhateverTheSplit(t *testing.T) {
	in := t.TempDir()
	s3 := writeInput(t, in, "s3.json", `{"Records":[`+strings.TrimSpace(login("2024-03-05T11:00:00Z", "us-east-1"))+`]}`)
	lake := writeInput(t, in, "lake.jsonl", login("2024-03-05 11:00:00.000", "us-east-1"))
	other := writeInput(t, in, "other-region.jsonl", login("2024-03-05T11:00:00Z", "eu-west-1"))
	splits := map[string][][]string{
		"one run":          {{s3, lake, other}},
		"one run reversed": {{other, lake, s3}},
		"three runs":       {{other}, {lake}, {s3}},
		"two runs":         {{s3}, {other, lake}},
	}
	for name, runs := range splits {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "case.duckdb")
			ds := filepath.Join(t.TempDir(), "lake")
			for _, inputs := range runs {
				runDB(t, db, inputs...)
				runParquet(t, ds, inputs...)
			}
			const q = "SELECT count(*) FROM events"
			const regions = "SELECT count(DISTINCT aws_region) FROM events"
			for _, parquet := range []bool{false, true} {
				target := map[bool]string{false: db, true: ds}[parquet]
				if n, r := storeCount(t, target, parquet, q), storeCount(t, target, parquet, regions); n != 2 || r != 2 {
					t.Errorf("parquet=%v: %d events in %d regions, want 2 in 2", parquet, n, r)
				}
			}
		})
	}
}

// Two different events whose 64-bit keys collide are both stored: the
// identity decides, in the dataset's key cache and in the store's load.
func TestKeyCollisionKeepsBothEvents(t *testing.T) {
	at := time.Date(2024, 3, 5, 11, 0, 0, 0, time.UTC)
	ev := func(id, raw string, key uint64, record int64) ingest.Event {
		return ingest.Event{Key: key, Time: at, HasTime: true, EventID: id, EventName: "ConsoleLogin",
			EventSource: "signin.amazonaws.com", AccountID: "111122223333", AWSRegion: "us-east-1", Raw: raw, FileID: 1, RecordIndex: record}
	}
	byID := []ingest.Event{ev("aaaaaaaa-0000-0000-0000-000000000001", `{"eventID":"a"}`, 42, 0), ev("bbbbbbbb-0000-0000-0000-000000000002", `{"eventID":"b"}`, 42, 1)}
	byRaw := []ingest.Event{ev("", `{"n":1}`, 7|ingest.RawKeyBit, 0), ev("", `{"n":2}`, 7|ingest.RawKeyBit, 1)}
	for name, evs := range map[string][]ingest.Event{"eventID": byID, "raw": byRaw} {
		t.Run(name, func(t *testing.T) {
			// Dataset: one run, then the second event again in a later run.
			ds := t.TempDir()
			writeDataset(t, ds, evs[:1])
			writeDataset(t, ds, evs)
			if n := storeCount(t, ds, true, "SELECT count(*) FROM events"); n != 2 {
				t.Errorf("dataset: %d events, want 2", n)
			}
			// Store: the first event stored, the second loaded by a later run.
			db := filepath.Join(t.TempDir(), "case.duckdb")
			s, err := query.Open(context.Background(), db, false)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, batch := range [][]ingest.Event{evs[:1], evs, evs} {
				w, err := NewStagingWriter(context.Background(), StagingDir(db))
				if err != nil {
					t.Fatal(err)
				}
				must(t, w.WriteEvents(batch))
				must(t, w.Flush())
				w.Close()
				if _, _, err := LoadStore(context.Background(), s, StagingDir(db)); err != nil {
					t.Fatal(err)
				}
			}
			if n := count(t, s, "SELECT count(*) FROM events"); n != 2 {
				t.Errorf("store: %d events, want 2 (and no copy of either)", n)
			}
		})
	}
}

// An event whose raw is not valid JSON costs only itself: the staging
// writer leaves it out, the rest of the run loads, the row is reported with
// its file and record index, the file is failed, and the next run loads
// normally.
func TestInvalidRawDoesNotWedgeTheLoad(t *testing.T) {
	ctx := context.Background()
	s, db := openCase(t)
	evs := testEvents(5, "111122223333")
	evs[3].Raw = "{\"eventName\":\"x\x01y\"}" // a raw control byte, from outside the decoder
	stageEvents(t, db, evs)
	inserted, _, err := LoadStore(ctx, s, StagingDir(db))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if inserted != 4 {
		t.Errorf("inserted %d, want 4", inserted)
	}
	checkRejectedRecord(t, s, db)
	// The next run works.
	in := writeInput(t, t.TempDir(), "next.jsonl", login("2024-03-06T10:00:00Z", "us-east-1"))
	if _, inserted, _ := runDB(t, db, in); inserted != 1 {
		t.Errorf("next run stored %d events, want 1", inserted)
	}
}

// A staging left by an older trailsift, whose writer did not check raw
// (its parts lack rawCheckedKey), is checked by the load: a row DuckDB
// finds invalid is rejected and reported the same way.
func TestOlderStagingIsCheckedAtLoad(t *testing.T) {
	ctx := context.Background()
	s, db := openCase(t)
	defer func(o []parquet.WriterOption) { stagingOptions = o }(stagingOptions)
	stagingOptions = slices.DeleteFunc(slices.Clone(stagingOptions), func(o parquet.WriterOption) bool {
		var c parquet.WriterConfig
		o.ConfigureWriter(&c)
		return c.KeyValueMetadata[rawCheckedKey] != ""
	})
	evs := testEvents(5, "111122223333")
	evs[3].Raw, evs[3].RawStrict = "{\"eventName\":\"x\x01y\"}", true // passed unchecked, as an older writer did
	stageEvents(t, db, evs)
	if tables := tableSources(StagingDir(db)); tables.schemas.rawChecked() {
		t.Fatal("a staging without the mark reads as checked")
	}
	inserted, rejected, err := LoadStore(ctx, s, StagingDir(db))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if inserted != 4 || rejected != 1 {
		t.Errorf("inserted %d, rejected %d; want 4 and 1", inserted, rejected)
	}
	checkRejectedRecord(t, s, db)
}

// checkRejectedRecord checks that record 3 of in.jsonl was reported and its
// file failed with its 4 other events, and that the staging is gone.
func checkRejectedRecord(t *testing.T, s *query.Store, db string) {
	t.Helper()
	if n := count(t, s, "SELECT count(*) FROM ingest_errors WHERE file_id = 1 AND path = 'in.jsonl' AND record_index = 3 AND severity = 'error'"); n != 1 {
		t.Errorf("%d ingest_errors rows for the rejected record", n)
	}
	if n := count(t, s, "SELECT count(*) FROM files WHERE path = 'in.jsonl' AND status = 'failed' AND events = 4"); n != 1 {
		t.Errorf("the file is not recorded failed with 4 events")
	}
	if n := count(t, s, "SELECT count(*) FROM events"); n != 4 {
		t.Errorf("%d events stored, want 4", n)
	}
	if _, err := os.Stat(StagingDir(db)); !os.IsNotExist(err) {
		t.Errorf("staging left behind: %v", err)
	}
}

// A dataset never holds a raw that is not valid JSON: DuckDB would then
// refuse every read of it. The event is reported on its file instead.
func TestDatasetRefusesInvalidRaw(t *testing.T) {
	dir := t.TempDir()
	evs := testEvents(5, "111122223333")
	evs[2].Raw = "{\"eventName\":\"x\x00y\"}"
	f := &ingest.File{ID: 1, Path: "in.jsonl", SHA256: "aa", Events: 5, Status: ingest.StatusLoaded}
	w := writeDataset(t, dir, evs, f)
	if w.Inserted() != 4 {
		t.Errorf("inserted %d, want 4", w.Inserted())
	}
	if n := storeCount(t, dir, true, "SELECT count(*) FROM events WHERE event_name IS NOT NULL"); n != 4 {
		t.Errorf("dataset reads %d events, want 4", n)
	}
	if f.Status != ingest.StatusFailed || f.ErrorCount != 1 || f.Errors[0].RecordIndex != 2 {
		t.Errorf("file: %+v", f)
	}
	if n := storeCount(t, dir, true, "SELECT count(*) FROM ingest_errors WHERE record_index = 2"); n != 1 {
		t.Errorf("%d ingest_errors rows, want 1", n)
	}
}

// A failed input is not "stored": every run reads it again and reports it
// failed, without a second manifest row.
func TestFailedFileStaysFailed(t *testing.T) {
	in := t.TempDir()
	good := writeInput(t, in, "good.jsonl", login("2024-03-05T11:00:00Z", "us-east-1"))
	bad := writeInput(t, in, "bad.json", `{"Records":[`+strings.TrimSpace(login("2024-03-05T12:00:00Z", "us-east-1"))+`,{"eventID":`)
	db := filepath.Join(t.TempDir(), "case.duckdb")
	ds := filepath.Join(t.TempDir(), "lake")
	for run := range 3 {
		st, _, _ := runDB(t, db, good, bad)
		pst := runParquet(t, ds, good, bad)
		for name, s := range map[string]ingest.Stats{"db": st, "parquet": pst} {
			if s.FilesFailed != 1 || (run > 0 && s.FilesUnchanged != 1) {
				t.Errorf("run %d, %s: %+v; want the bad file failed each time", run, name, s)
			}
		}
	}
	for _, parquet := range []bool{false, true} {
		target := map[bool]string{false: db, true: ds}[parquet]
		if n := storeCount(t, target, parquet, "SELECT count(*) FROM files WHERE status = 'failed'"); n != 1 {
			t.Errorf("parquet=%v: %d failed manifest rows, want 1", parquet, n)
		}
		if n := storeCount(t, target, parquet, "SELECT count(*) FROM ingest_errors WHERE path LIKE '%bad.json'"); n != 1 {
			t.Errorf("parquet=%v: %d ingest_errors rows for the bad file, want 1", parquet, n)
		}
		if n := storeCount(t, target, parquet, "SELECT count(*) FROM events"); n != 2 {
			t.Errorf("parquet=%v: %d events, want 2", parquet, n)
		}
	}
}

func TestValidJSON(t *testing.T) {
	for s, want := range map[string]bool{
		`{"a":"b"}`:              true,
		"{\"a\":\n\t\"b\"}":      true,
		"{\"a\":\"b\x01\"}":      false,
		"{\"a\":\"b\tc\"}":       false,
		"{\"a\\\"\":\"\\\\\"}":   true,
		`{"a":nan}`:              false,
		`{"a":1.2.3}`:            false,
		`{"a":"\x"}`:             false,
		"{\"a\":\"\xff\"}":       false,
		`{"a":[1,-0.5e+3,true]}`: true,
	} {
		if got := validJSON(s); got != want {
			t.Errorf("validJSON(%q) = %v, want %v", s, got, want)
		}
	}
}

// Inputs that have no sha256 (a dangling link, a folder that cannot be
// listed) are reported by every run, with one manifest row.
func TestRowsWithoutHashAreNotRepeated(t *testing.T) {
	in := t.TempDir()
	writeInput(t, in, "good.jsonl", login("2024-03-05T11:00:00Z", "us-east-1"))
	must(t, os.Symlink(filepath.Join(in, "gone"), filepath.Join(in, "dangling.json")))
	db := filepath.Join(t.TempDir(), "case.duckdb")
	ds := filepath.Join(t.TempDir(), "lake")
	for range 2 {
		runDB(t, db, in)
		runParquet(t, ds, in)
	}
	for _, parquet := range []bool{false, true} {
		target := map[bool]string{false: db, true: ds}[parquet]
		if n := storeCount(t, target, parquet, "SELECT count(*) FROM files WHERE path LIKE '%dangling.json' AND status = 'skipped'"); n != 1 {
			t.Errorf("parquet=%v: %d rows for the dangling link, want 1", parquet, n)
		}
	}
}

// TestLoadStoreCanDeferSessions: with DeferSessions (the bench's knob) a
// load stores the events and leaves the sessions pending; the next load,
// with nothing new, builds them.
func TestLoadStoreCanDeferSessions(t *testing.T) {
	ctx := context.Background()
	s, db := openCase(t)
	stage := func() {
		evs := testEvents(3, "111122223333")
		for i := range evs {
			evs[i].AccessKeyID = "AKIADEFER00000000001"
		}
		stageEvents(t, db, evs)
	}
	defer func() { DeferSessions = false }()
	DeferSessions = true
	stage()
	if inserted, _, err := LoadStore(ctx, s, StagingDir(db)); err != nil || inserted != 3 {
		t.Fatalf("deferred load: %d inserted, %v; want 3, nil", inserted, err)
	}
	if p, n := count(t, s, "SELECT count(*) FROM sessions_pending"), count(t, s, "SELECT count(*) FROM sessions"); p != 1 || n != 0 {
		t.Errorf("after the deferred load: %d pending marks, %d sessions; want 1, 0", p, n)
	}
	DeferSessions = false
	stage()
	if inserted, _, err := LoadStore(ctx, s, StagingDir(db)); err != nil || inserted != 0 {
		t.Fatalf("next load: %d inserted, %v; want 0, nil", inserted, err)
	}
	if p, n := count(t, s, "SELECT count(*) FROM sessions_pending"), count(t, s, "SELECT count(*) FROM sessions WHERE session_id = 'AKIADEFER00000000001' AND events = 3"); p != 0 || n != 1 {
		t.Errorf("after the next load: %d pending marks, %d sessions of the key; want 0, 1", p, n)
	}
}

// TestLoadStoreCheckpointsBeforeTheSessions: a load small enough to go
// through DuckDB's write-ahead log leaves it empty once the events are
// stored: the sessions build's commit (the lineage step of the summary)
// would otherwise write the load's rows into the file.
func TestLoadStoreCheckpointsBeforeTheSessions(t *testing.T) {
	ctx := context.Background()
	s, db := openCase(t)
	defer func() { DeferSessions = false }()
	DeferSessions = true
	stageEvents(t, db, testEvents(50, "111122223333"))
	if inserted, _, err := LoadStore(ctx, s, StagingDir(db)); err != nil || inserted != 50 {
		t.Fatalf("load: %d inserted, %v; want 50, nil", inserted, err)
	}
	if fi, err := os.Stat(db + ".wal"); err == nil && fi.Size() > 0 {
		t.Errorf("after the load the write-ahead log holds %d bytes, want none", fi.Size())
	}
	if n := count(t, s, "SELECT count(*) FROM event_rows"); n != 50 {
		t.Errorf("%d events stored, want 50", n)
	}
}

// openCase opens a new store in a temporary folder, closed with the test.
func openCase(t *testing.T) (*query.Store, string) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "case.duckdb")
	s, err := query.Open(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// stageEvents stages evs as read from one file, in.jsonl, for the store db.
func stageEvents(t *testing.T, db string, evs []ingest.Event) {
	t.Helper()
	w, err := NewStagingWriter(context.Background(), StagingDir(db))
	if err != nil {
		t.Fatal(err)
	}
	must(t, w.WriteEvents(evs))
	must(t, w.FileDone(&ingest.File{ID: 1, Path: "in.jsonl", SHA256: "aa", Events: int64(len(evs)), Status: ingest.StatusLoaded}))
	must(t, w.Flush())
	w.Close()
}

// TestLoadLeavesNoFreeBlocks: a load whose rows the insert's threads
// split into part-full row groups leaves the database file without free
// blocks after its checkpoint: nothing written twice, the file the size of
// what it holds. (290,000 events: on two threads, each ends with a row
// group a fifth full, which a checkpoint would merge; fewer than two row
// groups' worth DuckDB inserts on one thread.)
func TestLoadLeavesNoFreeBlocks(t *testing.T) {
	ctx := context.Background()
	s, db := openCase(t)
	base := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	evs := make([]ingest.Event, 290_000)
	for i := range evs {
		evs[i] = ingest.Event{Key: uint64(i + 1), Time: base.Add(time.Duration(i) * 50 * time.Millisecond), HasTime: true,
			EventName: "ListBuckets", EventSource: "s3.amazonaws.com", AccountID: "111122223333", AWSRegion: "us-east-1",
			EventID: fmt.Sprintf("%08x-7e57-4c65-9b6e-e22506292313", i),
			Raw:     fmt.Sprintf(`{"eventName":"ListBuckets","eventID":"%08x-7e57-4c65-9b6e-e22506292313"}`, i), FileID: 1, RecordIndex: int64(i)}
	}
	// In parts, as a run commits them: the insert reads them on every thread.
	w, err := NewStagingWriter(ctx, StagingDir(db))
	must(t, err)
	for part := range 8 {
		must(t, w.WriteEvents(evs[part*len(evs)/8:(part+1)*len(evs)/8]))
		must(t, w.Flush())
	}
	must(t, w.FileDone(&ingest.File{ID: 1, Path: "in.jsonl", SHA256: "aa", Events: int64(len(evs)), Status: ingest.StatusLoaded}))
	must(t, w.Close())
	if inserted, _, err := LoadStore(ctx, s, StagingDir(db)); err != nil || inserted != int64(len(evs)) {
		t.Fatalf("load: %d inserted, %v", inserted, err)
	}
	if _, err := s.DB.ExecContext(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	if free := count(t, s, "SELECT free_blocks FROM pragma_database_size()"); free != 0 {
		t.Errorf("%d free blocks in the database file after the load (of %d)", free, count(t, s, "SELECT total_blocks FROM pragma_database_size()"))
	}
}

// Empty text is stored as NULL in both stores, whatever the values around
// it. (parquet-go v0.32 wrote "" for some optional non-pointer strings
// after non-empty ones: a rule testing error_code IS NULL missed events of
// this file. The rows keep pointers.)
func TestEmptyTextIsNull(t *testing.T) {
	in := "../query/testdata/detections/mfa-removed-then-login/events.ndjson"
	db := filepath.Join(t.TempDir(), "case.duckdb")
	ds := filepath.Join(t.TempDir(), "lake")
	runDB(t, db, in)
	runParquet(t, ds, in)
	var empty []string
	for _, c := range query.StoredEventColumns() {
		if c.Type == "VARCHAR" {
			empty = append(empty, fmt.Sprintf("count(*) FILTER (WHERE %s = '')", c.Name))
		}
	}
	q := "SELECT " + strings.Join(empty, " + ") + " FROM event_rows"
	for _, parquet := range []bool{false, true} {
		target := map[bool]string{false: db, true: ds}[parquet]
		if n := storeCount(t, target, parquet, q); n != 0 {
			t.Errorf("parquet=%v: %d empty texts instead of NULL", parquet, n)
		}
		if n := storeCount(t, target, parquet, "SELECT count(*) FROM events WHERE error_code IS NULL AND user_name IS NOT NULL"); n < 10 {
			t.Errorf("parquet=%v: %d events without an error code, want many", parquet, n)
		}
	}
}

// loadInSlices makes LoadStore load every staged part in a slice of its own.
func loadInSlices(t *testing.T) {
	n, m := loadSliceCount, minSliceRowsPerThread
	t.Cleanup(func() { loadSliceCount, minSliceRowsPerThread = n, m })
	loadSliceCount, minSliceRowsPerThread = 1<<20, 0
}

// A load in slices that stopped after storing some of them (its process
// killed before it deleted their parts, or after) is finished by the next
// run: every event once, the files manifest stored with the last slice.
func TestSlicedLoadResumes(t *testing.T) {
	loadInSlices(t)
	evs := append(testEvents(20, "111122223333"), testEvents(20, "444455556666")...)
	for i := range evs {
		evs[i].Key, evs[i].RecordIndex = uint64(i+1), int64(i)
	}
	for _, deleted := range []bool{false, true} {
		ctx := context.Background()
		s, db := openCase(t)
		stageEvents(t, db, evs)
		tables := tableSources(StagingDir(db))
		parts := tables.parts
		slices := loadSlices(len(parts), tables.schemas, 2)
		if len(slices) != len(parts) || len(slices) < 4 || slices[0] != 1 {
			t.Fatalf("slices of %v parts for %d parts, want one each (at least 4)", slices, len(parts))
		}
		// The first two slices stored, the process killed before the
		// manifest.
		first := parts[:2]
		if _, _, err := s.Load(ctx, query.Staging{Events: []string{eventsSQL(first, tables.schemas.part(0, 2))}, RawValid: true}); err != nil {
			t.Fatal(err)
		}
		if deleted {
			for _, p := range first {
				must(t, os.Remove(p))
			}
		}
		if n := count(t, s, "SELECT count(*) FROM files"); n != 0 {
			t.Fatalf("files stored before the last slice: %d", n)
		}
		before := count(t, s, "SELECT count(*) FROM events")
		inserted, _, err := LoadStore(ctx, s, StagingDir(db))
		if err != nil {
			t.Fatal(err)
		}
		stored := count(t, s, "SELECT count(*) FROM events")
		if stored != int64(len(evs)) || count(t, s, "SELECT count(DISTINCT event_key) FROM events") != stored {
			t.Errorf("deleted=%v: %d events stored, want %d once each", deleted, stored, len(evs))
		}
		if before == 0 || inserted != stored-before {
			t.Errorf("deleted=%v: the resumed load says it stored %d, want %d (%d were stored before)", deleted, inserted, stored-before, before)
		}
		if n := count(t, s, "SELECT count(*) FROM files WHERE path = 'in.jsonl'"); n != 1 {
			t.Errorf("deleted=%v: %d manifest rows, want 1", deleted, n)
		}
		if _, err := os.Stat(StagingDir(db)); !os.IsNotExist(err) {
			t.Errorf("staging left behind: %v", err)
		}
		s.Close()
	}
}
