package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// ErrNotReadOnly is returned for statements that would change something:
// queries over a case are read-only.
var ErrNotReadOnly = errors.New("only read-only queries (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE) are allowed")

const readOnlyHint = "the case database is evidence and never changes; write results out with --format csv|json|jsonl|parquet --out FILE"

// SQLError is a query DuckDB rejected, with a hint for the user.
type SQLError struct {
	Err  error
	Hint string
}

func (e *SQLError) Error() string { return "sql: " + e.Err.Error() }
func (e *SQLError) Unwrap() error { return e.Err }

// CheckReadOnly prepares sqlText on its own and refuses anything but a
// single read-only statement. The store is opened read-only too; this gives
// the clear message, and also stops COPY ... TO and ATTACH, which a
// read-only database would still run.
func CheckReadOnly(ctx context.Context, db *sql.DB, sqlText string) error {
	// Preparing several statements would run all but the last, so the text
	// is parsed first: json_serialize_sql accepts only SELECT statements,
	// without running anything.
	var failed bool
	var n sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT coalesce(json_extract(s, '$.error')::BOOLEAN, false),
		json_array_length(json_extract(s, '$.statements')) FROM (SELECT json_serialize_sql($1::VARCHAR) AS s)`, sqlText).Scan(&failed, &n)
	if err != nil {
		return explain(err)
	}
	if failed {
		return &SQLError{Err: ErrNotReadOnly, Hint: readOnlyHint}
	}
	if n.Int64 != 1 {
		return &SQLError{Err: errors.New("give one statement at a time"), Hint: "run each query separately"}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("driver cannot prepare statements")
		}
		st, err := c.PrepareContext(ctx, sqlText)
		if err != nil {
			return explain(err)
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return errors.New("not a DuckDB statement")
		}
		typ, err := ds.StatementType()
		if err != nil {
			return err
		}
		switch typ {
		case duckdb.STATEMENT_TYPE_SELECT, duckdb.STATEMENT_TYPE_EXPLAIN, duckdb.STATEMENT_TYPE_RELATION:
			return nil
		case duckdb.STATEMENT_TYPE_PRAGMA:
			low := strings.ToLower(strings.TrimSpace(sqlText))
			if strings.HasPrefix(low, "pragma table_info") || strings.HasPrefix(low, "pragma show") {
				return nil
			}
		}
		return &SQLError{Err: ErrNotReadOnly, Hint: readOnlyHint}
	})
}

// Query runs one read-only statement.
func Query(ctx context.Context, db *sql.DB, sqlText string, args ...any) (*sql.Rows, error) {
	if err := CheckReadOnly(ctx, db, sqlText); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, explain(err)
	}
	return rows, nil
}

// StringLiteral quotes s as a SQL string literal, for the places DuckDB
// takes no parameter (file names in COPY and read_parquet). It is for paths
// the user gave, never for log content, which goes in as parameters.
func StringLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// CopyToParquet writes the result of a read-only query to a Parquet file.
func CopyToParquet(ctx context.Context, db *sql.DB, sqlText, path string) error {
	if err := CheckReadOnly(ctx, db, sqlText); err != nil {
		return err
	}
	q := fmt.Sprintf("COPY (%s\n) TO %s (FORMAT parquet, COMPRESSION zstd)", strings.TrimRight(strings.TrimSpace(sqlText), ";"), StringLiteral(path))
	if _, err := db.ExecContext(ctx, q); err != nil {
		return explain(err)
	}
	return nil
}

// explain wraps a DuckDB error with a hint when a name is unknown.
func explain(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Referenced column") || strings.Contains(msg, "not found in FROM clause"):
		return &SQLError{Err: err, Hint: "`trailsift schema` lists every table, view and column"}
	case strings.Contains(msg, "Table with name") || strings.Contains(msg, "does not exist"):
		return &SQLError{Err: err, Hint: "`trailsift schema` lists the tables (events, files, ingest_errors) and views (signins, mfa_device_changes, root_activity)"}
	case strings.Contains(msg, "Parser Error"):
		return &SQLError{Err: err, Hint: "DuckDB SQL; check the statement near the position above"}
	}
	return &SQLError{Err: err}
}
