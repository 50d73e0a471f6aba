package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutputNeverInsideEvidence: no output may land in the folder of any
// input, however the path reaches it (a link, a file given as input, a
// dangling link that writing would create).
func TestOutputNeverInsideEvidence(t *testing.T) {
	root := t.TempDir()
	evidence := filepath.Join(root, "evidence")
	if err := os.Mkdir(evidence, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTree(t, fixture("records"), evidence)
	entries, err := os.ReadDir(evidence)
	if err != nil || len(entries) == 0 {
		t.Fatalf("fixture: %v", err)
	}
	file := filepath.Join(evidence, entries[0].Name())
	link := filepath.Join(root, "link")
	if err := os.Symlink(evidence, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(root, "dangling.duckdb")
	if err := os.Symlink(filepath.Join(evidence, "made-by-link.duckdb"), dangling); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"db through a link to the evidence folder", []string{"ingest", "--db", filepath.Join(link, "case.duckdb"), evidence}},
		{"evidence given as a file", []string{"ingest", "--db", filepath.Join(evidence, "case.duckdb"), file}},
		{"evidence given through a link", []string{"ingest", "--db", filepath.Join(evidence, "case.duckdb"), link}},
		{"dangling link into the evidence", []string{"ingest", "--db", dangling, file}},
		{"parquet dataset beside an input file", []string{"ingest", "--parquet", filepath.Join(evidence, "lake"), file}},
		{"case folder through a link", []string{"analyze", "--out", filepath.Join(link, "case"), file}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, "", tt.args...)
			if code != exitUsage || !strings.Contains(stderr, "inside the evidence") {
				t.Errorf("exit %d, stderr %q; want %d and a refusal", code, stderr, exitUsage)
			}
			if !strings.Contains(stderr, tt.args[1]) {
				t.Errorf("the message does not name the flag %s: %q", tt.args[1], stderr)
			}
		})
	}
	after, err := os.ReadDir(evidence)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(entries) {
		var names []string
		for _, e := range after {
			names = append(names, e.Name())
		}
		t.Errorf("the evidence folder changed: %v", names)
	}

	// Outside the evidence is fine, also through a link.
	out := filepath.Join(root, "case.duckdb")
	if _, stderr, code := run(t, "", "ingest", "--quiet", "--db", out, link); code != exitOK {
		t.Errorf("ingest outside the evidence: exit %d, %s", code, stderr)
	}
}
