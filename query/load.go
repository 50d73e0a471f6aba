package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/trailsift/trailsift/ingest"
)

// Load adds to the store, in one transaction, what sources hold that it
// does not hold yet: sources maps event_rows, files and ingest_errors
// (each optional) to a SELECT of that table's columns, as lake reads a
// staged Parquet dataset. An event the store holds already (sameEventSQL)
// is not added again, nor is a files row with the same path, sha256 and
// status, so a load repeated after a crash adds nothing. Load returns the
// number of new events, and the number of events not stored because
// DuckDB finds their JSON invalid: those are reported in ingest_errors
// (their file is marked failed) instead of failing the load, so one bad
// record never costs the others, nor wedges the next run.
//
// The sessions table is not rebuilt here but by UpdateSessions, after
// this transaction commits, in one of its own: DuckDB scans the events of
// an open transaction on one core and committed ones on all, which made
// the build a third slower inside it, and the caller can free what it
// staged first. This transaction marks the sessions pending
// (sessions_pending), so a run stopped before UpdateSessions leaves a
// mark that the next one acts on (rebuilding, even with nothing new) and
// that a read-only open reads around (lineage from the events).
//
// rawValid says every staged raw is known to be valid JSON (its writer
// checked it): the scan for invalid ones, which reads every raw once more
// before the insert (6% of an ingest), is then skipped.
func (s *Store) Load(ctx context.Context, sources map[string]string, rawValid bool) (inserted, rejected int64, err error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	return loadTx(ctx, conn, sources, rawValid)
}

// UpdateSessions rebuilds the sessions table when events were stored since
// it was last built (see Load), in one transaction that clears the mark.
// If the build fails (DuckDB out of memory on a very large store), the
// table is left empty rather than stale, an ingest_errors warning says
// why, and SessionsSkipped holds it: evidence is never lost to a derived
// table. A run interrupted meanwhile leaves the mark for the next one.
func (s *Store) UpdateSessions(ctx context.Context) error {
	s.SessionsSkipped = nil
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	pending, err := sessionsPending(ctx, conn)
	if err != nil || !pending {
		return err
	}
	s.SessionsSkipped, err = rebuildSessions(ctx, conn)
	return err
}

// buildSessionsInLoad is BuildSessions; tests make it fail.
var buildSessionsInLoad = BuildSessions

// sessionsPending says whether the store's sessions table lags its events.
func sessionsPending(ctx context.Context, conn *sql.Conn) (bool, error) {
	var pending bool
	err := conn.QueryRowContext(ctx, "SELECT count(*) > 0 FROM sessions_pending").Scan(&pending)
	return pending, err
}

// rebuildSessions rebuilds the sessions table and clears the pending mark,
// in one transaction. A build that fails leaves the table empty, with a
// warning in ingest_errors, and returns that warning; a load interrupted
// meanwhile leaves the mark for the next one.
func rebuildSessions(ctx context.Context, conn *sql.Conn) (skipped, err error) {
	buildErr := inTx(ctx, conn, func() error {
		if err := buildSessionsInLoad(ctx, conn); err != nil {
			return err
		}
		_, err := conn.ExecContext(ctx, "DELETE FROM sessions_pending")
		return err
	})
	if buildErr == nil || ctx.Err() != nil {
		return nil, ctx.Err()
	}
	skipped = sessionsSkipped(buildErr)
	return skipped, inTx(ctx, conn, func() error {
		if err := skipSessions(ctx, conn, skipped); err != nil {
			return err
		}
		_, err := conn.ExecContext(ctx, "DELETE FROM sessions_pending")
		return err
	})
}

