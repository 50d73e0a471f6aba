package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/trailsift/trailsift/ingest"
)

// Migrations bring a store made by an older trailsift to SchemaVersion
// when it is opened for writing (Store.prepare picks them by version);
// read-only, an older store is read around (readAroundIssued,
// readAroundStaleSessions).

// upgrade brings a store of version v (1 to 5) to SchemaVersion in one
// transaction: it adds the tables and columns this version has, computes
// what they hold from the stored events, and rebuilds the sessions. Every
// version's events are written again with event_id as this one stores it
// (storeEventIDs). From
// version 1, every event is decoded again (migrateInTx); it returns the
// number of stored events that turned out to be copies of another. From
// versions 4 and 5, only the sessions' layout differs: they are marked pending,
// and the load that follows every writable open rebuilds them once, in
// stages and outside a transaction (UpdateSessions), with its fallback
// when DuckDB runs out of memory, instead of here in this transaction.
func (s *Store) upgrade(ctx context.Context, v int) (merged int64, err error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	err = inTx(ctx, conn, func() error {
		// Columns are appended where this version's tables have them (last);
		// a table whose columns moved is made again.
		stmts := []string{
			// Versions 4 and 5 had session_rows without issue_user_agent
			// (4) and with issue_event_id as text: it is made again, and
			// filled when the sessions are rebuilt.
			"DROP VIEW IF EXISTS event_sessions", "DROP VIEW IF EXISTS sessions", "DROP TABLE IF EXISTS session_rows",
		}
		if v < 4 {
			stmts = []string{
				"ALTER TABLE event_rows ADD COLUMN IF NOT EXISTS " + issuedCredentialColumn.Name + " VARCHAR",
				// Version 3 stored the sessions view's rows as a table of its name.
				"DROP VIEW IF EXISTS event_sessions",
				"DROP TABLE IF EXISTS sessions",
			}
		}
		if err := execEach(ctx, conn, stmts...); err != nil {
			return err
		}
		if err := storeEventIDs(ctx, conn); err != nil {
			return err
		}
		if err := s.createSchema(ctx, conn); err != nil {
			return err
		}
		if v == 1 {
			merged, err = s.migrateInTx(ctx, conn)
			return err
		}
		if v >= 4 {
			if err := markSessionsPending(ctx, conn); err != nil {
				return err
			}
			return setVersion(ctx, conn)
		}
		if err := fillIssued(ctx, conn); err != nil {
			return err
		}
		if err := BuildSessions(ctx, conn); err != nil {
			return err
		}
		return setVersion(ctx, conn)
	})
	return merged, err
}

// fillIssued computes issued_credential from raw for the stored calls
// that hand out a credential.
func fillIssued(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "UPDATE event_rows SET issued_credential = "+issuedFromRawSQL()+" WHERE "+issuingCallSQL(""))
	if err != nil {
		return fmt.Errorf("fill issued_credential: %w", err)
	}
	return nil
}

// readAroundIssued gives a store made before issued_credential (version 1
// to 3), opened read-only, the column computed from raw, in temporary
// views on every connection (see defineSessions): an event_rows that
// shadows the stored table (which it names with its catalog, or it would
// name itself) and an events view over it. Everything that reads them,
// the sessions build included, runs unchanged, and nothing is written.
func (s *Store) readAroundIssued(ctx context.Context) error {
	catalog, err := s.catalog(ctx)
	if err != nil {
		return err
	}
	s.onConnect.add(
		"CREATE TEMP VIEW event_rows AS SELECT *, "+issuedFromRawSQL()+" AS "+issuedCredentialColumn.Name+
			" FROM "+catalog+".main.event_rows",
		createTempViewSQL(EventsView),
	)
	s.issuedReadAround = true
	return s.reconnect(ctx)
}

