package query

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/duckdb/duckdb-go/v2"
)

func fileSHA(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestHostileRuleFiles: a rule file is one read-only SELECT, as DuckDB's
// parser reads it. Everything else is refused before any rule runs, with
// the file named, and the case database and its folder are unchanged.
func TestHostileRuleFiles(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	db := filepath.Join(dir, "case.duckdb")
	s, err := Open(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := fileSHA(t, db)
	out := filepath.Join(dir, "out.csv")
	lit := StringLiteral(out)
	dbLit := StringLiteral(db)
	for _, tt := range []struct{ name, sql, want string }{
		{"copy over the case", "COPY (" + okSelect + ") TO " + dbLit + " (FORMAT csv)", "not COPY"},
		{"copy out", "COPY (SELECT 1) TO " + lit, "not COPY"},
		// The old scanner read `'\'' AS a; COPY (SELECT 1) TO '` as one string.
		{"E-string hides a semicolon", "SELECT E'\\'' AS a; COPY (SELECT 1) TO " + lit + " --'", "a statement here that is not a SELECT"},
		{"E-string, two selects", "SELECT E'\\'' AS a; " + okSelect + " --'", "give exactly one statement: DuckDB reads 2"},
		{"two statements", okSelect + "; " + okSelect, "give exactly one statement"},
		{"attach", "ATTACH " + StringLiteral(filepath.Join(dir, "x.duckdb")) + " AS x", "not ATTACH"},
		{"pragma", "PRAGMA enable_profiling", "not PRAGMA"},
		{"pragma output", "PRAGMA profiling_output = " + lit, "not PRAGMA"},
		{"call", "CALL pragma_table_info('events')", "not CALL"},
		{"install", "INSTALL httpfs", "not INSTALL"},
		{"load", "LOAD httpfs", "not LOAD"},
		{"set", "SET threads = 1", "not SET"},
		{"create", "CREATE TABLE x AS " + okSelect, "not CREATE"},
		{"export", "EXPORT DATABASE " + StringLiteral(filepath.Join(dir, "exp")), "not EXPORT"},
		{"delete", "DELETE FROM event_rows", "not DELETE"},
		{"explain analyze copy", "EXPLAIN ANALYZE COPY (SELECT 1) TO " + lit, "not COPY"},
		{"explain after a block comment", "/* x */ EXPLAIN ANALYZE COPY (SELECT 1) TO " + lit, "not a SELECT"},
		{"query() table function", "SELECT * FROM query('COPY (SELECT 1) TO " + strings.ReplaceAll(lit, "'", "''") + "')", ""},
		{"query() export", "SELECT * FROM query('EXPORT DATABASE " + strings.ReplaceAll(StringLiteral(filepath.Join(dir, "exp")), "'", "''") + "')", ""},
		{"syntax", "SELEC 1", "Parser Error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), db, true)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rules, err := LoadRules(fstest.MapFS{"my/r.sql": {Data: []byte(okHeader + tt.sql)}})
			if err == nil {
				_, err = Detect(context.Background(), s.DB, rules, DetectOptions{})
			}
			var re *RuleError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), "my/r.sql") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a RuleError naming my/r.sql and saying %q", err, tt.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("the rule wrote %s", out)
			}
		})
	}
	if fileSHA(t, db) != before {
		t.Fatal("a rule file changed the case database")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the case folder holds more than the database: %v", entries)
	}
}

// TestReadOnlyGuard: what is read-only passes, DuckDB's own message comes
// back for SQL it cannot read, and writes are refused by name.
func TestReadOnlyGuard(t *testing.T) {
	db := openTestStore(t).DB
	ctx := context.Background()
	for _, q := range []string{
		"select 1", "SELECT 1;", "from events", "with a as (select 1) select * from a", "values (1)",
		"describe events", "show tables", "summarize select 1",
		"explain select * from events", "EXPLAIN ANALYZE select 1", "-- note\nexplain -- why\n analyze\n select 1",
		"explain (format json) select 1", "-- a comment first\nselect 1", "select 'a;b', E'\\';'",
	} {
		if err := CheckReadOnly(ctx, db, q); err != nil {
			t.Errorf("%q refused: %v", q, err)
		}
	}
	for _, tt := range []struct{ q, want string }{
		{"selec 1", `Parser Error: syntax error at or near "selec"`},
		{"select nope from events", `Referenced column "nope" not found`},
		{"select * from nope", "Table with name nope does not exist"},
		{"explain delete from event_rows", "not DELETE"},
		{"pragma table_info('events')", "not PRAGMA"},
		{"select 1; select 2", "DuckDB reads 2"},
		{"explain explain select 1", "Parser Error"},
		{"", "DuckDB reads 0"},
		{"-- only a comment", "DuckDB reads 0"},
		{"insert into files (path) values ('x')", "not INSERT"},
	} {
		err := CheckReadOnly(ctx, db, tt.q)
		var se *SQLError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want an SQLError saying %q", tt.q, err, tt.want)
		}
	}
}

