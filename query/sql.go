package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// ErrNotReadOnly is returned for statements that would change something or
// reach outside the case: queries and rules are read-only.
var ErrNotReadOnly = errors.New("only read-only queries (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) are allowed")

// ErrOneStatement is returned for text that DuckDB reads as several
// statements (or none).
var ErrOneStatement = errors.New("give exactly one statement")

const readOnlyHint = "the case database is evidence and never changes; write results out with --format csv|json|jsonl|parquet --out FILE"

// SQLError is SQL the user wrote that cannot run: DuckDB's parser, binder
// or catalog rejected it, or the read-only guard refused it. It is the
// user's to fix (a usage error); I/O, memory and corruption errors are
// not SQLErrors.
type SQLError struct {
	Err  error
	Hint string
}

func (e *SQLError) Error() string { return "sql: " + e.Err.Error() }
func (e *SQLError) Unwrap() error { return e.Err }

// CheckReadOnly is the one read-only guard, for `query` and for rules
// alike: DuckDB's own parser reads sqlText, and it must be exactly one
// SELECT (or EXPLAIN of one). DuckDB decides, not a scanner of ours, so
// quoting tricks (E'\” and the like) cannot hide a second statement. The
// text is parsed without binding first: binding some statements already
// acts (EXPORT DATABASE creates its folder when prepared). Nothing runs.
// The case database is opened read-only too, but COPY ... TO, ATTACH,
// INSTALL and EXPORT would still write files.
func CheckReadOnly(ctx context.Context, db *sql.DB, sqlText string) error {
	return guard(ctx, db, sqlText, true)
}

// guard is CheckReadOnly. With bind false it decides from DuckDB's parser
// alone and leaves binding and planning to the run that follows, which
// reports binder and catalog errors the same way: a SELECT is planned once
// (a Sigma pack of 800 rules takes a second to plan).
func guard(ctx context.Context, db *sql.DB, sqlText string, bind bool) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return guardOn(ctx, conn, sqlText, bind)
}

// guardOn is guard on a connection the caller holds.
func guardOn(ctx context.Context, conn *sql.Conn, sqlText string, bind bool) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("not a DuckDB connection")
		}
		return checkReadOnly(ctx, c, sqlText, false, bind)
	})
}

// explainPrefix is the head of an EXPLAIN [ANALYZE] [(options)] statement,
// with only white space and line comments around its words, so that what
// follows is the statement explained. Anything fancier is refused.
var explainPrefix = regexp.MustCompile(`(?is)^(?:\s|--[^\n]*(?:\n|$))*explain\b(?:\s|--[^\n]*(?:\n|$))*(?:analy[sz]e\b(?:\s|--[^\n]*(?:\n|$))*)?(?:\([a-z0-9_\s,]*\))?`)

// firstWord is the statement's first keyword, for messages only.
var firstWord = regexp.MustCompile(`^(?:\s|--[^\n]*(?:\n|$))*([A-Za-z]+)`)

func checkReadOnly(ctx context.Context, c driver.Conn, text string, explained, bind bool) error {
	// json_serialize_sql parses without binding and serialises SELECTs
	// only: it counts the statements and says whether all are SELECTs.
	var parsed struct {
		Error      bool              `json:"error"`
		ErrorType  string            `json:"error_type"`
		Statements []json.RawMessage `json:"statements"`
	}
	var js string
	err := queryRow(ctx, c, "SELECT json_serialize_sql($1::VARCHAR)::VARCHAR", text, &js)
	if err == nil {
		err = json.Unmarshal([]byte(js), &parsed)
	}
	if err != nil {
		return fmt.Errorf("read-only check: %w", err)
	}
	switch {
	case parsed.Error && parsed.ErrorType == "parser":
		// Prepare fails in the parser, before binding anything, with
		// DuckDB's full message (line and position).
		st, err := c.Prepare(text)
		if err == nil {
			_ = st.Close()
			return errors.New("read-only check: DuckDB parsed what json_serialize_sql could not")
		}
		return explain(err)
	case parsed.Error && !explained:
		if m := explainPrefix.FindStringIndex(text); m != nil {
			// EXPLAIN ANALYZE runs the statement: it is read-only when
			// the statement explained is.
			return checkReadOnly(ctx, c, text[m[1]:], true, bind)
		}
		return notReadOnly(text)
	case parsed.Error:
		return notReadOnly(text)
	case len(parsed.Statements) != 1:
		return &SQLError{Err: fmt.Errorf("%w: DuckDB reads %d here", ErrOneStatement, len(parsed.Statements)), Hint: "run each statement on its own"}
	case !bind:
		// json_serialize_sql serialises SELECT statements only: this
		// is one SELECT, as DuckDB's parser reads it.
		return nil
	}
	// One SELECT: bind it, for DuckDB's binder and catalog errors, and
	// make sure the statement prepared is that SELECT.
	st, err := c.Prepare(text)
	if err != nil {
		var de *duckdb.Error
		if errors.As(err, &de) {
			return explain(err)
		}
		return &SQLError{Err: fmt.Errorf("%w: %v", ErrOneStatement, strings.ReplaceAll(err.Error(), "\n", ": "))}
	}
	defer func() { _ = st.Close() }()
	ds, ok := st.(*duckdb.Stmt)
	if !ok {
		return errors.New("not a DuckDB statement")
	}
	if typ, err := ds.StatementType(); err != nil || typ != duckdb.STATEMENT_TYPE_SELECT {
		return notReadOnly(text)
	}
	return nil
}