// readAroundOldViews gives a store of version v (4 or later) whose
// views an older trailsift made, opened read-only, this version's views
// as temporary views on every connection, which the stored ones' names
// find first. Their events view parsed raw again for each column it
// computes from it, so that SELECT * FROM events ran out of memory; a
// writable open (the next ingest) makes the views again. An older
// version's sessions view is left to readAroundStaleSessions: this
// version's reads columns its session_rows lacks.
func (s *Store) readAroundOldViews(ctx context.Context, v int) error {
	var current bool
	err := s.DB.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_views()
  WHERE NOT internal AND NOT temporary AND view_name = 'events' AND contains(sql, 'raw_ids')`).Scan(&current)
	if err != nil || current {
		return err
	}
	var stmts []string
	for _, view := range Views {
		if view.Name != SessionsView.Name || v == SchemaVersion {
			stmts = append(stmts, createTempViewSQL(view))
		}
	}
	s.onConnect.add(stmts...)
	return s.reconnect(ctx)
}

// createTempViewSQL makes view t as a temporary view of the connection,
// which its name finds before a stored one (OR REPLACE: a connection may
// be given one read-around after another).
func createTempViewSQL(t Table) string {
	return strings.Replace(createViewSQL(t), "CREATE OR REPLACE VIEW", "CREATE OR REPLACE TEMP VIEW", 1)
}

// readAroundStaleSessions gives a store opened read-only whose sessions
// table is missing (version 2) or lags its events (a load stopped before
// rebuilding it, see Store.Load) the sessions table and the
// event_sessions view as temporary views built from its events: rules and
// queries that read them run unchanged, only slower, and nothing is
// written. A store without the sessions_pending table (made before it)
// rebuilt its sessions with its events, in one transaction. Sessions that
// are up to date but lack issue_user_agent (versions 3 and 4) are read as
// stored, with the column added (readAroundIssueUserAgent): a build in
// every query ran out of memory on a 10M-event store.
func (s *Store) readAroundStaleSessions(ctx context.Context, v int) error {
	if v >= 3 {
		var pending bool
		err := s.DB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
  WHERE table_schema = 'main' AND table_name = 'sessions_pending')`).Scan(&pending)
		if err == nil && pending {
			err = s.DB.QueryRowContext(ctx, "SELECT count(*) > 0 FROM sessions_pending").Scan(&pending)
		}
		switch {
		case err != nil:
			return err
		case !pending && v < 5:
			return s.readAroundIssueUserAgent(ctx)
		case !pending:
			return nil
		}
	}
	return s.defineSessions(ctx)
}

// readAroundIssueUserAgent gives the stored sessions of a store made
// before issue_user_agent, opened read-only, the column as the build
// gives it (the user agent of the issuing event, which its event id and
// time name: another call may share the id), in a temporary sessions
// view on every connection. An issuing event without an eventID gives
// none here; the next ingest's rebuild gives it.
func (s *Store) readAroundIssueUserAgent(ctx context.Context) error {
	catalog, err := s.catalog(ctx)
	if err != nil {
		return err
	}
	stored := catalog + ".main.sessions"
	s.onConnect.add(`CREATE OR REPLACE TEMP VIEW sessions AS
SELECT s.*, i.user_agent AS ` + issueUserAgentColumn + ` FROM ` + stored + ` s
LEFT JOIN (SELECT event_id, event_time, min(user_agent) AS user_agent FROM event_rows
           WHERE event_id IN (SELECT issue_event_id FROM ` + stored + `) GROUP BY event_id, event_time) i
  ON i.event_id = s.issue_event_id AND i.event_time = s.issue_time`)
	if err := s.reconnect(ctx); err != nil {
		return fmt.Errorf("read the sessions of %s: %w", displayPath(s.Path), err)
	}
	return nil
}

// defineSessions defines the temporary views of readAroundStaleSessions on
// every connection of the store's pool: a temporary view is one
// connection's own, so each new connection makes them first, and the idle
// ones made before are let go.
func (s *Store) defineSessions(ctx context.Context) error {
	s.onConnect.add(
		// OR REPLACE: readAroundOldViews may have made them before.
		"CREATE OR REPLACE TEMP VIEW sessions AS "+SessionsBuildSQL(),
		createTempViewSQL(eventSessionsView()),
	)
	if err := s.reconnect(ctx); err != nil {
		return fmt.Errorf("define sessions over %s: %w", displayPath(s.Path), err)
	}
	return nil
}

// reconnect lets go of the pool's idle connections, so every connection
// from now on runs s.onConnect's statements first, and opens one: an
// error of those statements is reported here.
func (s *Store) reconnect(ctx context.Context) error {
	s.DB.SetMaxIdleConns(0)
	s.DB.SetMaxIdleConns(2) // database/sql's default
	_, err := s.DB.ExecContext(ctx, "SELECT 1")
	return err
}

func eventSessionsView() Table {
	for _, v := range Views {
		if v.Name == "event_sessions" {
			return v
		}
	}
	panic("no event_sessions view")
}

