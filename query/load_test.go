package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// stagedRows is a SELECT of event_rows columns with one row per raw, as
// lake reads a staging dataset: each its own event (keys from first on),
// in file 1.
func stagedRows(first int, raws ...string) string {
	var rows []string
	for i, raw := range raws {
		var cols []string
		for _, c := range StoredEventColumns() {
			v := "NULL::" + c.Type
			switch c.Name {
			case "event_key":
				v = fmt.Sprintf("%d::UBIGINT", first+i)
			case "event_id":
				v = StringLiteral(fmt.Sprintf("id-%d", first+i))
			case "raw":
				v = StringLiteral(raw)
			case "file_id":
				v = "1::BIGINT"
			case "record_index":
				v = fmt.Sprintf("%d::BIGINT", i)
			}
			cols = append(cols, v+" AS "+c.Name)
		}
		rows = append(rows, "SELECT "+strings.Join(cols, ", "))
	}
	return strings.Join(rows, " UNION ALL ")
}

// A staging without invalid JSON loads whole; one invalid raw costs only
// itself: the others are stored and the reject is counted.
func TestLoadLeavesOutOnlyInvalidRaws(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inserted, rejected, err := s.Load(ctx, Staging{Events: []string{stagedRows(1, `{"a":1}`, `{"b":2}`)}})
	if err != nil || inserted != 2 || rejected != 0 {
		t.Fatalf("clean load: %d inserted, %d rejected, %v", inserted, rejected, err)
	}
	inserted, rejected, err = s.Load(ctx, Staging{Events: []string{stagedRows(10, `{"c":3}`, "{\"d\":\"\x01\"}", `{"e":5}`)}})
	if err != nil || inserted != 2 || rejected != 1 {
		t.Fatalf("load with an invalid raw: %d inserted, %d rejected, %v; want 2, 1", inserted, rejected, err)
	}
}

// A sessions build that fails (DuckDB out of memory on a very large
// store) costs no event: the load is run again without it, the sessions
// table is left empty rather than stale, and a warning says why.
func TestLoadStoresEventsWhenSessionsCannotBeBuilt(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB.ExecContext(ctx, "INSERT INTO session_rows (session_id) VALUES ('stale')"); err != nil {
		t.Fatal(err)
	}
	defer func(b func(context.Context, *sql.Conn) (string, func(), error)) { stageSessionsInLoad = b }(stageSessionsInLoad)
	stageSessionsInLoad = func(context.Context, *sql.Conn) (string, func(), error) {
		return "", nil, errors.New("Out of Memory Error: test\n\nPossible solutions: ...")
	}
	inserted, rejected, err := s.Load(ctx, Staging{Events: []string{stagedRows(1, `{"a":1}`, `{"b":2}`)}})
	if err != nil || inserted != 2 || rejected != 0 {
		t.Fatalf("load: %d inserted, %d rejected, %v; want 2, 0, nil", inserted, rejected, err)
	}
	if err := s.UpdateSessions(ctx); err != nil {
		t.Fatalf("update sessions: %v, want the failure left in SessionsSkipped", err)
	}
	if s.SessionsSkipped == nil || !strings.Contains(s.SessionsSkipped.Error(), "Out of Memory") ||
		strings.Contains(s.SessionsSkipped.Error(), "\n") {
		t.Errorf("SessionsSkipped = %q, want the first line of the build's error", s.SessionsSkipped)
	}
	var events, sessions, warnings int
	must := func(q string, n *int) {
		if err := s.DB.QueryRowContext(ctx, q).Scan(n); err != nil {
			t.Fatal(err)
		}
	}
	must("SELECT count(*) FROM event_rows", &events)
	must("SELECT count(*) FROM sessions", &sessions)
	must("SELECT count(*) FROM ingest_errors WHERE severity = 'warning' AND message LIKE 'credential lineage not built%Out of Memory%' AND message NOT LIKE '%Possible%'", &warnings)
	if events != 2 || sessions != 0 || warnings != 1 {
		t.Errorf("after the load: %d events, %d sessions, %d warnings; want 2, 0 (not stale), 1", events, sessions, warnings)
	}
}

// TestLoadStoppedBeforeSessionsIsHealed: a load stopped after committing
// its events, before rebuilding the sessions, leaves the sessions pending:
// a read-only open reads lineage from the events meanwhile, and the next
// load rebuilds the table though it adds nothing.
func TestLoadStoppedBeforeSessionsIsHealed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.duckdb")
	src := Staging{Events: []string{"SELECT * REPLACE ('AKIATEST' || event_key::VARCHAR AS access_key_id) FROM (" +
		stagedRows(1, `{"a":1}`, `{"b":2}`) + ")"}}
	counts := func(s *Store) (sessions, pending int) {
		t.Helper()
		if err := s.DB.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM sessions_pending)").Scan(&sessions, &pending); err != nil {
			t.Fatal(err)
		}
		return sessions, pending
	}

	s, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	stop, cancel := context.WithCancel(ctx)
	defer func(b func(context.Context, *sql.Conn) (string, func(), error)) { stageSessionsInLoad = b }(stageSessionsInLoad)
	stageSessionsInLoad = func(context.Context, *sql.Conn) (string, func(), error) { cancel(); return "", nil, context.Canceled }
	if inserted, _, err := s.Load(stop, src); err != nil || inserted != 2 {
		t.Fatalf("load: %d inserted, %v; want 2, nil", inserted, err)
	}
	if err := s.UpdateSessions(stop); !errors.Is(err, context.Canceled) {
		t.Fatalf("sessions build stopped: %v, want context.Canceled", err)
	}
	stageSessionsInLoad = StageSessions
	if sessions, pending := counts(s); sessions != 0 || pending != 1 {
		t.Errorf("after the stopped load: %d sessions stored, %d pending marks; want 0, 1", sessions, pending)
	}
	s.Close()

	ro, err := Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	if sessions, pending := counts(ro); sessions != 2 || pending != 1 {
		t.Errorf("read-only open of the stopped load: %d sessions, %d pending marks; want 2 (read from the events), 1", sessions, pending)
	}
	ro.Close()

	s, err = Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inserted, _, err := s.Load(ctx, src)
	if err != nil || inserted != 0 {
		t.Fatalf("load again: %d inserted, %v; want 0, nil", inserted, err)
	}
	if err := s.UpdateSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if sessions, pending := counts(s); sessions != 2 || pending != 0 {
		t.Errorf("after loading again: %d sessions stored, %d pending marks; want 2, 0", sessions, pending)
	}
}

// TestReadAroundViewsOnEveryConnection: the temporary views a read-only
// open defines over a store whose sessions lag are there on every
// connection of its pool, not only the one that made them, so two queries
// at once read the same lineage.
func TestReadAroundViewsOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.duckdb")
	s, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	src := Staging{Events: []string{"SELECT * REPLACE ('AKIATEST' || event_key::VARCHAR AS access_key_id) FROM (" +
		stagedRows(1, `{"a":1}`, `{"b":2}`) + ")"}}
	if _, _, err := s.Load(ctx, src); err != nil { // sessions left pending
		t.Fatal(err)
	}
	s.Close()
	ro, err := Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var conns []*sql.Conn
	for range 3 {
		c, err := ro.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var n int
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM sessions").Scan(&n); err != nil || n != 2 {
			t.Errorf("connection %d: %d sessions, %v; want 2 read from the events", i, n, err)
		}
	}
}
