package query

import (
	"context"
	"fmt"
	"testing"
)

// A dataset's sessions are built at the end of a run, beside what the run
// still holds: DuckDB gets less memory there than when it reads a dataset.
func TestOpenSourcesToBuildCapsDuckDBLower(t *testing.T) {
	ctx := context.Background()
	units := map[string]float64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
	limit := func(open func(context.Context, string, map[string]string) (*Store, error)) float64 {
		s, err := open(ctx, "test", map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var text, unit string
		var n float64
		if err := s.DB.QueryRowContext(ctx, "SELECT current_setting('memory_limit')").Scan(&text); err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscanf(text, "%f %s", &n, &unit); err != nil || units[unit] == 0 {
			t.Fatalf("memory_limit %q: not a size (%v)", text, err)
		}
		return n * units[unit]
	}
	read, build := limit(OpenSources), limit(OpenSourcesToBuild)
	if build >= read {
		t.Errorf("memory limit for a build %.0f bytes, for reading %.0f: want a lower one for the build", build, read)
	}
}