// migrateInTx brings a version 1 store's events to this version, inside
// upgrade's transaction: every event is decoded again from its raw JSON
// (which both versions store as it was given), so its key and columns are
// the ones this version stores, and events that are now one event are
// kept once; files and their errors get this version's ids. An ingest
// that follows then adds nothing the store already holds. It returns the
// number of stored events that turned out to be copies of another.
func (s *Store) migrateInTx(ctx context.Context, conn *sql.Conn) (merged int64, err error) {
	ids, err := migrateFileIDs(ctx, conn)
	if err != nil {
		return 0, err
	}
	// Decoded into a table of event_rows' columns, then stored as
	// event_rows stores them (StorableEventsSQL).
	reread := Table{Name: "event_rows_reread", Columns: StoredEventColumns()}
	next := eventRowsTable("event_rows_next")
	if err := execEach(ctx, conn, createTableSQL(reread, true), createTableSQL(next, false)); err != nil {
		return 0, err
	}
	if err := s.rereadEvents(ctx, conn, reread.Name, ids); err != nil {
		return 0, err
	}
	if err := execEach(ctx, conn,
		"INSERT INTO event_rows_next BY NAME "+StorableEventsSQL("SELECT * FROM temp.event_rows_reread"),
		"DROP TABLE temp.event_rows_reread",
	); err != nil {
		return 0, err
	}
	// Keep the first of the events that are now one.
	res, err := conn.ExecContext(ctx, `DELETE FROM event_rows_next WHERE rowid IN (
  SELECT n.rowid FROM event_rows_next n WHERE EXISTS (
    SELECT 1 FROM event_rows_next o WHERE o.rowid < n.rowid AND `+sameEventSQL("o", "n")+`))`)
	if err != nil {
		return 0, fmt.Errorf("merge events: %w", err)
	}
	if merged, err = res.RowsAffected(); err != nil {
		return 0, err
	}
	stmts := replaceEventRowsSQL("event_rows_next")
	for _, v := range Views {
		stmts = append(stmts, createViewSQL(v))
	}
	if err := execEach(ctx, conn, stmts...); err != nil {
		return 0, err
	}
	if err := BuildSessions(ctx, conn); err != nil {
		return 0, err
	}
	if err := setVersion(ctx, conn); err != nil {
		return 0, err
	}
	return merged, nil
}

// replaceEventRowsSQL replaces event_rows with the table next: the views,
// which read it, go first (createSchema makes them again).
func replaceEventRowsSQL(next string) []string {
	var stmts []string
	for _, v := range Views {
		stmts = append(stmts, "DROP VIEW IF EXISTS "+v.Name)
	}
	return append(stmts, "DROP TABLE event_rows", "ALTER TABLE "+next+" RENAME TO event_rows")
}

// storeEventIDs writes the events of a store made before event_uuid
// (version 5 or older; its event_rows has issued_credential, upgrade adds
// it first) again into an event_rows that stores event_id as this version
// does (see StorableEventsSQL): every event is copied, raw included.
func storeEventIDs(ctx context.Context, conn *sql.Conn) error {
	stmts := []string{
		createTableSQL(eventRowsTable("event_rows_next"), false),
		"INSERT INTO event_rows_next BY NAME " + StorableEventsSQL("SELECT "+ColumnList(StoredEventColumns())+" FROM event_rows"),
	}
	if err := execEach(ctx, conn, append(stmts, replaceEventRowsSQL("event_rows_next")...)...); err != nil {
		return fmt.Errorf("store event ids: %w", err)
	}
	return nil
}

// migrateFileIDs gives files and ingest_errors this version's file ids
// and returns the old id to new id map. Version 1 gave one id to a path
// read with different contents: its events and errors go with the first
// of them recorded.
func migrateFileIDs(ctx context.Context, conn *sql.Conn) (map[int64]int64, error) {
	rows, err := conn.QueryContext(ctx, "SELECT rowid, file_id, path, coalesce(sha256, '') FROM files ORDER BY ingested_at, rowid")
	if err != nil {
		return nil, err
	}
	type change struct{ rowid, old, id int64 }
	var changes []change
	ids := map[int64]int64{}
	for rows.Next() {
		var rowid, old int64
		var path, sha string
		if err := rows.Scan(&rowid, &old, &path, &sha); err != nil {
			rows.Close()
			return nil, err
		}
		id := ingest.FileID(path, sha)
		changes = append(changes, change{rowid, old, id})
		if _, ok := ids[old]; !ok {
			ids[old] = id
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Into a scratch table, then two joined updates: an UPDATE per file
	// would scan the table once per file.
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE file_ids (file_rowid BIGINT, old_id BIGINT, new_id BIGINT, first BOOLEAN)"); err != nil {
		return nil, err
	}
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", "file_ids")
		if err != nil {
			return err
		}
		defer func() { _ = app.Close() }() // flushed and checked below
		for _, c := range changes {
			if err := app.AppendRow(c.rowid, c.old, c.id, ids[c.old] == c.id); err != nil {
				return err
			}
		}
		return app.Flush()
	})
	for _, q := range []string{
		"UPDATE files f SET file_id = m.new_id FROM file_ids m WHERE f.rowid = m.file_rowid",
		`UPDATE ingest_errors e SET file_id = m.new_id FROM (SELECT DISTINCT old_id, new_id FROM file_ids WHERE first) m
WHERE e.file_id = m.old_id`,
		"DROP TABLE file_ids",
	} {
		if err != nil {
			break
		}
		_, err = conn.ExecContext(ctx, q)
	}
	if err != nil {
		return nil, fmt.Errorf("migrate file ids: %w", err)
	}
	return ids, nil
}