// TestNoNetworkNoExtensions: DuckDB never downloads or loads an extension,
// whatever the SQL, and nothing is written in the home folder.
func TestNoNetworkNoExtensions(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	ctx := context.Background()
	s, err := Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mem, err := OpenMemory(ctx, "64MB")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	for _, tt := range []struct{ q, want string }{
		{"select * from read_parquet('https://example.com/x.parquet')", "requires the extension httpfs"},
		{"select * from read_csv('s3://bucket/x.csv')", "requires the extension httpfs"},
		{"select * from read_json('http://example.com/x.json')", "requires the extension httpfs"},
		{"install httpfs", "not INSTALL"},
		{"load httpfs", "not LOAD"},
		{"set autoinstall_known_extensions = true", "SET"},
	} {
		rows, err := Query(ctx, s.DB, tt.q)
		if err == nil {
			rows.Close()
		}
		var se *SQLError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want an SQLError saying %q", tt.q, err, tt.want)
		}
	}
	// Past the guard, in the code's own connections: the settings are
	// locked and an explicit INSTALL finds no repository.
	for name, q := range map[string]string{
		"set":        "SET autoload_known_extensions = true",
		"unlock":     "SET lock_configuration = false",
		"remote url": "SELECT * FROM read_parquet('https://example.com/x.parquet')",
	} {
		for _, db := range []*sql.DB{s.DB, mem.DB} {
			if _, err := db.ExecContext(ctx, q); err == nil {
				t.Errorf("%s: %q ran", name, q)
			}
		}
	}
	var tz string
	if err := mem.DB.QueryRowContext(ctx, "select current_setting('TimeZone')").Scan(&tz); err != nil || tz != "UTC" {
		t.Errorf("TimeZone %q, %v", tz, err)
	}
	// Parquet files are local: DuckDB keeps no copy of what it reads.
	var fileCache bool
	if err := mem.DB.QueryRowContext(ctx, "select current_setting('enable_external_file_cache')").Scan(&fileCache); err != nil || fileCache {
		t.Errorf("enable_external_file_cache %v, %v", fileCache, err)
	}
	entries, _ := os.ReadDir(home)
	if len(entries) != 0 {
		t.Fatalf("DuckDB wrote in HOME: %v", entries)
	}
}

// bindCounter is a SQL function that counts the times DuckDB binds it: once
// per statement prepared (planned) that calls it.
type bindCounter struct{ binds *atomic.Int64 }

func (b bindCounter) Config() duckdb.ScalarFuncConfig {
	integer, _ := duckdb.NewTypeInfo(duckdb.TYPE_INTEGER)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{integer}, ResultTypeInfo: integer}
}

func (b bindCounter) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{
		RowExecutor: func(v []driver.Value) (any, error) { return v[0], nil },
		ScalarBinder: func(ctx context.Context, _ []duckdb.ScalarUDFArg) (context.Context, error) {
			b.binds.Add(1)
			return ctx, nil
		},
	}
}

// TestQueryPlansOnce: QueryInMemory (Sigma's) checks and runs a statement
// with one plan. Planning the 800 rules of a Sigma pack takes about as
// long as running them over 100k events; the guard used to plan each
// statement once more. Query plans an EXPLAIN once too (a SELECT twice:
// for its column names, then into the table its windows read).
func TestQueryPlansOnce(t *testing.T) {
	ctx := context.Background()
	db := openTestStore(t).DB
	var binds atomic.Int64
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = duckdb.RegisterScalarUDF(conn, "counted", bindCounter{&binds})
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q      string
		stream bool
	}{
		{q: "SELECT counted(i::INTEGER) AS n FROM range(3) t(i)"},
		{q: "EXPLAIN ANALYZE SELECT counted(i::INTEGER) AS n FROM range(3) t(i)"},
		{q: "EXPLAIN ANALYZE SELECT counted(i::INTEGER) AS n FROM range(3) t(i)", stream: true},
	} {
		q := c.q
		binds.Store(0)
		var rows interface {
			Next() bool
			Close() error
		}
		if c.stream {
			rows, err = Query(ctx, db, q)
		} else {
			rows, err = QueryInMemory(ctx, db, q)
		}
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Close(); err != nil || n == 0 {
			t.Fatalf("%q: %d rows, %v", q, n, err)
		}
		if got := binds.Load(); got != 1 {
			t.Errorf("%q planned %d times, want once", q, got)
		}
	}
}
