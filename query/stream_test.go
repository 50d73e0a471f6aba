package query

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// smallWindows makes windows of at most bytes and rows for the test.
func smallWindows(t *testing.T, bytes, rows int64) {
	t.Helper()
	oldBytes, oldRows := windowBytes, windowRows
	windowBytes, windowRows = bytes, rows
	t.Cleanup(func() { windowBytes, windowRows = oldBytes, oldRows })
}

// oneConnection is an in-memory store whose pool has a single connection,
// so that a temporary table left behind would be seen.
func oneConnection(t *testing.T) *sql.DB {
	t.Helper()
	s := openTestStore(t)
	s.DB.SetMaxOpenConns(1)
	return s.DB
}

func readAll(t *testing.T, rows interface {
	Columns() ([]string, error)
	Next() bool
	Scan(...any) error
	Err() error
}) (cols []string, out []string) {
	t.Helper()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, out
}

// A streamed result is the statement's: the same rows in the same order,
// its own column names (repeated ones too), its parameters, across many
// windows; and nothing is left behind.
func TestStreamIsTheStatementsResult(t *testing.T) {
	smallWindows(t, 1<<10, 7)
	oldSized := sizedRows
	sizedRows = 60
	t.Cleanup(func() { sizedRows = oldSized })
	ctx := context.Background()
	db := oneConnection(t)
	for _, c := range []struct {
		sql  string
		args []any
	}{
		{sql: "SELECT i % 13 AS a, i AS a, repeat('x', (i * 37) % 300) AS s FROM range(500) t(i) ORDER BY a DESC, i"},
		{sql: "SELECT [i, i + 1] AS l, {'k': i}::JSON AS j, NULL AS n FROM range(100) t(i) WHERE i > ? ORDER BY i DESC", args: []any{40}},
		{sql: "-- a comment first\nSELECT 1 AS one -- and last"},
		{sql: "SELECT i FROM range(10) t(i) WHERE false"},
		{sql: "DESCRIBE SELECT 1 AS one, 'x' AS two"},
		{sql: "SUMMARIZE SELECT i FROM range(20) t(i)"},
		{sql: "(DESCRIBE SELECT 1 AS one, 'x' AS two)"},
		// A column named rowid must not hide the rowid of the windows.
		{sql: "SELECT 400 - i AS rowid, i FROM range(400) t(i) ORDER BY i % 7, i DESC"},
		{sql: "SELECT NULL AS rowid, count(*) AS n FROM range(3)"},
		{sql: "SELECT 'x' AS RowId"},
		// The statement's end: a semicolon, comments, quoted text.
		{sql: "SELECT ';' AS s, $$--;$$ AS d /* ; */ ; -- the end;"},
		{sql: "SELECT 1 AS one; /* a last comment */\n"},
		{sql: "SELECT i FROM range(10) t(i) WHERE i > $1; -- a positional parameter", args: []any{5}},
	} {
		direct, err := db.QueryContext(ctx, c.sql, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		wantCols, want := readAll(t, direct)
		direct.Close()
		rows, err := Stream(ctx, db, c.sql, c.args...)
		if err != nil {
			t.Fatalf("Stream %s: %v", c.sql, err)
		}
		gotCols, got := readAll(t, rows)
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gotCols, wantCols) {
			t.Errorf("%s: columns %q, want %q", c.sql, gotCols, wantCols)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d rows differ from the statement's %d:\n%q\nwant\n%q", c.sql, len(got), len(want), got, want)
		}
		var left int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_tables() WHERE temporary").Scan(&left); err != nil || left != 0 {
			t.Errorf("%s: %d temporary tables left (%v)", c.sql, left, err)
		}
	}
}

