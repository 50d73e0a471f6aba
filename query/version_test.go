package query_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/klauspost/compress/gzip"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// v1Inputs are the fixtures testdata/v1store holds, as its generator
// ingested them (see testdata/v1store/main.go).
var v1Inputs = []string{"records", "event-history", "lookup-events", "ndjson", "time-formats", "truncated-gzip"}

// rebuildV1 makes, from the export in testdata/v1store, the store the
// previous release (schema version 1) made of v1Inputs, with its paths
// pointing at this checkout's ingest/testdata.
func rebuildV1(t *testing.T) (db string, inputs []string) {
	t.Helper()
	export, err := filepath.Abs(filepath.Join("testdata", "v1store"))
	if err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Abs(filepath.Join("..", "ingest", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	db = filepath.Join(t.TempDir(), "v1.duckdb")
	conn, err := sql.Open("duckdb", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var stmts []string
	for _, f := range []string{"schema.sql", "load.sql"} {
		b, err := os.ReadFile(filepath.Join(export, f))
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, strings.Split(strings.ReplaceAll(string(b), "$EXPORT", export), "\n")...)
	}
	for _, table := range []string{"files", "ingest_errors"} {
		stmts = append(stmts, "UPDATE "+table+" SET path = replace(path, '$TESTDATA', '"+testdata+"')")
	}
	for _, q := range stmts {
		if q = strings.TrimRight(q, ";"); strings.TrimSpace(q) != "" {
			if _, err := conn.Exec(q); err != nil {
				t.Fatalf("%.60s: %v", q, err)
			}
		}
	}
	for _, in := range v1Inputs {
		inputs = append(inputs, filepath.Join(testdata, in))
	}
	return db, inputs
}

// TestMigratesPreviousRelease opens a store of the previous release: read
// only it is read as it is; opened for writing it is migrated, after which
// it equals the store this version makes of the same evidence, and
// ingesting that evidence again adds nothing.
func TestMigratesPreviousRelease(t *testing.T) {
	ctx := context.Background()
	db, inputs := rebuildV1(t)
	// Version 1 keyed an event by its time's text: a copy of one event with
	// the time written another way (as a Lake export writes it) was a second
	// event there, and is the same event now.
	raw, err := sql.Open("duckdb", db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO event_rows SELECT * REPLACE (event_key + 1 AS event_key,
  replace(raw, '"eventTime":"2023-08-24T21:10:00Z"', '"eventTime":"2023-08-24 21:10:00.000"') AS raw)
FROM event_rows WHERE raw LIKE '%"eventTime":"2023-08-24T21:10:00Z"%'`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	ro, err := query.Open(ctx, db, true)
	if err != nil {
		t.Fatalf("read-only open of a version 1 store: %v", err)
	}
	before := count(t, ro, "SELECT count(*) FROM events")
	ro.Close()
	if before != 11 {
		t.Fatalf("the version 1 store holds %d events, want 11", before)
	}

	s, err := query.Open(ctx, db, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Migrated == nil || s.Migrated.From != 1 || s.Migrated.Merged != 1 {
		t.Fatalf("Migrated = %+v, want from version 1 with the copy merged", s.Migrated)
	}
	if v := count(t, s, "SELECT schema_version FROM trailsift_meta"); v != query.SchemaVersion {
		t.Errorf("schema_version = %d", v)
	}
	rows, err := s.DB.Query("SELECT file_id, path, coalesce(sha256, '') FROM files")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var path, sha string
		rows.Scan(&id, &path, &sha)
		if id != ingest.FileID(path, sha) {
			t.Errorf("%s: file_id %d is not this version's", path, id)
		}
	}
	rows.Close()
	if n := count(t, s, "SELECT count(*) FROM events WHERE file_id NOT IN (SELECT file_id FROM files)") +
		count(t, s, "SELECT count(*) FROM ingest_errors WHERE file_id NOT IN (SELECT file_id FROM files)"); n != 0 {
		t.Errorf("%d events or errors lost their file", n)
	}

	// The same evidence again: nothing new, no file recorded twice.
	files := count(t, s, "SELECT count(*) FROM files")
	run := ingestInto(t, s, inputs...)
	if run.Inserted != 0 || count(t, s, "SELECT count(*) FROM events") != before-s.Migrated.Merged {
		t.Errorf("re-ingest into the migrated store added %d events (%+v)", run.Inserted, run)
	}
	if got := count(t, s, "SELECT count(*) FROM files"); got != files {
		t.Errorf("files: %d after the re-ingest, %d before", got, files)
	}

	// Overlapping evidence in other files (other bytes, so they are read):
	// the records uncompressed, the lake export with CRLF line ends.
	other := t.TempDir()
	zr, err := os.Open(filepath.Join(inputs[0], "111122223333_CloudTrail_us-east-1_20230824T2110Z_abc.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(zr)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(gz)
	zr.Close()
	if err != nil {
		t.Fatal(err)
	}
	lakeExport, err := os.ReadFile(filepath.Join(inputs[3], "lake.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(other, "records.json"), plain, 0o644)
	os.WriteFile(filepath.Join(other, "lake.ndjson"), []byte(strings.ReplaceAll(string(lakeExport), "\n", "\r\n")), 0o644)
	run = ingestInto(t, s, other)
	if run.FilesLoaded != 2 || run.Events != 6 || run.Inserted != 0 {
		t.Errorf("overlapping evidence: %+v, want 2 files and 6 events read, none new", run)
	}

	// The same rows as this version stores from the evidence.
	fresh := openMemory(t)
	ingestInto(t, fresh, inputs...)
	// Which copy of an event delivered in several files is kept (its raw
	// text, file and record) is the first one read, and parallel readers
	// make that order vary: the signature covers what does not depend on it,
	// and every event must still point at a stored file.
	const sig = `SELECT count(*)::VARCHAR || ' ' || coalesce(sum(hash(event_key, event_time, event_id, event_name, actor, outcome, account_id, aws_region)), 0)::VARCHAR FROM events`
	var orphans int
	if err := s.DB.QueryRow(`SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.file_id = e.file_id)`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("%d migrated events point at no stored file (%v)", orphans, err)
	}
	var got, want string
	if err := s.DB.QueryRow(sig).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if err := fresh.DB.QueryRow(sig).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("migrated events %s, this version stores %s", got, want)
	}
	rules, err := query.BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := query.Detect(ctx, s.DB, rules, query.DetectOptions{}); err != nil {
		t.Errorf("detect on the migrated store: %v", err)
	}
}

// TestRefusesNewerStore: a store of a newer schema version is neither
// read nor written, and the message says why.
func TestRefusesNewerStore(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "case.duckdb")
	s, err := query.Open(ctx, db, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Exec("UPDATE trailsift_meta SET schema_version = schema_version + 1"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, readOnly := range []bool{true, false} {
		_, err := query.Open(ctx, db, readOnly)
		if !errors.Is(err, query.ErrNewerStore) || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "newer trailsift") {
			t.Errorf("read-only %v: %v", readOnly, err)
		}
	}
}
