package reports

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"time"
)

// Problem is one row of ingest_errors: what was wrong with the input, and
// where.
type Problem struct {
	Path, Severity, Message string
	Record, Offset          *int64 // nil when not known
}

// Problems reads the first limit problems recorded for the files stored at
// or after since (one run's), errors first.
func Problems(ctx context.Context, db *sql.DB, since time.Time, limit int) ([]Problem, error) {
	rows, err := db.QueryContext(ctx, `SELECT path, record_index, byte_offset, severity, message FROM ingest_errors
WHERE file_id IN (SELECT file_id FROM files WHERE ingested_at >= ?)
ORDER BY severity, path LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("read ingest_errors: %w", err)
	}
	defer rows.Close()
	var out []Problem
	for rows.Next() {
		var p Problem
		if err := rows.Scan(&p.Path, &p.Record, &p.Offset, &p.Severity, &p.Message); err != nil {
			return nil, fmt.Errorf("read ingest_errors: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// WriteProblems writes one line per problem, made safe for a terminal:
// "error: path (record 3, byte 120): message".
func WriteProblems(w io.Writer, problems []Problem) {
	for _, p := range problems {
		fmt.Fprintf(w, "  %s: %s%s: %s\n", p.Severity, SafeText(p.Path), p.where(), SafeText(p.Message))
	}
}

func (p Problem) where() string {
	var parts []string
	if p.Record != nil {
		parts = append(parts, fmt.Sprintf("record %d", *p.Record))
	}
	if p.Offset != nil {
		parts = append(parts, fmt.Sprintf("byte %d", *p.Offset))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
