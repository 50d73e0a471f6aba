//go:build duckdb_arrow

package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// ingestInto runs IngestStore into a new store at db and says what it did.
func ingestInto(t *testing.T, db string, opts ingest.Options, inputs ...string) StoreRun {
	t.Helper()
	s, err := query.Open(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run, err := IngestStore(context.Background(), s, inputs, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// storeFingerprint sums every stored table of the store at db: the
// events (every column), the files and ingest_errors rows (but when they
// were stored), and the sessions.
func storeFingerprint(t *testing.T, db string) string {
	t.Helper()
	s, err := query.Open(context.Background(), db, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var parts []string
	for _, q := range []string{
		"SELECT count(*) || ' ' || sum(hash(e)) FROM event_rows e",
		"SELECT count(*) || ' ' || sum(hash(file_id, path, size, sha256, content_sha256, shape, events, status, reason)) FROM files",
		"SELECT count(*) || ' ' || coalesce(sum(hash(e)), 0) FROM ingest_errors e",
		"SELECT count(*) || ' ' || sum(hash(s)) FROM sessions s",
	} {
		var v string
		if err := s.DB.QueryRow(q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, " | ")
}

// The bundled samples (every shape, a corrupt file, events delivered twice)
// go into an empty store as they are decoded, and the store holds exactly
// what a staged load stores.
func TestStreamedLoadStoresWhatTheStagedLoadDoes(t *testing.T) {
	samples := []string{"../samples/s3-export.zip", "../samples/event-history.json", "../samples/lookup-events-page1.json",
		"../samples/lookup-events-page2.json", "../samples/lake-export.ndjson", "../samples/corrupt"}
	dir := t.TempDir()
	defer func(n int) { manifestPartFiles = n }(manifestPartFiles)
	manifestPartFiles = 7 // the manifest in several parts
	streamed := ingestInto(t, filepath.Join(dir, "streamed.duckdb"), ingest.Options{}, samples...)
	// The same, committed every few events.
	c, b, i := StreamCommitEvents, streamBatchEvents, StreamCommitInterval
	StreamCommitEvents, streamBatchEvents, StreamCommitInterval = 25, 8, 0
	chunked := ingestInto(t, filepath.Join(dir, "chunked.duckdb"), ingest.Options{}, samples...)
	StreamCommitEvents, streamBatchEvents, StreamCommitInterval = c, b, i
	defer func() { streamLoads = true }()
	streamLoads = false
	staged := ingestInto(t, filepath.Join(dir, "staged.duckdb"), ingest.Options{}, samples...)
	if !streamed.Streamed || staged.Streamed {
		t.Fatalf("streamed: %v, staged: %v", streamed.Streamed, staged.Streamed)
	}
	if streamed.Inserted != staged.Inserted || streamed.Inserted == 0 || streamed.Errors != staged.Errors {
		t.Errorf("streamed %d events, %d errors; staged %d, %d", streamed.Inserted, streamed.Errors, staged.Inserted, staged.Errors)
	}
	if _, err := os.Stat(filepath.Join(dir, "streamed.duckdb.manifest")); !os.IsNotExist(err) {
		t.Errorf("the manifest's folder is left beside the store (%v)", err)
	}
	// DuckDB names the stream as a view: gone once it is read.
	if n := storeCount(t, filepath.Join(dir, "streamed.duckdb"), false, "SELECT count(*) FROM duckdb_views() WHERE view_name = '"+streamView+"'"); n != 0 {
		t.Errorf("the stream's view is left in the store")
	}
	staged0 := storeFingerprint(t, filepath.Join(dir, "staged.duckdb"))
	if a := storeFingerprint(t, filepath.Join(dir, "streamed.duckdb")); a != staged0 {
		t.Errorf("the stores differ:\nstreamed %s\nstaged   %s", a, staged0)
	}
	if !chunked.Streamed || chunked.Commits < 3 || chunked.Inserted != staged.Inserted || streamed.Commits != 1 {
		t.Errorf("committed in parts: streamed %v, %d commits, %d events; want true, 3 or more, %d (one commit without parts: %d)",
			chunked.Streamed, chunked.Commits, chunked.Inserted, staged.Inserted, streamed.Commits)
	}
	if a := storeFingerprint(t, filepath.Join(dir, "chunked.duckdb")); a != staged0 {
		t.Errorf("the stores differ:\ncommitted in parts %s\nstaged             %s", a, staged0)
	}
	if n := storeCount(t, filepath.Join(dir, "chunked.duckdb"), false, "SELECT count(*) FROM duckdb_views() WHERE view_name = '"+streamView+"'"); n != 0 {
		t.Errorf("a stream's view is left in the store committed in parts")
	}
}

// A store that holds events already is loaded through a staging (only the
// staged load compares new events with stored ones), and still gets each
// event once.
func TestStreamedLoadOnlyIntoAnEmptyStore(t *testing.T) {
	in := t.TempDir()
	first := writeInput(t, in, "first.jsonl", login("2024-03-05T11:00:00Z", "us-east-1"))
	both := writeInput(t, in, "both.jsonl", login("2024-03-05T11:00:00Z", "us-east-1")+login("2024-03-05T11:00:00Z", "eu-west-1"))
	db := filepath.Join(t.TempDir(), "case.duckdb")
	if run := ingestInto(t, db, ingest.Options{}, first); !run.Streamed || run.Inserted != 1 {
		t.Fatalf("first run: streamed %v, %d stored; want true, 1", run.Streamed, run.Inserted)
	}
	if run := ingestInto(t, db, ingest.Options{}, both); run.Streamed || run.Inserted != 1 {
		t.Fatalf("second run: streamed %v, %d stored; want false, 1", run.Streamed, run.Inserted)
	}
	if n := storeCount(t, db, false, "SELECT count(*) FROM events"); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}

// An event read again after the key cache let its partition go is found
// in the store before the commit and stored once.
func TestStreamedLoadDropsRepeatsTheCacheForgot(t *testing.T) {
	defer func(n, b int) { maxCachedKeys, streamBatchEvents = n, b }(maxCachedKeys, streamBatchEvents)
	maxCachedKeys, streamBatchEvents = 12, 8
	in := t.TempDir()
	var inputs []string
	var firstAccount string
	for a, acct := range []string{"111111111111", "222222222222", "333333333333", "444444444444"} {
		var b strings.Builder
		for i := range 8 {
			fmt.Fprintf(&b, `{"eventVersion":"1.08","eventTime":"2024-03-05T11:00:%02dZ","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","recipientAccountId":"%s","userIdentity":{"type":"IAMUser","accountId":"%s"},"eventID":"00000000-0000-4000-8000-%012d"}`+"\n", i, acct, acct, 100*a+i)
		}
		inputs = append(inputs, writeInput(t, in, fmt.Sprintf("%d-%s.jsonl", a, acct), b.String()))
		if a == 0 {
			firstAccount = b.String()
		}
	}
	// The first account's events again, in a file read last, with a line
	// more so that it is not the same content.
	inputs = append(inputs, writeInput(t, in, "9-again.jsonl", firstAccount+"\n"))
	// In one transaction, and committed every file: the repeats are in the
	// last commit, their first copies in the first.
	defer func(c int, i time.Duration) { StreamCommitEvents, StreamCommitInterval = c, i }(StreamCommitEvents, StreamCommitInterval)
	StreamCommitInterval = 0
	for _, every := range []int{StreamCommitEvents, 8} {
		StreamCommitEvents = every
		db := filepath.Join(t.TempDir(), "case.duckdb")
		run := ingestInto(t, db, ingest.Options{Workers: 1}, inputs...)
		if !run.Streamed || run.Inserted != 32 || every == 8 && run.Commits != 6 {
			t.Errorf("commits every %d events: streamed %v, %d commits, %d events stored; want true, 6 if every 8 (one a file and the last), 32", every, run.Streamed, run.Commits, run.Inserted)
		}
		if n := storeCount(t, db, false, "SELECT count(*) FROM events"); n != 32 {
			t.Errorf("commits every %d events: %d events stored, want 32", every, n)
		}
		if n := storeCount(t, db, false, "SELECT count(DISTINCT file_id) FROM events WHERE account_id = '111111111111'"); n != 1 {
			t.Errorf("commits every %d events: the first account's events come from %d files, want 1 (one copy of each is kept, from the same file)", every, n)
		}
	}
}

// An input given twice in one run is recorded as a staged load records it:
// a row that would repeat one of the run (a dangling link's, say) once.
func TestStreamedLoadRecordsARepeatOnce(t *testing.T) {
	in := t.TempDir()
	writeInput(t, in, "one.jsonl", login("2024-03-05T11:00:00Z", "us-east-1"))
	must(t, os.Symlink(filepath.Join(in, "gone.json"), filepath.Join(in, "dangling.json")))
	dir := t.TempDir()
	streamed := filepath.Join(dir, "streamed.duckdb")
	if run := ingestInto(t, streamed, ingest.Options{}, in, in); !run.Streamed || run.Inserted != 1 {
		t.Fatalf("streamed %v, %d stored; want true, 1", run.Streamed, run.Inserted)
	}
	if n := storeCount(t, streamed, false, "SELECT count(*) FROM files WHERE path LIKE '%dangling.json'"); n != 1 {
		t.Errorf("%d rows for the dangling link read twice, want 1", n)
	}
	defer func() { streamLoads = true }()
	streamLoads = false
	staged := filepath.Join(dir, "staged.duckdb")
	ingestInto(t, staged, ingest.Options{}, in, in)
	const rows = "SELECT count(*) * 1000 + sum(hash(path, status, events)) % 1000 FROM files"
	if a, b := storeCount(t, streamed, false, rows), storeCount(t, staged, false, rows); a != b {
		t.Errorf("files rows: streamed %d, staged %d", a, b)
	}
}

// An event whose raw is not valid JSON (one that did not come through the
// decoder's strict rewriter) is not sent to the store: its file is failed
// with the record's error, and the others go on.
func TestStreamSinkRejectsInvalidRaw(t *testing.T) {
	s := newStreamSink(t.TempDir())
	rows := make(chan int64)
	go func() {
		var n int64
		for rec := range s.out {
			n += rec.NumRows()
			rec.Release()
		}
		rows <- n
	}()
	evs := testEvents(3, "111122223333")
	evs[1].Raw, evs[1].RawStrict = "{\"eventName\":\"x\x01y\"}", false
	must(t, s.WriteEvents(evs))
	f := &ingest.File{ID: evs[0].FileID, Path: "in.jsonl", Status: ingest.StatusLoaded, Events: 3}
	must(t, s.FileDone(f))
	must(t, s.Flush())
	if n := <-rows; n != 2 {
		t.Errorf("%d events sent, want 2", n)
	}
	if f.Status != ingest.StatusFailed || f.Events != 2 || len(f.Errors) != 1 || f.Errors[0].RecordIndex != evs[1].RecordIndex {
		t.Errorf("file: status %s, %d events, errors %+v; want failed, 2, the record's", f.Status, f.Events, f.Errors)
	}
	if len(s.files) != 1 || s.files[0].Status != ingest.StatusFailed || len(s.errs) != 1 {
		t.Errorf("manifest rows %+v, errors %+v", s.files, s.errs)
	}
}

// TestExportWritesEveryEvent exports a store of several batches of events
// (the exporter hands the writer a thousand at a time) and reads back the
// same rows, each once.
func TestExportWritesEveryEvent(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 2600 {
		fmt.Fprintf(&b, `{"eventVersion":"1.08","eventTime":"2024-03-%02dT11:%02d:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"%08d-0000-4000-8000-000000000000","sourceIPAddress":"198.51.100.%d"}`+"\n", 1+i%5, i%60, i, i%250)
	}
	input := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(input, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "case.duckdb")
	ingestInto(t, db, ingest.Options{}, input)
	src, err := query.Open(context.Background(), db, true)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ds := filepath.Join(dir, "lake")
	w, err := NewWriter(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Export(context.Background(), src, w, m); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := Open(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// event_rows' columns, not the store's own (how it holds event_id).
	q := "SELECT count(*) || ' ' || count(DISTINCT event_id) || ' ' || sum(hash(e)) FROM (SELECT " +
		query.ColumnList(query.StoredEventColumns()) + " FROM event_rows) e"
	var want, got string
	if err := src.DB.QueryRow(q).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if err := out.DB.QueryRow(q).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(want, "2600 2600 ") || got != want {
		t.Errorf("exported events (count, distinct ids, hash): %s; the store's %s", got, want)
	}
}
