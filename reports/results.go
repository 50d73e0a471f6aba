package reports

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// Formats a result can be written in.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
	FormatJSONL = "jsonl"
)

// ResultOptions tune WriteRows.
type ResultOptions struct {
	Format   string
	MaxWidth int // table: total width to fit (0: no limit)
	Location *time.Location
}

// Rows is a result as WriteRows reads it: *sql.Rows, or *query.Rows for a
// result of any size.
type Rows interface {
	Columns() ([]string, error)
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// WriteRows streams rows to w in the chosen format and returns how many
// rows it wrote. Rows are never all held in memory: the table format sizes
// its columns from the first rows and truncates later cells to fit.
func WriteRows(w io.Writer, rows Rows, opts ResultOptions) (n int64, err error) {
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	// The last bytes reach w here: a full disk must fail the write.
	defer func() {
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
	}()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	next := func() (bool, error) {
		if !rows.Next() {
			return false, rows.Err()
		}
		return true, rows.Scan(ptrs...)
	}
	switch opts.Format {
	case FormatCSV:
		cw := csv.NewWriter(bw)
		header := make([]string, len(cols))
		for i, c := range cols {
			header[i] = SafeCSV(c)
		}
		if err := cw.Write(header); err != nil {
			return 0, err
		}
		rec := make([]string, len(cols))
		for {
			ok, err := next()
			if err != nil || !ok {
				cw.Flush()
				return n, firstErr(err, cw.Error())
			}
			for i, v := range vals {
				rec[i] = csvCell(v, opts.Location)
			}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
			n++
		}
	case FormatJSON, FormatJSONL:
		if opts.Format == FormatJSON {
			bw.WriteString("[")
		}
		for {
			ok, err := next()
			if err != nil {
				return n, err
			}
			if !ok {
				break
			}
			if opts.Format == FormatJSON && n > 0 {
				bw.WriteString(",")
			}
			if opts.Format == FormatJSON {
				bw.WriteString("\n  ")
			}
			if err := writeJSONRow(bw, cols, vals); err != nil {
				return n, err
			}
			if opts.Format == FormatJSONL {
				bw.WriteString("\n")
			}
			n++
		}
		if opts.Format == FormatJSON {
			if n > 0 {
				bw.WriteString("\n")
			}
			bw.WriteString("]\n")
		}
		return n, nil
	case FormatTable, "":
		t := NewTable(cols, opts.MaxWidth)
		for {
			ok, err := next()
			if err != nil {
				return n, err
			}
			if !ok {
				break
			}
			cells := make([]string, len(vals))
			for i, v := range vals {
				cells[i] = Text(v, opts.Location)
			}
			if err := t.Add(bw, cells); err != nil {
				return n, err
			}
			n++
		}
		if err := t.Close(bw); err != nil {
			return n, err
		}
		fmt.Fprintf(bw, "(%d row%s)\n", n, plural(n))
		return n, nil
	default:
		return 0, fmt.Errorf("unknown format %q (use table, csv, json or jsonl)", opts.Format)
	}
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// writeJSONRow writes one row as an object with the columns in order.
func writeJSONRow(w *bufio.Writer, cols []string, vals []any) error {
	w.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			w.WriteByte(',')
		}
		k, _ := json.Marshal(c)
		w.Write(escapeJSON(k))
		w.WriteByte(':')
		b, err := json.Marshal(jsonValue(vals[i]))
		if err != nil {
			return fmt.Errorf("column %s: %w", c, err)
		}
		w.Write(escapeJSON(b))
	}
	w.WriteByte('}')
	return nil
}

// jsonValue maps database values to JSON: times in RFC 3339 UTC, JSON
// column text as the JSON it holds, big numbers as numbers.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return fmt.Sprintf("%x", x)
	case *big.Int:
		return json.Number(x.String())
	case string:
		return x
	}
	return v
}

// Text renders a value as one line of text for tables and CSV.
func Text(v any, loc *time.Location) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.In(loc).Format("2006-01-02T15:04:05Z07:00")
	case []byte:
		return fmt.Sprintf("%x", x)
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}

// csvCell writes one value as a CSV cell: text through SafeCSV, a number
// (or a boolean) as it is, so -5 from a numeric column stays -5 while the
// text "-5" gets its quote. Only text can carry a formula.
func csvCell(v any, loc *time.Location) string {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, *big.Int, duckdb.Decimal, bool:
		return Text(v, loc)
	}
	return SafeCSV(Text(v, loc))
}

// SafeCSV makes log text safe in a CSV cell: controls escaped (SafeText),
// and a cell a spreadsheet would treat as a formula neutralised by
// prefixing a single quote.
func SafeCSV(s string) string {
	s = SafeText(s)
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '|', '%':
		return "'" + s
	}
	return s
}
