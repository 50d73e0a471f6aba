package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func ingestedCase(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "case.duckdb")
	if _, stderr, code := run(t, "", "ingest", "-q", "--db", db, fixture("records"), fixture("ndjson")); code != 0 {
		t.Fatalf("ingest: exit %d %s", code, stderr)
	}
	return db
}

func TestQueryRefusesWrites(t *testing.T) {
	db := ingestedCase(t)
	for _, q := range []string{
		"DELETE FROM events",
		"DROP TABLE events",
		"INSERT INTO files SELECT * FROM files",
		"COPY events TO '" + filepath.Join(t.TempDir(), "x.csv") + "'",
		"ATTACH ':memory:' AS other",
		"SELECT 1; DELETE FROM events",
		"COPY (SELECT 1) TO '" + filepath.Join(t.TempDir(), "y.csv") + "'; SELECT 1",
		"CREATE TABLE x AS SELECT 1",
	} {
		_, stderr, code := run(t, "", "query", "--db", db, q)
		if code != exitUsage || !strings.Contains(stderr, "hint:") {
			t.Errorf("%q: exit %d, stderr %q; want refusal with a hint", q, code, stderr)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(filepath.Dir(db), "*.csv")); len(files) > 0 {
		t.Errorf("a refused statement wrote %v", files)
	}
	stdout, _, code := run(t, "", "query", "--db", db, "--format", "csv", "select count(*) as n from events")
	if code != 0 || stdout != "n\n3\n" {
		t.Errorf("after refused writes: exit %d, %q; want the 3 events intact", code, stdout)
	}
}

func TestQueryFormats(t *testing.T) {
	db := ingestedCase(t)
	q := "select event_id, actor, event_time, mfa_used from events where event_name = 'ConsoleLogin'"
	out, stderr, code := run(t, "", "query", "--db", db, "--format", "jsonl", q)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &row); err != nil {
		t.Fatalf("jsonl: %v: %q", err, out)
	}
	if row["actor"] != "alice" || row["event_time"] != "2023-08-24T21:07:08Z" || row["mfa_used"] != "Yes" {
		t.Errorf("row = %v", row)
	}
	out, _, _ = run(t, "", "query", "--db", db, "--format", "json", q)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Errorf("json: %v %q", err, out)
	}
	out, _, _ = run(t, "", "query", "--db", db, q)
	if !strings.Contains(out, "alice") || !strings.Contains(out, "(1 row)") {
		t.Errorf("table: %q", out)
	}
	// Parquet goes to a file, which DuckDB reads back.
	pq := filepath.Join(t.TempDir(), "r.parquet")
	// A final semicolon and a comment after it end the statement, as in
	// the other formats.
	if _, stderr, code := run(t, "", "query", "--db", db, "--format", "parquet", "--out", pq, "select * from signins; -- all of them"); code != 0 {
		t.Fatalf("parquet: exit %d %s", code, stderr)
	}
	out, _, _ = run(t, "", "query", "--db", db, "--format", "csv", "select count(*) as n, min(actor) as a from read_parquet('"+pq+"')")
	if out != "n,a\n2,alice\n" {
		t.Errorf("parquet read back: %q", out)
	}
	entries, _ := os.ReadDir(filepath.Dir(pq))
	if len(entries) != 1 {
		t.Errorf("temporary files left beside the output: %v", entries)
	}
}

func TestQueryUnknownColumnHint(t *testing.T) {
	db := ingestedCase(t)
	_, stderr, code := run(t, "", "query", "--db", db, "select actr from events")
	if code != exitUsage || !strings.Contains(stderr, `"actor"`) || !strings.Contains(stderr, "trailsift schema") {
		t.Errorf("exit %d stderr %q", code, stderr)
	}
}

func TestQueryCSVNeutralisesFormulas(t *testing.T) {
	db := ingestedCase(t)
	out, _, _ := run(t, "", "query", "--db", db, "--format", "csv", "select '=HYPERLINK(\"http://x\")' as a, '+1' as b, '-2' as c, '@x' as d, 'ok' as e")
	if !strings.Contains(out, `'=HYPERLINK`) || !strings.Contains(out, "'+1,'-2,'@x,ok") {
		t.Errorf("csv not neutralised: %q", out)
	}
}

// TestQueryOutRefusesToReplace: query --out, like report --out, never
// replaces an existing file without --force, in any format.
func TestQueryOutRefusesToReplace(t *testing.T) {
	db := ingestedCase(t)
	for _, format := range []string{"csv", "parquet"} {
		out := filepath.Join(t.TempDir(), "result."+format)
		if err := os.WriteFile(out, []byte("earlier work"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := run(t, "", "query", "--db", db, "--format", format, "--out", out, "select count(*) as n from events")
		if code != exitUsage || !strings.Contains(stderr, out+" exists: give --force") {
			t.Errorf("%s: exit %d, %s", format, code, stderr)
		}
		if b, _ := os.ReadFile(out); string(b) != "earlier work" {
			t.Errorf("%s: the existing file was changed: %q", format, b)
		}
		_, stderr, code = run(t, "", "query", "--db", db, "--format", format, "--out", out, "--force", "select count(*) as n from events")
		if code != exitOK || !strings.Contains(stderr, "replaced "+out) {
			t.Errorf("%s --force: exit %d, %s", format, code, stderr)
		}
		if b, _ := os.ReadFile(out); string(b) == "earlier work" {
			t.Errorf("%s --force: the file was not replaced", format)
		}
	}
}
