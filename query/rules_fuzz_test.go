package query

import (
	"context"
	"io/fs"
	"os"
	"testing"
)

// FuzzParseRule: the rule-file parser never panics, and whatever it
// accepts renders to SQL that the read-only guard accepts or refuses
// without running any of it (the canary row stays, nothing is written).
func FuzzParseRule(f *testing.F) {
	sub, err := fs.Sub(detectionFiles, "detections")
	if err != nil {
		f.Fatal(err)
	}
	entries, _ := fs.ReadDir(sub, ".")
	for _, e := range entries {
		if b, err := fs.ReadFile(sub, e.Name()); err == nil && !e.IsDir() {
			f.Add(b)
		}
	}
	for _, body := range []string{
		okSelect,
		"SELECT E'\\'' AS a; DELETE FROM canary --'",
		"DELETE FROM canary",
		"COPY (SELECT 1) TO 'fuzz-out.csv'",
		"EXPLAIN ANALYZE DELETE FROM canary",
		"-- param: n = 3\n" + okSelect + " WHERE $n > 0; DROP TABLE canary",
		"SELECT $$;$$; DROP TABLE canary",
	} {
		f.Add([]byte(okHeader + body))
	}
	ctx := context.Background()
	s, err := Open(ctx, "", false)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB.ExecContext(ctx, "CREATE TABLE canary AS SELECT 1 AS alive"); err != nil {
		f.Fatal(err)
	}
	f.Chdir(f.TempDir()) // where a relative COPY ... TO would write
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRule("r.sql", data)
		if err != nil {
			return
		}
		q, err := r.Query(DetectOptions{})
		if err != nil {
			t.Fatalf("ParseRule accepted a rule that does not render: %v", err)
		}
		_ = CheckReadOnly(ctx, s.DB, q) // accepting or refusing are both fine
		var n int
		if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM canary").Scan(&n); err != nil || n != 1 {
			t.Fatalf("the guard ran something of\n%s\n(canary: %d rows, %v)", q, n, err)
		}
		if e, _ := os.ReadDir("."); len(e) != 0 {
			t.Fatalf("the guard wrote %v for\n%s", e, q)
		}
	})
}
