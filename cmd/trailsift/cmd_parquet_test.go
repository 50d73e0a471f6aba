package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bundledSamples are the inputs of `make demo`.
func bundledSamples() []string {
	dir := filepath.Join("..", "..", "samples")
	return []string{filepath.Join(dir, "s3-export.zip"), filepath.Join(dir, "event-history.json"),
		filepath.Join(dir, "lookup-events-page1.json"), filepath.Join(dir, "lookup-events-page2.json"),
		filepath.Join(dir, "lake-export.ndjson"), filepath.Join(dir, "corrupt")}
}

// sameAnswers are read commands whose output must not depend on whether
// the events sit in a DuckDB file or a Parquet dataset.
var sameAnswers = [][]string{
	{"query", "--format", "csv", "SELECT * EXCLUDE (raw), md5(raw) FROM events ORDER BY event_key, event_time"},
	{"query", "--format", "csv", "SELECT * FROM signins ORDER BY event_time, event_id"},
	{"query", "--format", "csv", "SELECT * FROM mfa_device_changes ORDER BY event_time, event_id"},
	{"query", "--format", "csv", "SELECT * EXCLUDE (ingested_at) FROM files ORDER BY path"},
	{"query", "--format", "csv", "SELECT * FROM ingest_errors ORDER BY path, record_index"},
	{"detect", "--format", "json"},
	// A window reads only its days' parts of a dataset (Store.EventsIn).
	{"detect", "--format", "json", "--since", "2024-03-05", "--sigma", filepath.Join("..", "..", "samples", "sigma")},
	{"detect", "--format", "json", "--since", "2024-03-05T10:00Z", "--until", "2024-03-05T15:00Z"},
	{"timeline", "--format", "jsonl"},
	{"timeline", "--format", "jsonl", "--since", "2024-03-05T10:00Z", "--until", "2024-03-05T15:00Z"},
	{"timeline", "--finding", "console-brute-force", "--format", "csv"},
	{"signins", "--format", "csv"},
	{"report", "--format", "md"},
	{"coverage", "--format", "json"},
}

