package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/duckdb/duckdb-go/v2"
)

// DuckDB's Go driver asks DuckDB for a materialised result: a statement's
// whole result is in memory before its first row is read, outside DuckDB's
// memory limit. `trailsift query "select raw from events"` took 2.1 GB on a
// store of 1.25M events, a timeline 1.3 GB and an export 3.9 GB, growing
// with the store. Rows reads a large result a window at a time instead:
// each window is a statement of its own over a table, cut by rowid so that
// its rows hold a bounded number of bytes.

// Window limits: the rows of one window, and the bytes (as DuckDB stores
// the values) of its rows but the last. Tests make them small.
var (
	windowBytes int64 = 32 << 20
	windowRows  int64 = 1 << 16
	// sizedRows is how many rows' sizes are read at a time to cut them into
	// windows: the first rows come out at once, not after a pass over every
	// row's values.
	sizedRows int64 = 1 << 20
)

// Rows is a result read in windows; its methods are those of *sql.Rows
// that a reader of results needs.
type Rows struct {
	ctx     context.Context
	conn    *sql.Conn
	names   []string
	table   string // where the windows are read from
	columns string // the select list of a window
	drop    bool   // table is a temporary table of the result's, dropped by Close
	sizes   string // the SQL of a row's bytes in table (rowSize)
	windows [][2]int64
	next    int64 // the first rowid not yet in windows
	last    int64 // table's last rowid
	cur     *sql.Rows
	err     error
}

// resultSeq names the temporary tables of results.
var resultSeq atomic.Int64

// Stream runs the read-only SELECT sqlText with args as its parameters and
// returns its rows, in the statement's order. The result goes into a
// temporary table first, where DuckDB's memory limit holds (what does not
// fit spills to its temporary folder), and is read back in windows. A
// statement a table cannot be made of (DESCRIBE, SHOW, SUMMARIZE, EXPLAIN:
// results of a few rows) is read directly. The caller has checked that
// sqlText is read-only.
func Stream(ctx context.Context, db *sql.DB, sqlText string, args ...any) (*Rows, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	r := &Rows{ctx: ctx, conn: conn, last: -1}
	if err := r.open(sqlText, args); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// tabular is the head of a statement that can be a table's contents.
var tabular = regexp.MustCompile(`(?is)^(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/)*(?:select|with|from|values|table|\()`)

func (r *Rows) open(sqlText string, args []any) error {
	if !tabular.MatchString(sqlText) {
		rows, err := r.conn.QueryContext(r.ctx, sqlText, args...)
		if err != nil {
			return explain(err)
		}
		r.cur = rows
		r.names, err = rows.Columns()
		return err
	}
	names, err := resultNames(r.ctx, r.conn, sqlText)
	if err != nil {
		return explain(err)
	}
	r.names = names
	// The table's columns are c1, c2...: a result column named rowid
	// would hide the rowid the windows are cut by, and repeated names
	// would be renamed. The statement starts on a line of its own, so an
	// error's LINE n is n-1 of the statement.
	aliases := make([]string, len(names))
	for i := range aliases {
		aliases[i] = fmt.Sprintf("c%d", i+1)
	}
	r.table = fmt.Sprintf("temp.main.trailsift_result_%d", resultSeq.Add(1))
	create := "CREATE TEMP TABLE " + r.table + " AS SELECT * FROM (\n" + statementText(sqlText) + "\n) AS q(" + strings.Join(aliases, ", ") + ")"
	if _, err := r.conn.ExecContext(r.ctx, create, args...); err != nil {
		return explain(fromLineTwo(err))
	}
	r.drop, r.columns = true, "*"
	return r.sizeRows()
}

// statementText is the statement q without a final semicolon and the
// comments and white space around its end, so that it can be a subquery.
// SQL scanSQL cannot read (an unclosed quote) is returned as it is, for
// DuckDB to report.
func statementText(q string) string {
	end, at := 0, 0 // end: after the last byte of SQL that is not a comment
	err := scanSQL(q, func(t sqlToken) error {
		start := at
		at += len(t.text)
		switch {
		case t.kind == tokQuoted && (t.text[0] == '-' || t.text[0] == '/'): // a comment
		case t.kind == tokOther:
			if code := strings.TrimRight(t.text, " \t\n\r"); code != "" {
				end = start + len(code)
			}
		default:
			end = at
		}
		return nil
	})
	if err != nil {
		return q
	}
	return strings.TrimSuffix(q[:end], ";")
}

// lineNumber is the LINE n: DuckDB puts before the line of an error's
// position.
var lineNumber = regexp.MustCompile(`LINE (\d+):`)

// fromLineTwo gives an error of SQL whose first line was added before the
// user's statement the statement's own line numbers, keeping the caret
// under its place.
func fromLineTwo(err error) error {
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return err
	}
	msg := lineNumber.ReplaceAllStringFunc(de.Msg, func(m string) string {
		var n int
		if _, err := fmt.Sscanf(m, "LINE %d:", &n); err != nil || n < 2 {
			return m
		}
		out := fmt.Sprintf("LINE %d:", n-1)
		return out + strings.Repeat(" ", len(m)-len(out))
	})
	return &duckdb.Error{Type: de.Type, Msg: msg}
}

