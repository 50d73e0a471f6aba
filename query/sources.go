package query

import (
	"context"
	"fmt"
	"strings"
)

// OpenSources opens a store whose tables live elsewhere, a Parquet dataset
// say: sources maps a stored table (event_rows, files, ingest_errors), or a
// view whose rows are stored elsewhere (sessions), to a SELECT that reads
// it, and every other view of the schema is built on top, so
// all commands and users' SQL run unchanged. Tables without a source are
// empty. The store lives in memory; nothing is written anywhere.
func OpenSources(ctx context.Context, name string, sources map[string]string) (*Store, error) {
	db, spill, err := openDB(ctx, "", name, storeMemoryLimit, nil)
	if err != nil {
		return nil, err
	}
	s := &Store{DB: db, Path: name, ReadOnly: true, spillDir: spill}
	var stmts []string
	for _, t := range Tables {
		if src := sources[t.Name]; src != "" {
			stmts = append(stmts, fmt.Sprintf("CREATE VIEW %s AS\n%s", t.Name, src))
		} else {
			stmts = append(stmts, createTableSQL(t, false))
		}
	}
	for _, v := range Views {
		if src := sources[v.Name]; src != "" {
			stmts = append(stmts, fmt.Sprintf("CREATE VIEW %s AS\n%s", v.Name, src))
		} else {
			stmts = append(stmts, createViewSQL(v))
		}
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			s.Close()
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
	}
	return s, nil
}

// ColumnList is the comma-separated names of cols, for a SELECT that reads
// a table's columns in their documented order.
func ColumnList(cols []Column) string {
	return strings.Join(ColumnNames(cols), ", ")
}

// ColumnNames is the names of cols, in order.
func ColumnNames(cols []Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}
