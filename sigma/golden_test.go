package sigma

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden SQL files")

// TestGoldenSQL pins the SQL of a few rules: a change in what the compiler
// writes shows up as a diff to read.
func TestGoldenSQL(t *testing.T) {
	for file, ids := range map[string][]string{
		"plain.yml":       {"case-plain"},
		"null_empty.yml":  {"case-null"},
		"not_missing.yml": {"case-not-missing"},
		"cidr.yml":        {"case-cidr"},
		"quoting.yml":     {"case-quoting"},
		"base64.yml":      {"case-base64"},
		"correlation.yml": {"corr-event-count", "corr-temporal-ordered"},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "cases", file))
		if err != nil {
			t.Fatal(err)
		}
		set, rep := Parse(file, data)
		if len(rep.Failed) > 0 {
			t.Fatal(rep.Failed)
		}
		for _, id := range ids {
			r, ok := set.Rule(id)
			if !ok {
				t.Fatalf("no rule %s", id)
			}
			golden := filepath.Join("testdata", "golden", id+".sql")
			got := r.SQL() + "\n"
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s: SQL changed:\n%s\nwant:\n%s", id, got, want)
			}
		}
	}
}