// StreamTable returns the rows of table (a stored table) as the select list
// columns gives them, in rowid order, read in windows of the table itself:
// nothing is copied.
func StreamTable(ctx context.Context, db *sql.DB, table, columns string) (*Rows, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	r := &Rows{ctx: ctx, conn: conn, table: table, columns: columns}
	if r.names, err = resultNames(ctx, conn, "SELECT "+columns+" FROM "+table); err == nil {
		err = r.sizeRows()
	}
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// resultNames are the column names of the statement sqlText, from DuckDB's
// prepared statement: nothing runs. A table made of the result renames
// repeated names (a, a_1); these are the statement's own.
func resultNames(ctx context.Context, conn *sql.Conn, sqlText string) ([]string, error) {
	var names []string
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("not a DuckDB connection")
		}
		st, err := c.PrepareContext(ctx, sqlText)
		if err != nil {
			return err
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return errors.New("not a DuckDB statement")
		}
		n, err := ds.ColumnCount()
		if err != nil {
			return err
		}
		for i := range n {
			name, err := ds.ColumnName(i)
			if err != nil {
				return err
			}
			names = append(names, name)
		}
		return nil
	})
	return names, err
}

// sizeRows finds the table's rowids and how to size its rows.
func (r *Rows) sizeRows() error {
	var last sql.NullInt64
	if err := r.conn.QueryRowContext(r.ctx, "SELECT max(rowid) FROM "+r.table).Scan(&last); err != nil {
		return err
	}
	r.last = -1
	if last.Valid {
		r.last = last.Int64
	}
	var err error
	r.sizes, err = rowSize(r.ctx, r.conn, r.table)
	return err
}

// rowSize is the SQL of the bytes of a row of table: its text and blob
// values' lengths, nested values' as text, and 16 for every value.
func rowSize(ctx context.Context, conn *sql.Conn, table string) (string, error) {
	cols, err := conn.QueryContext(ctx, "SELECT name, type FROM pragma_table_info(?)", table)
	if err != nil {
		return "", err
	}
	defer cols.Close()
	var sizes []string
	for cols.Next() {
		var name, typ string
		if err := cols.Scan(&name, &typ); err != nil {
			return "", err
		}
		sizes = append(sizes, "16")
		if size := valueSize(quoteIdent(name), typ); size != "" {
			sizes = append(sizes, "coalesce("+size+", 0)")
		}
	}
	if err := cols.Err(); err != nil {
		return "", err
	}
	if len(sizes) == 0 {
		return "", fmt.Errorf("read %s: no columns", table)
	}
	return strings.Join(sizes, " + "), nil
}

// tableWindows cuts the rows of table from rowid lo to hi into windows of
// consecutive rowids, each at most windowRows rows whose bytes (size, the
// SQL of rowSize) but the last row's are under windowBytes.
func tableWindows(ctx context.Context, conn *sql.Conn, table, size string, lo, hi int64) ([][2]int64, error) {
	q := fmt.Sprintf(`SELECT min(rowid), max(rowid) FROM (
  SELECT rowid, sum(size) OVER (ORDER BY rowid ROWS UNBOUNDED PRECEDING) - size AS start
  FROM (SELECT rowid, %s AS size FROM %s WHERE rowid BETWEEN ? AND ?))
GROUP BY start // %d, rowid // %d ORDER BY 1`, size, table, windowBytes, windowRows)
	rows, err := conn.QueryContext(ctx, q, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var windows [][2]int64
	for rows.Next() {
		var w [2]int64
		if err := rows.Scan(&w[0], &w[1]); err != nil {
			return nil, err
		}
		windows = append(windows, w)
	}
	return windows, rows.Err()
}

// valueSize is a SQL expression for the bytes of column col of DuckDB type
// typ, or "" for a type of fixed size.
func valueSize(col, typ string) string {
	switch {
	case strings.HasSuffix(typ, "]") || strings.HasPrefix(typ, "STRUCT") || strings.HasPrefix(typ, "MAP") ||
		strings.HasPrefix(typ, "UNION") || typ == "BIGNUM" || typ == "VARINT":
		return "strlen(CAST(" + col + " AS VARCHAR))"
	case strings.HasPrefix(typ, "VARCHAR") || typ == "JSON":
		return "strlen(" + col + ")"
	case typ == "BLOB" || typ == "BIT":
		return "octet_length(" + col + ")"
	}
	return ""
}

// Columns are the result's column names.
func (r *Rows) Columns() ([]string, error) { return r.names, nil }

// Next prepares the next row for Scan, reading the next window when the
// last is done; false at the end or on an error (see Err).
func (r *Rows) Next() bool {
	for r.err == nil {
		if r.cur != nil {
			if r.cur.Next() {
				return true
			}
			r.err = r.cur.Err()
			r.cur.Close()
			r.cur = nil
			continue
		}
		if len(r.windows) == 0 {
			if r.next > r.last {
				return false
			}
			hi := min(r.next+sizedRows-1, r.last)
			r.windows, r.err = tableWindows(r.ctx, r.conn, r.table, r.sizes, r.next, hi)
			r.next = hi + 1
			continue
		}
		w := r.windows[0]
		r.windows = r.windows[1:]
		r.cur, r.err = r.conn.QueryContext(r.ctx, "SELECT "+r.columns+" FROM "+r.table+" WHERE rowid BETWEEN ? AND ? ORDER BY rowid", w[0], w[1])
	}
	return false
}

// Scan copies the current row's values into dest, as sql.Rows.Scan does.
func (r *Rows) Scan(dest ...any) error {
	if r.cur == nil {
		return errors.New("query: Scan called without a row")
	}
	return r.cur.Scan(dest...)
}

// Err is the error that ended Next early, if any.
func (r *Rows) Err() error { return r.err }

// Close releases the result: its temporary table and its connection.
func (r *Rows) Close() error {
	if r.conn == nil {
		return nil
	}
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	var err error
	if r.drop {
		// Dropped even when ctx is done: the connection goes back to the pool.
		_, err = r.conn.ExecContext(context.WithoutCancel(r.ctx), "DROP TABLE IF EXISTS "+r.table)
	}
	err = errors.Join(err, r.conn.Close())
	r.conn = nil
	return err
}