// Each window holds at most windowRows rows and windowBytes bytes plus
// its last row, and the windows cover every row once, in order.
func TestStreamWindowsAreBounded(t *testing.T) {
	const maxBytes, maxRows = 4096, 50
	smallWindows(t, maxBytes, maxRows)
	ctx := context.Background()
	db := oneConnection(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Sizes from a few bytes to several windows' worth, in runs.
	if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE sized AS
SELECT i, repeat('y', CASE WHEN i % 97 = 0 THEN 3 * 4096 WHEN i % 10 < 3 THEN 900 ELSE i % 40 END) AS s,
  CASE WHEN i % 5 = 0 THEN [repeat('z', 200)] END AS l
FROM range(2000) t(i)`); err != nil {
		t.Fatal(err)
	}
	size, err := rowSize(ctx, conn, "temp.main.sized")
	if err != nil {
		t.Fatal(err)
	}
	// Sized in blocks of 300 rows, as Rows does.
	var windows [][2]int64
	for lo := int64(0); lo < 2000; lo += 300 {
		w, err := tableWindows(ctx, conn, "temp.main.sized", size, lo, min(lo+299, 1999))
		if err != nil {
			t.Fatal(err)
		}
		windows = append(windows, w...)
	}
	next := int64(0)
	for _, w := range windows {
		if w[0] != next || w[1] < w[0] {
			t.Fatalf("window %v after row %d: the windows must cover the rows in order", w, next-1)
		}
		next = w[1] + 1
		// The rows before the window's last start within its bytes.
		var before, rows int64
		if err := conn.QueryRowContext(ctx, `SELECT coalesce(sum(16 + 16 + 16 + strlen(s) + coalesce(strlen(l::VARCHAR), 0)) FILTER (WHERE rowid < ?), 0), count(*)
FROM temp.main.sized WHERE rowid BETWEEN ? AND ?`, w[1], w[0], w[1]).Scan(&before, &rows); err != nil {
			t.Fatal(err)
		}
		if rows > maxRows || before >= maxBytes {
			t.Errorf("window %v: %d rows, %d bytes before its last; at most %d rows, under %d bytes", w, rows, before, maxRows, maxBytes)
		}
	}
	if next != 2000 {
		t.Errorf("the windows end at row %d, want 2000", next)
	}
	if len(windows) < 2000/maxRows {
		t.Errorf("%d windows for 2000 rows of at most %d", len(windows), maxRows)
	}
}

// A statement DuckDB rejects reports itself, not the table made of it.
func TestStreamErrorsAreTheStatements(t *testing.T) {
	ctx := context.Background()
	db := oneConnection(t)
	_, err := Stream(ctx, db, "SELECT no_such_column FROM range(3)")
	if err == nil || strings.Contains(err.Error(), "CREATE") || !strings.Contains(err.Error(), "no_such_column") {
		t.Fatalf("error %v: want DuckDB's error about the statement as written", err)
	}
	// Errors found while it runs point into the statement as written.
	for q, line := range map[string]string{
		"SELECT 'x'::INTEGER":             "LINE 1: SELECT 'x'::INTEGER",
		"SELECT 1 AS a,\n  'y'::INTEGER;": "LINE 2:   'y'::INTEGER",
	} {
		_, err = Stream(ctx, db, q)
		if err == nil || strings.Contains(err.Error(), "trailsift_result") || !strings.Contains(err.Error(), line) {
			t.Errorf("%q: error %v: want the conversion error at %q", q, err, line)
		}
	}
	var left int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_tables() WHERE temporary").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d temporary tables left after errors (%v)", left, err)
	}
}

// An out-of-memory error keeps its first line and says what a user can do:
// not DuckDB's advice to change settings that are locked; and it is still
// an engine error (exit 1, a rule run stops).
func TestOutOfMemoryAdvice(t *testing.T) {
	err := explain(fmt.Errorf("run: %w", &duckdb.Error{Type: duckdb.ErrorTypeOutOfMemory,
		Msg: "Out of Memory Error: failed to pin block of size 256.0 KiB (381.6 MiB/381.4 MiB used)\n\nPossible solutions:\n* Increasing the memory limit (SET memory_limit='...GB')"}))
	msg := err.Error()
	if !strings.HasPrefix(msg, "Out of Memory Error: failed to pin block") || strings.Contains(msg, "SET memory_limit") ||
		!strings.Contains(msg, "event_key IN") || !IsEngineError(err) {
		t.Errorf("error %q (engine error %v): want DuckDB's first line, trailsift's advice, an engine error", msg, IsEngineError(err))
	}
}
