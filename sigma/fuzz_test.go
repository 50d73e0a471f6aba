package sigma

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/trailsift/trailsift/query"
)

// FuzzParse feeds arbitrary text to the rule reader: it must not panic, and
// every rule it compiles must be SQL that DuckDB reads as one SELECT that
// binds against the events view: no value or field name leaves its literal.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/cases/*.yml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("title: t\nid: x\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s:\n    eventName: \"a'b\"\n  condition: s\n"))
	ctx := context.Background()
	store, err := query.Open(ctx, "", false)
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		set, _ := Parse("fuzz.yml", data)
		for _, r := range set.Rules() {
			if err := query.CheckReadOnly(ctx, store.DB, r.SQL()); err != nil {
				t.Fatalf("rule %s compiled to SQL DuckDB refuses: %v\n%s", r.ID, err, r.SQL())
			}
		}
	})
}