// rereadEvents appends every stored event, decoded again, to table. The
// events are read on a connection of their own (the store is not changed
// until the append is done), a row at a time, so memory stays bounded
// however large the store. An event this version cannot decode (none
// should: the old version decoded it) is copied as it is, identified by
// its content.
func (s *Store) rereadEvents(ctx context.Context, conn *sql.Conn, table string, ids map[int64]int64) error {
	rows, err := StreamTable(ctx, s.DB, "event_rows", "rowid, raw, file_id, record_index")
	if err != nil {
		return err
	}
	defer rows.Close()
	var undecoded []int64
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppender(dc.(driver.Conn), "", "main", table)
		if err != nil {
			return err
		}
		defer func() { _ = app.Close() }() // flushed and checked below
		var r ingest.Rereader
		args := make([]driver.Value, len(StoredEventColumns()))
		for rows.Next() {
			var rowid, fileID, index int64
			var raw string
			if err := rows.Scan(&rowid, &raw, &fileID, &index); err != nil {
				return err
			}
			var ev ingest.Event
			if r.Event(raw, &ev) != nil {
				undecoded = append(undecoded, rowid)
				continue
			}
			ev.FileID, ev.RecordIndex = fileID, index
			if id, ok := ids[fileID]; ok {
				ev.FileID = id
			}
			eventRow(&ev, args)
			if err := app.AppendRow(args...); err != nil {
				return fmt.Errorf("migrate event %d: %w", rowid, err)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return app.Flush()
	})
	if err != nil {
		return fmt.Errorf("migrate events: %w", err)
	}
	for _, rowid := range undecoded {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s BY NAME SELECT %s REPLACE (
  (hash(raw) | %d::UBIGINT) AS event_key) FROM event_rows WHERE rowid = ?`, table, storedEventsStar, ingest.RawKeyBit), rowid); err != nil {
			return fmt.Errorf("migrate event %d: %w", rowid, err)
		}
	}
	return nil
}

// eventRow fills args in StoredEventColumns order.
func eventRow(ev *ingest.Event, args []driver.Value) {
	var ts any
	if ev.HasTime {
		ts = ev.Time
	}
	vals := [...]any{
		ev.Key, ts, nullStr(ev.EventVersion), nullStr(ev.EventSource), nullStr(ev.EventName),
		nullStr(ev.EventType), nullStr(ev.EventCategory), nullStr(ev.AWSRegion), nullStr(ev.SourceIP),
		nullStr(ev.UserAgent), nullStr(ev.ErrorCode), nullStr(ev.ErrorMessage), nullBool(ev.ReadOnly),
		nullBool(ev.ManagementEvent), nullStr(ev.UserType), nullStr(ev.UserName), nullStr(ev.UserARN),
		nullStr(ev.PrincipalID), nullStr(ev.AccountID), nullStr(ev.AccessKeyID), nullStr(ev.SessionIssuerARN),
		nullStr(ev.SessionIssuerName), nullStr(ev.InvokedBy), nullBool(ev.MFAAuthenticated), nullStr(ev.Actor),
		nullStr(ev.RecipientAccountID), nullStr(ev.EventID),
		nullStr(ev.LoginResult), nullStr(ev.MFAUsed), nullStr(ev.MFAIdentifier), nullStr(ev.CredentialType),
		nullStr(ev.CredentialChallenge), nullStr(ev.AuthWorkflowID), nullStr(ev.Outcome),
		ev.Raw, ev.FileID, ev.RecordIndex, nullStr(ev.IssuedCredential),
	}
	for i, v := range vals {
		args[i] = v
	}
}

func nullBool(t ingest.Tristate) any {
	switch t {
	case ingest.True:
		return true
	case ingest.False:
		return false
	}
	return nil
}