// inTx runs do in a transaction on conn, committed when do succeeds and
// rolled back otherwise: every transaction of a store goes through it.
func inTx(ctx context.Context, conn *sql.Conn, do func() error) error {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := do(); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") // do's error is the one to report
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sessionsSkipped is the warning for a load whose sessions build failed
// with cause: one line, bounded, the same in ingest_errors and in the
// run's problems. DuckDB's first line says what failed; the rest is its
// advice on settings.
func sessionsSkipped(cause error) error {
	first, _, _ := strings.Cut(cause.Error(), "\n")
	msg := "credential lineage not built, the sessions table is left empty (trace, the lineage rules and the report's sessions miss it): " + first
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return errors.New(msg)
}

// skipSessions empties the sessions table on conn, inside the load's
// transaction, and records why (sessionsSkipped) in ingest_errors, as a
// warning: the events are stored, their lineage is not.
func skipSessions(ctx context.Context, conn *sql.Conn, why error) error {
	if _, err := conn.ExecContext(ctx, "DELETE FROM session_rows"); err != nil {
		return err
	}
	_, err := conn.ExecContext(ctx, "INSERT INTO ingest_errors (file_id, path, record_index, byte_offset, severity, message) VALUES (NULL, '(sessions)', NULL, NULL, 'warning', ?)", why.Error())
	return err
}

// loadTx runs one load transaction on conn. Unless rawValid, the staged
// rows whose raw is invalid JSON are found first, in a scan that keeps
// only their places, and left out of the insert, which copies the staged columns as they
// are. (Checking raw inside the insert instead, with json_valid or a cast,
// saves that scan but makes DuckDB hold each computed raw until its row
// group is written: that ran a 10M-event load out of the store's memory
// limit, and a 1.25M one under a 150 MB limit, where the plain copy
// loads 5M.)
func loadTx(ctx context.Context, conn *sql.Conn, sources map[string]string, rawValid bool) (inserted, rejected int64, err error) {
	err = inTx(ctx, conn, func() error {
		inserted, rejected, err = loadStaged(ctx, conn, sources, rawValid)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return inserted, rejected, nil
}

// loadStaged is loadTx's work, inside its transaction.
func loadStaged(ctx context.Context, conn *sql.Conn, sources map[string]string, rawValid bool) (inserted, rejected int64, err error) {
	src := sources["event_rows"]
	rejects := "SELECT NULL::BIGINT AS file_id, NULL::BIGINT AS record_index WHERE false"
	if src != "" && !rawValid {
		rejects = `SELECT file_id, record_index FROM (` + src + `) WHERE NOT coalesce(json_valid(raw), false)`
	}
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE staged_rejects AS "+rejects); err != nil {
		return 0, 0, fmt.Errorf("check staged events: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM staged_rejects").Scan(&rejected); err != nil {
		return 0, 0, err
	}
	if src != "" {
		if inserted, err = insertNewEvents(ctx, conn, src, rejected > 0); err != nil {
			return 0, 0, err
		}
	}
	if sources["files"] != "" {
		if err := insertNewFiles(ctx, conn, sources); err != nil {
			return 0, 0, err
		}
	}
	if _, err := conn.ExecContext(ctx, "DROP TABLE staged_rejects"); err != nil {
		return 0, 0, err
	}
	// With the events, so a load stopped before the sessions are rebuilt
	// is seen to have stopped there.
	if inserted > 0 {
		if _, err := conn.ExecContext(ctx, "INSERT INTO sessions_pending SELECT now() WHERE NOT EXISTS (SELECT 1 FROM sessions_pending)"); err != nil {
			return 0, 0, err
		}
	}
	return inserted, rejected, nil
}

// insertNewEvents inserts the events of src the store lacks, leaving out
// the staged rejects. It first counts them with a join of the identity
// columns alone. When all the staged events are new (a first load, or new
// evidence) the insert copies the staging as it is, streaming, and when
// none is (a re-run) there is nothing to insert. Only a staging that
// overlaps the store in part is inserted through joins that carry the
// staged rows.
//
// Two joins, so that only events identified by their content (a key at or
// above ingest.RawKeyBit, rare) compare raw, against the stored events
// identified the same way: comparing raw for every row reads every stored
// event's raw. The joins are ANTI JOINs, not NOT EXISTS, which DuckDB
// plans over several columns as a delim join that keeps every staged row,
// raw included, in memory: that ran a 10M-event load out of the store's
// memory limit. The key bound is typed: an untyped literal this large made
// DuckDB compare every key as a wider type.
func insertNewEvents(ctx context.Context, conn *sql.Conn, src string, haveRejects bool) (inserted int64, err error) {
	notRejected := ""
	if haveRejects {
		notRejected = ` ANTI JOIN staged_rejects r ON r.file_id = n.file_id AND r.record_index = n.record_index`
	}
	bound := fmt.Sprintf("%d::UBIGINT", ingest.RawKeyBit)
	same := sameEventColumnsSQL("o", "n")
	byColumns := func(cols string) string {
		return fmt.Sprintf(`SELECT %[5]s FROM (%[1]s) n%[3]s
ANTI JOIN event_rows o ON %[4]s
WHERE n.event_key < %[2]s`, src, bound, notRejected, same, cols)
	}
	byRaw := func(cols string) string {
		return fmt.Sprintf(`SELECT %[5]s FROM (%[1]s) n%[3]s
ANTI JOIN (SELECT * FROM event_rows WHERE event_key >= %[2]s) o ON %[4]s AND o.raw = n.raw
WHERE n.event_key >= %[2]s`, src, bound, notRejected, same, cols)
	}
	var fresh, staged int64
	// Selecting a constant lets DuckDB read only the columns the joins
	// compare: raw only for the few events identified by it.
	if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM (%s UNION ALL %s)",
		byColumns("1"), byRaw("1"))).Scan(&fresh); err != nil {
		return 0, fmt.Errorf("store events: count the new ones: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM ("+src+")").Scan(&staged); err != nil {
		return 0, err
	}
	var inserts []string
	switch {
	case fresh == 0:
	case fresh == staged:
		inserts = []string{"INSERT INTO event_rows " + src}
	default:
		inserts = []string{"INSERT INTO event_rows " + byColumns("n.*"), "INSERT INTO event_rows " + byRaw("n.*")}
	}
	for _, q := range inserts {
		res, err := conn.ExecContext(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("store events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		inserted += n
	}
	return inserted, nil
}

// insertNewFiles copies the staged manifest rows the store lacks, and the
// errors of those files. A file with rejected events is failed first, so a
// file that fails again in a later run (a failed file is always read
// again) matches its stored row and is not recorded twice.
func insertNewFiles(ctx context.Context, conn *sql.Conn, sources map[string]string) error {
	stmts := []string{
		`CREATE OR REPLACE TEMP TABLE staged_files AS ` + sources["files"],
		`UPDATE staged_files f SET status = 'failed', events = f.events - r.n,
  reason = r.n || ' records not stored: not valid JSON for the store (see ingest_errors); the rest were kept'
FROM (SELECT file_id, count(*) AS n FROM staged_rejects GROUP BY file_id) r WHERE f.file_id = r.file_id`,
		`DELETE FROM staged_files f WHERE EXISTS (SELECT 1 FROM files o
  WHERE o.path = f.path AND o.sha256 IS NOT DISTINCT FROM f.sha256 AND o.status = f.status)`,
		"INSERT INTO files SELECT * FROM staged_files",
	}
	if src := sources["ingest_errors"]; src != "" {
		stmts = append(stmts, `INSERT INTO ingest_errors SELECT * FROM (`+src+`)
WHERE file_id IN (SELECT file_id FROM staged_files)`)
	}
	stmts = append(stmts, `INSERT INTO ingest_errors SELECT r.file_id, f.path, r.record_index, NULL, 'error',
  'record not stored: the store finds its JSON invalid'
FROM staged_rejects r JOIN staged_files f USING (file_id) ORDER BY r.file_id, r.record_index`, "DROP TABLE staged_files")
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store the files manifest: %w", err)
		}
	}
	return nil
}
