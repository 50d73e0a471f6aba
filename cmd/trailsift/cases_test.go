package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// Stores built once per test run and shared read-only by the report tests.
var (
	sharedMu    sync.Mutex
	sharedCases = map[string]string{}
	sharedDir   string
)

// sharedCase ingests inputs into a store once per test run (keyed by name)
// and returns its path; tests only read it.
func sharedCase(t *testing.T, name string, inputs ...string) string {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if p, ok := sharedCases[name]; ok {
		return p
	}
	if sharedDir == "" {
		d, err := os.MkdirTemp("", "trailsift-test-")
		if err != nil {
			t.Fatal(err)
		}
		sharedDir = d
	}
	p := filepath.Join(sharedDir, name+".duckdb")
	args := append([]string{"ingest", "-q", "--db", p}, inputs...)
	if _, stderr, code := run(t, "", args...); code != exitOK && code != exitPartial {
		t.Fatalf("ingest %s: exit %d %s", name, code, stderr)
	}
	sharedCases[name] = p
	return p
}

func removeSharedCases() {
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
}

// samplesCase is the bundled samples' store.
func samplesCase(t *testing.T) string { return sharedCase(t, "samples", sampleInputs()...) }

// hostileCase is a store of events whose every field is an attack.
func hostileCase(t *testing.T) string {
	return sharedCase(t, "hostile", filepath.Join("testdata", "hostile"))
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/trailsift -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("%s differs from the golden file at line %d:\n got %q\nwant %q\n(run with -update if the change is intended)", p, i+1, g, w)
				return
			}
		}
	}
}

var mdEscapedPath = strings.NewReplacer("\\", "\\\\", "_", "\\_", "*", "\\*", "[", "\\[", "]", "\\]", "#", "\\#", "`", "\\`", "|", "\\|")

// stable replaces what changes from run to run (generation time, temp paths)
// and the checkout's location in the manifest's paths.
func stable(s, dbPath string) string {
	s = strings.ReplaceAll(s, dbPath, "CASE.duckdb")
	if repo, err := filepath.Abs(filepath.Join("..", "..")); err == nil {
		repo += string(filepath.Separator)
		s = strings.ReplaceAll(s, repo, "REPO/")
		s = strings.ReplaceAll(s, mdEscapedPath.Replace(repo), "REPO/") // as the Markdown report writes it
	}
	return regexp.MustCompile(`Generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`).ReplaceAllString(s, "Generated TIME")
}