// notReadOnly refuses text that is not one SELECT, naming what it starts
// with when that is not a SELECT.
func notReadOnly(text string) error {
	what := ""
	if m := firstWord.FindStringSubmatch(text); m != nil {
		what = strings.ToUpper(m[1])
	}
	switch what {
	case "", "SELECT", "WITH", "FROM", "VALUES", "TABLE", "DESCRIBE", "SHOW", "SUMMARIZE", "EXPLAIN":
		return &SQLError{Err: fmt.Errorf("%w: DuckDB reads a statement here that is not a SELECT", ErrNotReadOnly),
			Hint: "give one statement at a time; " + readOnlyHint}
	case "PRAGMA":
		return &SQLError{Err: fmt.Errorf("%w, not PRAGMA", ErrNotReadOnly), Hint: "DESCRIBE table and SHOW TABLES read the schema"}
	}
	return &SQLError{Err: fmt.Errorf("%w, not %s", ErrNotReadOnly, what), Hint: readOnlyHint}
}

// queryRow runs one query with one argument on a raw connection.
func queryRow(ctx context.Context, c driver.Conn, q, arg string, dest *string) error {
	qc, ok := c.(driver.QueryerContext)
	if !ok {
		return errors.New("the driver cannot query")
	}
	rows, err := qc.QueryContext(ctx, q, []driver.NamedValue{{Ordinal: 1, Value: arg}})
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	vals := make([]driver.Value, 1)
	if err := rows.Next(vals); err != nil {
		return err
	}
	s, ok := vals[0].(string)
	if !ok {
		return fmt.Errorf("want text, got %T", vals[0])
	}
	*dest = s
	return nil
}

// Query runs one read-only statement (the guard parses it) and returns its
// result, read in windows so that a result of any size takes bounded
// memory (Stream).
func Query(ctx context.Context, db *sql.DB, sqlText string, args ...any) (*Rows, error) {
	if err := guard(ctx, db, sqlText, false); err != nil {
		return nil, err
	}
	return Stream(ctx, db, sqlText, args...)
}

// QueryInMemory is Query for a caller that keeps the whole result anyway
// (findings): DuckDB's driver holds the result in memory, and the run
// binds and plans the statement once.
func QueryInMemory(ctx context.Context, db *sql.DB, sqlText string, args ...any) (*sql.Rows, error) {
	if err := guard(ctx, db, sqlText, false); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, explain(err)
	}
	return rows, nil
}

// queryOn is Query on a connection the caller holds, which sees that
// connection's temporary tables.
func queryOn(ctx context.Context, conn *sql.Conn, sqlText string) (*sql.Rows, error) {
	if err := guardOn(ctx, conn, sqlText, false); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, sqlText)
	if err != nil {
		return nil, explain(err)
	}
	return rows, nil
}

// StringLiteral quotes s as a SQL string literal, for the places DuckDB
// takes no parameter (file names in COPY and read_parquet). It is for paths
// the user gave, never for log content, which goes in as parameters.
func StringLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteIdent quotes s as a SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// CopyToParquet writes the result of a read-only query to a Parquet file.
func CopyToParquet(ctx context.Context, db *sql.DB, sqlText, path string) error {
	if err := guard(ctx, db, sqlText, false); err != nil {
		return err
	}
	// The guard saw one statement: without its final semicolon and the
	// comments after it, it is the COPY's subquery, on lines of its own
	// so that an error's line is the statement's. Row groups are cut at
	// 16 MB as well as DuckDB's 122,880 rows: with raw in every row, each
	// thread's row group grew to hundreds of MB, and `SELECT * FROM events`
	// of the bench store ran out of the store's memory.
	q := fmt.Sprintf("COPY (\n%s\n) TO %s (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE_BYTES '16MB')", statementText(sqlText), StringLiteral(path))
	if _, err := db.ExecContext(ctx, q); err != nil {
		return explain(fromLineTwo(err))
	}
	return nil
}

