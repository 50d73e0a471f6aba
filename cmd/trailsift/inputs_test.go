package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// treeNames names every file and folder under dir.
func treeNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if rel, _ := filepath.Rel(dir, p); rel != "." {
			names = append(names, rel)
		}
		return nil
	})
	return names
}

// A missing input creates nothing; a run leaves no empty bookkeeping
// (locks, empty staging or commit folders) behind, whatever its end.
func TestIngestLeavesNoBookkeeping(t *testing.T) {
	out := t.TempDir()
	missing := filepath.Join(t.TempDir(), "nope")
	for _, args := range [][]string{
		{"ingest", "--db", filepath.Join(out, "x.duckdb"), missing},
		{"ingest", "--parquet", filepath.Join(out, "lake"), missing},
		{"analyze", "--out", filepath.Join(out, "case"), missing},
	} {
		if _, stderr, code := run(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, %s", args, code, stderr)
		}
	}
	if names := treeNames(t, out); len(names) > 0 {
		t.Errorf("a missing input created %v", names)
	}

	db := filepath.Join(out, "case.duckdb")
	ds := filepath.Join(out, "lake")
	for range 2 { // the second run reads nothing new
		if _, stderr, code := run(t, "", "ingest", "--db", db, fixture("ndjson")); code != 0 {
			t.Fatalf("ingest --db: exit %d: %s", code, stderr)
		}
		if _, stderr, code := run(t, "", "ingest", "--parquet", ds, fixture("ndjson")); code != 0 {
			t.Fatalf("ingest --parquet: exit %d: %s", code, stderr)
		}
	}
	names := treeNames(t, out)
	for _, leftover := range []string{"case.duckdb.staging", "case.duckdb.manifest", "lake/_lock", "lake/_staging", "lake/_commits"} {
		if slices.Contains(names, leftover) {
			t.Errorf("left behind: %s (all: %v)", leftover, names)
		}
	}
	if !slices.Contains(names, "case.duckdb") || !slices.Contains(names, "lake/_files") {
		t.Errorf("the stores are missing: %v", names)
	}
}

// A rerun over an input that still fails exits with the partial status,
// not 0 with "unchanged".
func TestRerunOfFailedInputStillFails(t *testing.T) {
	in := t.TempDir()
	os.WriteFile(filepath.Join(in, "bad.json"), []byte(`{"Records":[{"eventID":`), 0o644)
	db := filepath.Join(t.TempDir(), "case.duckdb")
	for run_ := range 2 {
		_, stderr, code := run(t, "", "ingest", "--db", db, in)
		if code != exitPartial {
			t.Errorf("run %d: exit %d, want %d: %s", run_, code, exitPartial, stderr)
		}
	}
	if got := scalar(t, openStore(t, db), "SELECT count(*) FROM files"); got != "1" {
		t.Errorf("%s manifest rows, want 1", got)
	}
}
