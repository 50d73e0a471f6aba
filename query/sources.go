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
	return openSources(ctx, name, sources, storeMemoryLimit)
}

// OpenSourcesToBuild opens them as OpenSources does, for a process that
// builds a table from them (a dataset's sessions, at the end of a run)
// while it still holds the rest of its run's memory: DuckDB's is capped
// lower (buildMemoryLimit).
func OpenSourcesToBuild(ctx context.Context, name string, sources map[string]string) (*Store, error) {
	return openSources(ctx, name, sources, buildMemoryLimit)
}

func openSources(ctx context.Context, name string, sources map[string]string, memoryLimit string) (*Store, error) {
	db, spill, err := openDB(ctx, "", name, memoryLimit, nil, "")
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
	if err := execEach(ctx, db, stmts...); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", name, err)
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

// MaterializeSessions builds the sessions of a store opened with
// OpenSources whose sessions are stale (SessionsStale) once, in stages (so
// memory holds one stage at a time, as a load's build does), into the
// store's own in-memory session_rows, and points the sessions view there:
// otherwise every query that reads sessions builds them again, in one
// statement, which is slow and runs out of memory on a large dataset.
func (s *Store) MaterializeSessions(ctx context.Context) error {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := BuildSessions(ctx, conn); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, createViewSQL(SessionsView)); err != nil {
		return err
	}
	s.SessionsStale = false
	return nil
}