// withoutGenerated drops the report's "Generated <time> from <store>" line,
// the one line that names the store and the moment.
func withoutGenerated(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "Generated ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestParquetGivesSameResults ingests the bundled samples into a DuckDB
// store, into a Parquet dataset, and exports the store to a second
// dataset: every read command answers the same on all three.
func TestParquetGivesSameResults(t *testing.T) {
	dir := t.TempDir()
	db, ds, exported := filepath.Join(dir, "case.duckdb"), filepath.Join(dir, "lake"), filepath.Join(dir, "exported")
	inputs := bundledSamples()
	if _, stderr, code := run(t, "", append([]string{"ingest", "-q", "--db", db}, inputs...)...); code != exitPartial {
		t.Fatalf("ingest --db: exit %d %s", code, stderr)
	}
	_, stderr, code := run(t, "", append([]string{"ingest", "--parquet", ds}, inputs...)...)
	if code != exitPartial || !strings.Contains(stderr, "truncated.json.gz") || !strings.Contains(stderr, "dataset: "+ds) {
		t.Fatalf("ingest --parquet: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := run(t, "", "export", "-q", "--db", db, "--parquet", exported); code != 0 {
		t.Fatalf("export: exit %d %s", code, stderr)
	}
	if stored, _ := filepath.Glob(filepath.Join(exported, "_sessions", "sessions-*.parquet")); len(stored) != 1 {
		t.Errorf("export stored %d sessions files, want 1: %v", len(stored), stored)
	}
	for _, args := range sameAnswers {
		want, stderr, code := run(t, "", append(args, "--db", db)...)
		want = withoutGenerated(want)
		if code != 0 || len(want) < 100 {
			t.Fatalf("%v --db: exit %d, %d bytes\n%s", args, code, len(want), stderr)
		}
		for _, d := range []string{ds, exported} {
			got, stderr, code := run(t, "", append(args, "--parquet", d)...)
			if code != 0 {
				t.Fatalf("%v --parquet %s: exit %d %s", args, d, code, stderr)
			}
			if got = withoutGenerated(got); got != want {
				t.Errorf("%v differs on %s:\n got %.600s\nwant %.600s", args, filepath.Base(d), got, want)
			}
		}
	}
}

// TestParquetWindowReadsItsDays: with --since/--until, detect and timeline
// read only the part files of the window's days. A copy of a day's parts
// put in another day's folder doubles its events for every reader of the
// whole dataset; a window over the day does not see the copy, and answers
// as the store does.
func TestParquetWindowReadsItsDays(t *testing.T) {
	dir := t.TempDir()
	db, ds := filepath.Join(dir, "case.duckdb"), filepath.Join(dir, "lake")
	inputs := bundledSamples()
	run(t, "", append([]string{"ingest", "-q", "--db", db}, inputs...)...)
	run(t, "", append([]string{"ingest", "-q", "--parquet", ds}, inputs...)...)
	parts, _ := filepath.Glob(filepath.Join(ds, "*", "*", "date=2024-03-05", "*.parquet"))
	if len(parts) == 0 {
		t.Fatal("no part of 2024-03-05 in the dataset")
	}
	for _, p := range parts {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		copied := filepath.Join(filepath.Dir(filepath.Dir(p)), "date=2024-03-04", "copy-"+filepath.Base(p))
		if err := os.MkdirAll(filepath.Dir(copied), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copied, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const events = "SELECT count(*) FROM events WHERE event_time >= '2024-03-05'"
	if whole, store := scalar(t, openTarget(t, "--parquet", ds), events), scalar(t, openTarget(t, "--db", db), events); whole == store {
		t.Fatalf("the copied parts are not read by a query of the whole dataset: %s events, the store %s", whole, store)
	}
	for _, args := range [][]string{
		{"detect", "--format", "json", "--since", "2024-03-05"},
		{"detect", "--format", "json", "--since", "2024-03-05T10:00Z", "--until", "2024-03-05T15:00Z", "--sigma", filepath.Join("..", "..", "samples", "sigma")},
		// Not Identity Center sign-ins: their stories are told from every
		// step in the dataset, the copies too.
		{"timeline", "--format", "jsonl", "--event", "ConsoleLogin", "--since", "2024-03-05T10:00Z", "--until", "2024-03-05T15:00Z"},
		{"timeline", "--format", "md", "--event", "ConsoleLogin", "--since", "2024-03-05T10:00Z", "--until", "2024-03-05T15:00Z"},
		// Its "N more events match" counts the window's events.
		{"timeline", "--format", "jsonl", "--event", "ConsoleLogin", "--since", "2024-03-05T10:00Z", "--until", "2024-03-05T15:00Z", "--limit", "1"},
		{"signins", "--format", "csv", "--since", "2024-03-05"},
		{"signins", "--format", "md", "--since", "2024-03-05T10:00Z", "--until", "2024-03-05T15:00Z", "--limit", "2"},
	} {
		want, wantErr, _ := run(t, "", append(args, "--db", db)...)
		got, stderr, code := run(t, "", append(args, "--parquet", ds)...)
		if code != 0 || got != want || len(want) < 100 || moreMatch(stderr) != moreMatch(wantErr) {
			t.Errorf("%v: exit %d, %d bytes, the store's %d; the same: %v\n%s\nthe store's:\n%s", args, code, len(got), len(want), got == want, stderr, wantErr)
		}
	}
}

// moreMatch is the line of a timeline's stderr that says how many more
// events match (the dataset's also notes its sessions are rebuilt).
func moreMatch(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "more events match") {
			return l
		}
	}
	return ""
}

// TestParquetRerunAddsNothing runs the same ingest and export twice.
func TestParquetRerunAddsNothing(t *testing.T) {
	dir := t.TempDir()
	ds := filepath.Join(dir, "lake")
	inputs := bundledSamples()
	count := func() string {
		return scalar(t, openTarget(t, "--parquet", ds), "SELECT format('{} events {} files {} errors', (SELECT count(*) FROM events), (SELECT count(*) FROM files), (SELECT count(*) FROM ingest_errors))")
	}
	run(t, "", append([]string{"ingest", "-q", "--parquet", ds}, inputs...)...)
	first := count()
	parts, _ := filepath.Glob(filepath.Join(ds, "*", "*", "*", "*.parquet"))
	stdout, stderr, code := run(t, "", append([]string{"ingest", "--json", "--parquet", ds}, inputs...)...)
	// The corrupt sample is read again and fails again.
	if code != exitPartial || !strings.Contains(stdout, `"events_new": 0`) || !strings.Contains(stdout, `"files_loaded": 0`) || !strings.Contains(stdout, `"files_failed": 1`) {
		t.Fatalf("second ingest: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if again := count(); again != first {
		t.Errorf("second ingest changed the dataset: %s, was %s", again, first)
	}
	if after, _ := filepath.Glob(filepath.Join(ds, "*", "*", "*", "*.parquet")); len(after) != len(parts) {
		t.Errorf("second ingest wrote files: %d, was %d", len(after), len(parts))
	}
	// Exporting a store holding the same events into the dataset adds none.
	db := filepath.Join(dir, "case.duckdb")
	run(t, "", append([]string{"ingest", "-q", "--db", db}, inputs...)...)
	stdout, stderr, code = run(t, "", "export", "--json", "--db", db, "--parquet", ds)
	// No file record either: the failed sample's is there already.
	if code != 0 || !strings.Contains(stdout, `"events_new": 0`) || !strings.Contains(stdout, `"files": 0`) {
		t.Fatalf("export into the same dataset: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if again := count(); again != first {
		t.Errorf("export changed the dataset: %s, was %s", again, first)
	}
}

// An export whose sessions cannot be stored (a file where their folder
// goes) is a warning: every event is stored, exit 0, and the commands
// reading the dataset build the sessions themselves.
func TestExportSessionsFailureIsAWarning(t *testing.T) {
	dir := t.TempDir()
	db, ds := filepath.Join(dir, "case.duckdb"), filepath.Join(dir, "ds")
	if _, stderr, code := run(t, "", "ingest", "-q", "--db", db, filepath.Join("..", "..", "samples", "s3-export.zip")); code != 0 {
		t.Fatalf("ingest: exit %d\n%s", code, stderr)
	}
	if err := os.MkdirAll(ds, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ds, "_sessions"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, "", "export", "--json", "--db", db, "--parquet", ds)
	if code != 0 || !strings.Contains(stderr, "warning: ") || !strings.Contains(stderr, "every event is stored") {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	stored, _, _ := run(t, "", "query", "--format", "csv", "--db", db, "select count(*), count(distinct session_id) from sessions")
	read, _, code := run(t, "", "query", "--format", "csv", "--parquet", ds, "select count(*), count(distinct session_id) from sessions")
	if code != 0 || read != stored {
		t.Errorf("the dataset's sessions (exit %d):\n%s\nthe store's:\n%s", code, read, stored)
	}
}

func TestParquetUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ingest", "--db", "x.duckdb", "--parquet", dir, "in.json"}, "not both"},
		{[]string{"query", "--db", "x.duckdb", "--parquet", dir, "select 1"}, "not both"},
		{[]string{"detect", "--parquet", filepath.Join(dir, "nothing")}, "ingest --parquet"},
		{[]string{"export", "--db", filepath.Join(dir, "none.duckdb"), "--parquet", dir}, "no trailsift database"},
		{[]string{"export", "--db", "x.duckdb"}, "--parquet DIR is required"},
	} {
		_, stderr, code := run(t, "", c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, exitUsage, c.want)
		}
	}
}

// TestParquetStaleSessions: a dataset whose sessions were never stored (an
// ingest stopped before storing them) is read with them built once for
// the command, a note saying so, the same findings; running the same
// ingest again stores them, and the note is gone.
func TestParquetStaleSessions(t *testing.T) {
	ds := filepath.Join(t.TempDir(), "lake")
	inputs := bundledSamples()
	run(t, "", append([]string{"ingest", "-q", "--parquet", ds}, inputs...)...)
	want, stderr, code := run(t, "", "detect", "--format", "json", "--parquet", ds)
	if code != 0 || strings.Contains(stderr, "no sessions stored") || !strings.Contains(want, "role-chain-after-weak-signin") {
		t.Fatalf("detect with the sessions stored: exit %d\n%s", code, stderr)
	}
	if err := os.RemoveAll(filepath.Join(ds, "_sessions")); err != nil {
		t.Fatal(err)
	}
	got, stderr, code := run(t, "", "detect", "--format", "json", "--parquet", ds)
	if code != 0 || !strings.Contains(stderr, "has no sessions stored for its current events") || got != want {
		t.Errorf("detect with the sessions missing: exit %d, same findings %v\n%s", code, got == want, stderr)
	}
	if _, err := os.Stat(filepath.Join(ds, "_sessions")); !os.IsNotExist(err) {
		t.Errorf("a read command wrote into the dataset: %v", err)
	}
	run(t, "", append([]string{"ingest", "-q", "--parquet", ds}, inputs...)...)
	if _, stderr, _ := run(t, "", "detect", "--parquet", ds); strings.Contains(stderr, "no sessions stored") {
		t.Errorf("the same ingest again did not store the sessions:\n%s", stderr)
	}
}
