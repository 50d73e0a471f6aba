package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// truncatedLog is a CloudTrail log file cut off half way: an ingest error
// that names the file.
func truncatedLog(t *testing.T) []byte {
	t.Helper()
	var recs []string
	for i := range 50 {
		recs = append(recs, ctEvent("00000000-0000-0000-0000-"+strings.Repeat("0", 10)+itoa2(i), "2024-03-05T10:00:00Z", "GetCallerIdentity", "sts.amazonaws.com", "alice", "null", ""))
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(`{"Records":[` + strings.Join(recs, ",") + `]}`))
	zw.Close()
	return b.Bytes()[:b.Len()/2]
}

func itoa2(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// TestProblemsShowTypedPaths: the ingest summary names a bad file as the
// user typed its input (relative stays relative, a doubled slash is
// cleaned, an archive member keeps its archive's path); an absolute input
// stays absolute.
func TestProblemsShowTypedPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll(filepath.Join("evidence", "corrupt"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := truncatedLog(t)
	if err := os.WriteFile(filepath.Join("evidence", "corrupt", "cut.json.gz"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("AWSLogs/cut.json.gz")
	w.Write(bad[:len(bad)-9]) // other content: not a duplicate of the loose file
	zw.Close()
	if err := os.WriteFile(filepath.Join("evidence", "export.zip"), zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		input string
		want  []string
	}{
		{"evidence//", []string{"error: evidence/corrupt/cut.json.gz (", "error: evidence/export.zip!AWSLogs/cut.json.gz ("}},
		{filepath.Join(dir, "evidence"), []string{"error: " + filepath.Join(dir, "evidence", "corrupt", "cut.json.gz") + " ("}},
	} {
		for _, cmd := range []string{"ingest", "analyze"} {
			args := []string{cmd, "--db", filepath.Join(t.TempDir(), "case.duckdb"), tt.input}
			if cmd == "analyze" {
				args = []string{cmd, "--out", filepath.Join(t.TempDir(), "case"), tt.input}
			}
			_, stderr, code := run(t, "", args...)
			if code != exitPartial {
				t.Fatalf("%s %s: exit %d %s", cmd, tt.input, code, stderr)
			}
			out, _, _ := run(t, "", append([]string{args[0], "--json", "-q"}, args[1:]...)...)
			if want := strings.TrimSuffix(strings.TrimPrefix(tt.want[0], "error: "), " ("); !strings.Contains(out, `"`+want+`"`) {
				t.Errorf("%s --json %s: failed_files has no %q:\n%s", cmd, tt.input, want, out)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("%s %s: no %q in\n%s", cmd, tt.input, want, stderr)
				}
			}
		}
	}
}
