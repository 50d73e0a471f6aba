package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailsift/trailsift/cases"
	"github.com/trailsift/trailsift/query"
)

// makeVersion5 marks the store at db as made by a trailsift of schema
// version 5: opened for writing, it is migrated again.
func makeVersion5(t *testing.T, db string) {
	t.Helper()
	s, err := query.Open(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB.Exec("UPDATE trailsift_meta SET schema_version = 5"); err != nil {
		t.Fatal(err)
	}
}

// TestMigrationIsReported: ingest and analyze say when they migrate a
// store, and that its file keeps the old copy's space; --quiet says
// nothing.
func TestMigrationIsReported(t *testing.T) {
	want := []string{"from store schema version 5 to " + fmt.Sprint(query.SchemaVersion), "written again", "into a new database"}
	check := func(what, stderr string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: no %q in:\n%s", what, w, stderr)
			}
		}
	}
	db := ingestedCase(t)
	makeVersion5(t, db)
	_, stderr, code := run(t, "", "ingest", "--db", db, fixture("records"))
	if code != 0 {
		t.Fatalf("ingest: exit %d %s", code, stderr)
	}
	check("ingest", stderr)
	makeVersion5(t, db)
	if _, stderr, _ := run(t, "", "ingest", "-q", "--db", db, fixture("records")); stderr != "" {
		t.Errorf("ingest -q printed %q", stderr)
	}

	out := filepath.Join(t.TempDir(), "case")
	if _, stderr, code := run(t, "", "analyze", "-q", "--out", out, fixture("records")); code == exitError || code == exitUsage {
		t.Fatalf("analyze: exit %d %s", code, stderr)
	}
	makeVersion5(t, filepath.Join(out, cases.DatabaseFile))
	_, stderr, code = run(t, "", "analyze", "--out", out, fixture("records"))
	if code == exitError || code == exitUsage {
		t.Fatalf("analyze: exit %d %s", code, stderr)
	}
	check("analyze", stderr)
}
