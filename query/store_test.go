package query_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
)

// ingestInto loads inputs into the store the way `trailsift ingest` does.
func ingestInto(t testing.TB, s *query.Store, inputs ...string) lake.StoreRun {
	t.Helper()
	run, err := lake.IngestStore(context.Background(), s, inputs, ingest.Options{}, nil)
	if err != nil {
		t.Fatalf("ingest %v: %v", inputs, err)
	}
	return run
}

// openMemory opens an empty in-memory store, closed when the test ends.
func openMemory(t testing.TB) *query.Store {
	t.Helper()
	s, err := query.Open(context.Background(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func count(t testing.TB, s *query.Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.DB.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func fixture(name string) string { return filepath.Join("..", "ingest", "testdata", name) }

func TestStoreDedupesAcrossShapesAndRuns(t *testing.T) {
	s := openMemory(t)

	// The same three events arrive as an S3 file, a console download and
	// lookup-events pages: they are stored once.
	run := ingestInto(t, s, fixture("records"), fixture("event-history"), fixture("lookup-events"))
	if got := count(t, s, "SELECT count(*) FROM events"); got != 3 {
		t.Fatalf("events = %d, want 3", got)
	}
	if run.Inserted != 3 || run.Events != 9 {
		t.Errorf("inserted=%d read=%d, want 3 and 9", run.Inserted, run.Events)
	}
	if got := count(t, s, "SELECT count(*) FROM files WHERE status = 'loaded'"); got != 3 {
		t.Errorf("loaded files = %d, want 3", got)
	}

	// Running again reads nothing and stores nothing.
	run = ingestInto(t, s, fixture("records"), fixture("event-history"), fixture("lookup-events"))
	if run.FilesUnchanged != 3 || run.Events != 0 || run.Inserted != 0 {
		t.Errorf("re-run: %+v", run)
	}
	if got := count(t, s, "SELECT count(*) FROM files"); got != 3 {
		t.Errorf("files after re-run = %d, want 3", got)
	}
}

func TestStoreColumnsAreTypedAndQueryable(t *testing.T) {
	s := openMemory(t)
	ingestInto(t, s, fixture("records"), fixture("truncated-gzip"), fixture("time-formats"))
	var actor, mfa, ip, when string
	err := s.DB.QueryRow(`SELECT actor, mfa_used, source_ip, strftime(event_time, '%Y-%m-%dT%H:%M:%SZ')
		FROM events WHERE event_id = 'd38ce1b3-4575-4cb8-a632-611b8243bfc3' AND login_result = 'Failure'`).Scan(&actor, &mfa, &ip, &when)
	if err != nil {
		t.Fatal(err)
	}
	if actor != "alice" || mfa != "Yes" || ip != "203.0.113.5" || when != "2023-08-24T21:07:08Z" {
		t.Errorf("got %s %s %s %s", actor, mfa, ip, when)
	}
	// JSON columns answer JSON paths.
	if got := count(t, s, `SELECT count(*) FROM events WHERE request_parameters->>'userName' = 'alice'`); got != 1 {
		t.Errorf("request_parameters->>'userName' matched %d, want 1", got)
	}
	if got := count(t, s, `SELECT count(*) FROM events WHERE raw->>'eventID' = event_id`); got < 3 {
		t.Errorf("raw->>'eventID' matched %d", got)
	}
	// Provenance joins back to the manifest.
	if got := count(t, s, `SELECT count(*) FROM events e JOIN files f USING (file_id) WHERE f.sha256 IS NOT NULL`); got != count(t, s, "SELECT count(*) FROM events") {
		t.Errorf("events without a files row: %d joined", got)
	}
	// The truncated file is failed, its error stored with the offset.
	if got := count(t, s, `SELECT count(*) FROM ingest_errors WHERE path LIKE '%cut.json.gz' AND byte_offset > 0 AND severity = 'error'`); got != 1 {
		t.Errorf("ingest_errors for the truncated file = %d, want 1", got)
	}
	// The unparseable time is kept with a NULL event_time and a warning.
	if got := count(t, s, `SELECT count(*) FROM events WHERE event_time IS NULL`); got != 1 {
		t.Errorf("events with no time = %d, want 1", got)
	}
	if got := count(t, s, `SELECT count(*) FROM ingest_errors WHERE severity = 'warning' AND message LIKE '%yesterday%'`); got != 1 {
		t.Errorf("warning for unparseable time = %d, want 1", got)
	}
}

func TestStoreFileIsReadableByAnotherConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "case.duckdb")
	s, err := query.Open(context.Background(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	ingestInto(t, s, fixture("records"))
	s.Close()
	ro, err := query.Open(context.Background(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got := count(t, ro, "SELECT count(*) FROM events"); got != 3 {
		t.Errorf("events = %d", got)
	}
	if _, err := ro.DB.Exec("DELETE FROM events"); err == nil {
		t.Error("a read-only store accepted DELETE")
	}
}

func TestRawFieldsReadFromRaw(t *testing.T) {
	s := openMemory(t)
	in := filepath.Join(t.TempDir(), "events.ndjson")
	lines := `{"eventTime":"2024-01-02T03:04:05Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","eventID":"e1","requestID":"req-1","sharedEventID":"shared-1"}
{"eventtime":"2024-01-02T03:04:06Z","eventsource":"iam.amazonaws.com","eventname":"ListRoles","eventid":"e2","requestid":"req-2"}
{"eventTime":"2024-01-02T03:04:07Z","eventSource":"iam.amazonaws.com","eventName":"ListGroups","eventID":"e3"}
`
	if err := os.WriteFile(in, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	ingestInto(t, s, in)
	rows, err := s.DB.Query("SELECT event_id, coalesce(request_id, '-'), coalesce(shared_event_id, '-') FROM events ORDER BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, req, shared string
		if err := rows.Scan(&id, &req, &shared); err != nil {
			t.Fatal(err)
		}
		got = append(got, id+" "+req+" "+shared)
	}
	want := []string{"e1 req-1 shared-1", "e2 req-2 -", "e3 - -"}
	if !slices.Equal(got, want) {
		t.Fatalf("request and shared event ids = %q, want %q", got, want)
	}
}

func TestOpenRefusesAnotherVersionsEventColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.duckdb")
	s, err := query.Open(context.Background(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Exec("ALTER TABLE event_rows ADD COLUMN request_id VARCHAR"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = query.Open(context.Background(), path, false)
	if err == nil || !strings.Contains(err.Error(), "another version of trailsift") || !strings.Contains(err.Error(), "--db NEW.duckdb") {
		t.Fatalf("opening a store with other event columns: %v", err)
	}
}

// TestOpenTwiceInOneProcess: a second open of a file shares DuckDB's
// instance, whose settings are already locked; it must still open.
func TestOpenTwiceInOneProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.duckdb")
	first, err := query.Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := query.Open(ctx, path, false)
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	defer second.Close()
	var tz string
	if err := second.DB.QueryRow("select current_setting('TimeZone')").Scan(&tz); err != nil || tz != "UTC" {
		t.Errorf("TimeZone %q, %v", tz, err)
	}
}

// TestInMemorySpillStaysOutOfTheWorkingFolder: an in-memory database
// (every Parquet dataset is read through one) spills into a private folder
// under the system's temporary folder, removed on Close, never into .tmp
// in the working folder, which may be the evidence (DuckDB's default).
func TestInMemorySpillStaysOutOfTheWorkingFolder(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	t.Chdir(work)
	t.Setenv("TMPDIR", t.TempDir())
	s, err := query.OpenMemory(ctx, "64MB")
	if err != nil {
		t.Fatal(err)
	}
	var spill string
	if err := s.DB.QueryRowContext(ctx, "SELECT current_setting('temp_directory')").Scan(&spill); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(spill, os.TempDir()+string(os.PathSeparator)) {
		t.Errorf("spill folder %q, want one under %s", spill, os.TempDir())
	}
	// A sort larger than the memory limit: DuckDB has to spill.
	var n int64
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT md5(i::VARCHAR) || md5(i::VARCHAR) AS v FROM range(1500000) t(i) ORDER BY v)").Scan(&n); err != nil || n != 1500000 {
		t.Fatalf("sort: %d rows, %v", n, err)
	}
	if _, err := os.Stat(spill); err != nil {
		t.Errorf("the sort did not spill into %s: %v", spill, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("the working folder holds %v, want nothing", entries)
	}
	if _, err := os.Stat(spill); !os.IsNotExist(err) {
		t.Errorf("spill folder %s left after Close: %v", spill, err)
	}
}

// TestWritableStoreRowGroups: a writable store writes row groups of half
// DuckDB's default (an insert's threads each hold one uncompressed, raw
// included), spills beside itself, and a second open in the same process
// shares the first's DuckDB instance: two instances writing one file would
// each think they own it.
func TestWritableStoreRowGroups(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.duckdb")
	first, err := query.Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.DB.ExecContext(ctx, `INSERT INTO event_rows (event_key, raw, file_id, record_index)
SELECT i, '{}', 1, i FROM range(200000) t(i)`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, first, `SELECT max(n) FROM (SELECT row_group_id, max(start + count) - min(start) AS n FROM pragma_storage_info('event_rows')
WHERE column_name = 'event_key' GROUP BY row_group_id)`); n <= 0 || n > 61440 {
		t.Errorf("largest row group %d rows, want at most 61440", n)
	}
	// Every connection of the pool reads the store, those opened after the
	// settings were locked too.
	var conns []*sql.Conn
	for range 3 {
		c, err := first.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var n int64
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil || n != 200000 {
			t.Errorf("connection %d: %d events, %v", i, n, err)
		}
	}
	var spill string
	if err := first.DB.QueryRowContext(ctx, "SELECT current_setting('temp_directory')").Scan(&spill); err != nil || spill != path+".tmp" {
		t.Errorf("spills into %q (%v), want %s", spill, err, path+".tmp")
	}
	// The second open names the file through a link to its folder.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Dir(path), link); err != nil {
		t.Fatal(err)
	}
	second, err := query.Open(ctx, filepath.Join(link, filepath.Base(path)), false)
	if err != nil {
		t.Fatal(err)
	}
	if second.DB != first.DB {
		t.Error("a second open made another DuckDB instance of the same file")
	}
	if _, err := query.Open(ctx, path, true); err == nil || !strings.Contains(err.Error(), "open for writing") {
		t.Errorf("read-only open while open for writing: %v", err)
	}
	for _, c := range conns {
		c.Close()
	}
	for range 2 { // a second Close of one Store does not close the other's
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, second, "SELECT count(*) FROM event_rows"); n != 200000 {
		t.Errorf("after the first close, the second sees %d events, want 200000", n)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := query.Open(ctx, path, true)
	if err != nil {
		t.Fatalf("read-only open after both closed: %v", err)
	}
	defer ro.Close()
	if n := count(t, ro, "SELECT count(*) FROM event_rows"); n != 200000 {
		t.Errorf("read back %d events, want 200000", n)
	}
}

// A duplicate's row names a file by content; only a file that was read
// makes its content known. A run stopped after a duplicate's row was
// stored, before the file it repeats was, reads that file again.
func TestManifestKnowsContentOnlyFromFilesRead(t *testing.T) {
	ctx := context.Background()
	s, err := query.OpenMemory(ctx, "64MB")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := query.ReadManifest(ctx, s.DB, `SELECT * FROM (VALUES
  ('b.json', 'aaa', 'duplicate'), ('c.json', 'ccc', 'failed'), ('d.json', 'ddd', 'loaded'), ('e.json', 'ddd', 'duplicate'))`)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := m.HasContent("aaa"); ok {
		t.Errorf("content known from a duplicate's row (%s): the file it repeats would never be read", p)
	}
	if !m.Has("b.json", "aaa") || m.Has("c.json", "ccc") {
		t.Errorf("the duplicate's own path is not known, or a failed file is")
	}
	if p, ok := m.HasContent("ddd"); !ok || p != "d.json" {
		t.Errorf("content ddd: %q %v, want d.json, the file read", p, ok)
	}
}

// TestSelectEveryColumnOfLargeEvents: every column of the events view,
// the ones computed from raw too, over thousands of events of a few KB
// (ordinary for CloudTrail) fits the store's memory: each column parsing
// raw again ran out of it. A store whose view an older trailsift made is
// read, read-only, through this version's views.
func TestSelectEveryColumnOfLargeEvents(t *testing.T) {
	dir := t.TempDir()
	var events []obj
	for i := range 6000 {
		events = append(events, obj{"eventVersion": "1.09", "eventTime": fmt.Sprintf("2024-03-05T10:%02d:%02dZ", i/60%60, i%60),
			"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "us-east-1", "eventID": fmt.Sprintf("ev-%d", i),
			"recipientAccountId": "111111111111", "requestID": fmt.Sprintf("req-%d", i),
			"userIdentity":        obj{"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/u", "userName": "u", "accountId": "111111111111"},
			"requestParameters":   obj{"userData": strings.Repeat("A", 3000), "tags": []any{obj{"k": "v"}}},
			"responseElements":    obj{"instancesSet": obj{"items": []any{obj{"instanceId": "i-1", "blob": strings.Repeat("B", 1500)}}}},
			"additionalEventData": obj{"x": strings.Repeat("C", 500)}})
	}
	// An export that lower-cased a key beside a null one: the value wins.
	events = append(events, obj{"eventVersion": "1.09", "eventTime": "2024-03-05T11:00:00Z", "eventSource": "ec2.amazonaws.com",
		"eventName": "DescribeInstances", "awsRegion": "us-east-1", "eventID": "ev-lc", "recipientAccountId": "111111111111",
		"requestID": nil, "requestid": "lc-req", "sharedEventID": nil, "sharedeventid": "lc-shared", "requestParameters": nil})
	db := filepath.Join(dir, "case.duckdb")
	s, err := query.Open(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	ingestInto(t, s, writeRecords(t, dir, "big.json", events...))
	if n := count(t, s, "SELECT count(*) FROM events WHERE request_id = 'lc-req' AND shared_event_id = 'lc-shared' AND request_parameters IS NULL"); n != 1 {
		t.Errorf("the lower-cased ids beside null ones: %d events, want 1", n)
	}
	const every = "SELECT count(*) FROM (SELECT * FROM events) t WHERE length(t::VARCHAR) > 5000"
	if n := count(t, s, every); n != 6000 {
		t.Errorf("%d events with every column, want 6000", n)
	}
	if n := count(t, s, "SELECT count(*) FROM events WHERE request_id = 'req-17' AND (request_parameters->>'$.tags[0].k') = 'v'"); n != 1 {
		t.Errorf("the computed columns found %d events, want 1", n)
	}
	if _, err := s.DB.Exec(query.OldEventsViewSQL()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// readOnly opens the store read-only and reads every column of it.
	readOnly := func(store string) *query.Store {
		t.Helper()
		ro, err := query.Open(context.Background(), db, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ro.Close() })
		if n := count(t, ro, every); n != 6000 {
			t.Errorf("read-only %s, over the old view: %d events with every column, want 6000", store, n)
		}
		return ro
	}
	ro := readOnly("store")
	if n := count(t, ro, "SELECT count(*) FROM signins"); n != 0 {
		t.Errorf("%d sign-ins, want 0", n)
	}
	// query --format parquet of every column: row groups cut by bytes, not
	// only by DuckDB's 122,880 rows, which with raw in every row were
	// hundreds of MB each and ran out of the store's memory.
	out := filepath.Join(dir, "all.parquet")
	if err := query.CopyToParquet(context.Background(), ro.DB, "SELECT * FROM events", out); err != nil {
		t.Fatal(err)
	}
	groups := count(t, ro, "SELECT count(DISTINCT row_group_id) FROM parquet_metadata("+query.StringLiteral(out)+")")
	if rows := count(t, ro, "SELECT count(*) FROM read_parquet("+query.StringLiteral(out)+")"); rows != 6001 || groups < 3 {
		t.Errorf("the Parquet copy: %d rows in %d row groups, want 6001 rows in several groups", rows, groups)
	}
	ro.Close()

	// The same store as the previous release left it (version 4: sessions
	// without issue_user_agent), with the old events view: read-only, this
	// version's views still, and the stored sessions with the column.
	raw, err := sql.Open("duckdb", db)
	if err != nil {
		t.Fatal(err)
	}
	makeOlder(t, raw, 4)
	raw.Close()
	ro = readOnly("version 4 store")
	// The IAM user acted without a key: no session, but the column is there.
	if n := count(t, ro, "SELECT count(*) FROM (SELECT session_id, issue_user_agent FROM sessions)"); n != 0 {
		t.Errorf("read-only version 4 store: %d sessions, want none", n)
	}
}

// A store opened to stream its rows out (export) is read-only, reads the
// same events, and caps DuckDB at half a store's memory.
func TestOpenToStream(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.duckdb")
	s, err := query.Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	ingestInto(t, s, "testdata/detections/root-console-login/events.ndjson")
	s.Close()
	limit := func(s *query.Store) (mib float64, events int64) {
		var text string
		if err := s.DB.QueryRowContext(ctx, "SELECT current_setting('memory_limit'), (SELECT count(*) FROM events)").Scan(&text, &events); err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscanf(text, "%f MiB", &mib); err != nil {
			t.Fatalf("memory_limit %q: %v", text, err)
		}
		return mib, events
	}
	plain, err := query.Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	storeMiB, want := limit(plain)
	plain.Close()
	streamed, err := query.OpenToStream(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer streamed.Close()
	mib, got := limit(streamed)
	if !streamed.ReadOnly || got != want || want == 0 || mib >= storeMiB*0.6 {
		t.Errorf("opened to stream: read-only %v, %d events (want %d), DuckDB capped at %.1f MiB (a store: %.1f)", streamed.ReadOnly, got, want, mib, storeMiB)
	}
	if _, err := streamed.DB.ExecContext(ctx, "SET memory_limit = '4GB'"); err == nil {
		t.Error("the cap can be raised")
	}
}