// explain turns a DuckDB error into an SQLError when it is about the SQL
// (parser, binder, catalog, an extension trailsift will not load), with a
// hint; any other error (I/O, out of memory, a corrupt file, an
// interruption) is returned as it is, and is not the user's to fix.
func explain(err error) error {
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return err
	}
	msg := err.Error()
	switch de.Type {
	case duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax:
		return &SQLError{Err: err, Hint: "DuckDB SQL; check the statement near the position above"}
	case duckdb.ErrorTypeMissingExtension, duckdb.ErrorTypeAutoLoad:
		return &SQLError{Err: errors.New(firstLine(msg)), Hint: "trailsift never uses the network and loads no DuckDB extension: copy remote files to this machine first"}
	case duckdb.ErrorTypeConversion, duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeDivideByZero, duckdb.ErrorTypeMismatchType,
		duckdb.ErrorTypeInvalidType, duckdb.ErrorTypeDecimal, duckdb.ErrorTypeExpression:
		// The SQL asked for something the data cannot give (a cast, an
		// overflow): the user's to fix by editing it.
		return &SQLError{Err: err, Hint: "DuckDB could not compute the query on these events; try_cast() and nullif() skip the values that fail"}
	case duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog, duckdb.ErrorTypeParameterNotResolved, duckdb.ErrorTypeParameterNotAllowed:
		hint := ""
		switch {
		case strings.Contains(msg, "Referenced column") || strings.Contains(msg, "not found in FROM clause"):
			hint = "`trailsift schema` lists every table, view and column"
		case strings.Contains(msg, "Table with name") || strings.Contains(msg, "does not exist"):
			hint = "`trailsift schema` lists the tables (events, files, ingest_errors) and views (signins, mfa_device_changes, root_activity)"
		}
		return &SQLError{Err: err, Hint: hint}
	case duckdb.ErrorTypeOutOfMemory:
		// DuckDB's own advice (SET memory_limit, SET threads) cannot be
		// followed: the configuration is locked. Still an engine error.
		return &duckdb.Error{Type: de.Type, Msg: firstLine(de.Msg) + "\n" + outOfMemoryAdvice}
	case duckdb.ErrorTypeIO:
		if m := goneFile.FindStringSubmatch(msg); m != nil && datasetFile.MatchString(filepath.Base(m[1])) {
			// A dataset's file, named in a view, that is gone. Still an
			// engine error: nothing more can be read.
			return &duckdb.Error{Type: de.Type, Msg: firstLine(de.Msg) + "\n" + goneFileAdvice}
		}
	}
	return err
}

var (
	// goneFile is DuckDB's error on a file it was given that is not there.
	goneFile = regexp.MustCompile(`No files found that match the pattern "([^"]*)"`)
	// datasetFile is the name of a file of a trailsift dataset (package
	// lake names them).
	datasetFile = regexp.MustCompile(`^(part|sessions)-[0-9A-Za-z-]+\.parquet$`)
)

// goneFileAdvice follows DuckDB's error on a file that went away.
const goneFileAdvice = `A file went away while this command read it: an ingest or export into a Parquet dataset merges
each partition's parts into one file as it ends, and a command that opened the dataset before
then still names the parts. Run the command again.`

// outOfMemoryAdvice replaces DuckDB's advice on an out-of-memory error.
const outOfMemoryAdvice = `trailsift gives DuckDB a fixed share of memory (its settings cannot be changed), and what does
not fit spills to the temporary directory (TMPDIR). A sort or join that carries raw (or the
JSON columns) in every row can need more: sort or join the columns you need, then read raw
for the rows you keep (... WHERE event_key IN (SELECT event_key FROM ...)).`

// IsEngineError reports whether err came from DuckDB running a statement
// (I/O, memory, a corrupt file, an internal error) rather than
// from SQL it could not accept: not the user's to fix by editing the SQL.
func IsEngineError(err error) bool {
	var se *SQLError
	var de *duckdb.Error
	return !errors.As(err, &se) && errors.As(err, &de)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
