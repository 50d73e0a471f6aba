package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/trailsift/trailsift/ingest"
)

// Staging is what Load reads, as lake reads a staged Parquet dataset:
// SELECTs of the staged rows, with the columns of the store's tables.
type Staging struct {
	// Events are SELECTs of event_rows rows, in slices that are loaded in
	// this order, each in a transaction of its own. A staged row is known
	// by its place, file_id and record_index: the decoder makes at most
	// one event of a record, and a file's id is its path and content.
	Events []string
	// Files and Errors select the staged files and ingest_errors rows
	// (either may be empty). They are stored with the last slice.
	Files, Errors string
	// RawValid says every staged raw is known to be valid JSON (its writer
	// checked it): the scan for invalid ones, which reads every raw once
	// more before the insert (6% of an ingest), is then skipped.
	RawValid bool
	// Loaded, when not nil, is called after the transaction that stored
	// slice i commits: the caller may delete what the slice read.
	Loaded func(i int) error
}

// Load adds to the store what the staging holds that it does not hold yet.
// An event the store holds already (sameEventSQL) is not added again, nor
// is a files row with the same path, sha256 and status, so a load repeated
// after a crash adds nothing. Load returns the number of new events, and
// the number of events not stored because DuckDB finds their JSON invalid:
// those are reported in ingest_errors (their file is marked failed)
// instead of failing the load, so one bad record never costs the others,
// nor wedges the next run.
//
// Each slice of events is its own transaction, so the caller can delete a
// slice's staged files as soon as it is stored: the disk then holds the
// staging or the store, not both (an ingest's peak disk was 2.2x its store
// in one transaction). The files manifest goes in with the last slice: a
// run stopped before it still has its files staged, loads the rest next
// time, and finds the slices it stored already in the store (the events
// the store held before the load are found once, first: a slice is not
// compared with the growing store).
//
// The sessions table is not rebuilt here but by UpdateSessions, after the
// load, in a transaction of its own: DuckDB scans the events of an open
// transaction on one core and committed ones on all, which made the build
// a third slower inside it, and the caller can free what it staged first.
// Each slice's transaction marks the sessions pending (sessions_pending),
// so a run stopped before UpdateSessions leaves a mark that the next one
// acts on (rebuilding, even with nothing new) and that a read-only open
// reads around (lineage from the events).
func (s *Store) Load(ctx context.Context, st Staging) (inserted, rejected int64, err error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	all := unionAll(st.Events)
	if rejected, err = findRejects(ctx, conn, all, st.RawValid); err != nil {
		return 0, 0, err
	}
	stored, err := findStored(ctx, conn, all)
	if err != nil {
		return 0, 0, err
	}
	slices := st.Events
	if len(slices) == 0 {
		slices = []string{""} // the manifest alone
	}
	for i, src := range slices {
		err := inTx(ctx, conn, func() error {
			n, err := insertSlice(ctx, conn, src, stored > 0, rejected > 0)
			if err != nil {
				return err
			}
			inserted += n
			if i == len(slices)-1 && st.Files != "" {
				if err := insertNewFiles(ctx, conn, st.Files, st.Errors); err != nil {
					return err
				}
			}
			// With the events, so a load stopped before the sessions are
			// rebuilt is seen to have stopped there.
			if n > 0 {
				err = markSessionsPending(ctx, conn)
			}
			return err
		})
		if err != nil {
			return 0, 0, err
		}
		if st.Loaded != nil && src != "" {
			if err := st.Loaded(i); err != nil {
				return 0, 0, err
			}
		}
	}
	for _, t := range []string{"staged_rejects", "staged_stored"} {
		if _, err := conn.ExecContext(ctx, "DROP TABLE "+t); err != nil {
			return 0, 0, err
		}
	}
	return inserted, rejected, nil
}

// StreamedLoad is a load whose events the caller inserts as it decodes
// them (lake hands them to DuckDB as Arrow record batches), into a store
// that held no events when it began: nothing stored can be the same event
// as a new one, so no staging is needed to find out. It goes in
// transactions on Conn (Commit, then Begin for the next): the events of
// each, the files and ingest_errors rows of the files read whole by then
// and the sessions mark commit together, or none of them does (a killed
// run keeps what its earlier transactions committed).
type StreamedLoad struct {
	Conn     *sql.Conn
	inserted int64
	open     bool
}

// StartStreamedLoad begins a streamed load, or returns nil when the store
// holds events already: only Load, from a staging, can tell which new
// events it holds.
func (s *Store) StartStreamedLoad(ctx context.Context) (*StreamedLoad, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	l := &StreamedLoad{Conn: conn}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("begin: %w", err)
	}
	l.open = true
	if empty, err := holdsNoEvents(ctx, conn); err != nil || !empty {
		l.Close()
		return nil, err
	}
	return l, nil
}

// InsertEvents stores the rows src selects, by column name, as they come.
func (l *StreamedLoad) InsertEvents(ctx context.Context, src string) error {
	res, err := l.Conn.ExecContext(ctx, "INSERT INTO event_rows BY NAME "+StorableEventsSQL(src))
	if err != nil {
		return fmt.Errorf("store events: %w", err)
	}
	n, err := res.RowsAffected()
	l.inserted += n
	return err
}

// DropRepeats deletes the events this load stored twice (sameEventSQL),
// keeping the copy of the smallest file_id and record_index (the order
// the insert stored them in is not the order they were read in), and
// says how many it deleted. The caller's deduplication misses them only
// when a partition's identities had left its bounded cache before the
// partition came back.
//
// where narrows the events compared (an SQL condition on event_rows, with
// args): the caller knows which partitions can hold copies.
func (l *StreamedLoad) DropRepeats(ctx context.Context, where string, args ...any) (int64, error) {
	res, err := l.Conn.ExecContext(ctx, `DELETE FROM event_rows WHERE rowid IN (
  SELECT rowid FROM (SELECT rowid, row_number() OVER (PARTITION BY `+sameEventKeySQL()+` ORDER BY file_id, record_index) AS copy
    FROM event_rows WHERE `+where+`)
  WHERE copy > 1)`, args...)
	if err != nil {
		return 0, fmt.Errorf("store events: drop the ones stored twice: %w", err)
	}
	n, err := res.RowsAffected()
	l.inserted -= n
	return n, err
}

// Commit stores the files and ingest_errors rows that files and errs
// select (as Staging's) and the store lacks, marks the sessions pending
// when events were stored, and commits. It returns the number of events
// the load stored, in this transaction and the ones before (see Begin).
func (l *StreamedLoad) Commit(ctx context.Context, files, errs string) (int64, error) {
	if _, err := findRejects(ctx, l.Conn, "", true); err != nil {
		return 0, err
	}
	if files != "" {
		if err := insertNewFiles(ctx, l.Conn, files, errs); err != nil {
			return 0, err
		}
	}
	if _, err := l.Conn.ExecContext(ctx, "DROP TABLE staged_rejects"); err != nil {
		return 0, err
	}
	if l.inserted > 0 {
		if err := markSessionsPending(ctx, l.Conn); err != nil {
			return 0, err
		}
	}
	if _, err := l.Conn.ExecContext(ctx, "COMMIT"); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	l.open = false
	return l.inserted, nil
}

// Begin starts the load's next transaction, after a Commit: a long load
// commits as it goes, so that a run killed late keeps most of its work.
func (l *StreamedLoad) Begin(ctx context.Context) error {
	if _, err := l.Conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	l.open = true
	return nil
}

// Close rolls back what was not committed and releases the connection.
func (l *StreamedLoad) Close() {
	if l.open {
		_, _ = l.Conn.ExecContext(context.Background(), "ROLLBACK") // nothing of it is kept
		l.open = false
	}
	l.Conn.Close()
}

// markSessionsPending records, in the transaction that stores events,
// that the sessions lag them (see Load).
func markSessionsPending(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "INSERT INTO sessions_pending SELECT now() WHERE NOT EXISTS (SELECT 1 FROM sessions_pending)")
	return err
}

// holdsNoEvents says whether the store on conn has no events.
func holdsNoEvents(ctx context.Context, conn *sql.Conn) (bool, error) {
	var empty bool
	err := conn.QueryRowContext(ctx, "SELECT NOT EXISTS (SELECT 1 FROM event_rows)").Scan(&empty)
	return empty, err
}

func unionAll(selects []string) string {
	if len(selects) == 0 {
		return ""
	}
	return "(" + strings.Join(selects, ") UNION ALL (") + ")"
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

// stageSessionsInLoad is StageSessions; tests make it fail.
var stageSessionsInLoad = StageSessions

// sessionsPending says whether the store's sessions table lags its events.
func sessionsPending(ctx context.Context, conn *sql.Conn) (bool, error) {
	var pending bool
	err := conn.QueryRowContext(ctx, "SELECT count(*) > 0 FROM sessions_pending").Scan(&pending)
	return pending, err
}

// rebuildSessions rebuilds the sessions table and clears the pending mark,
// in one transaction. The build's stages are computed before it, each a
// temporary table committed on its own: written inside the transaction,
// they stayed in its local storage until the end, which the later stages
// read more slowly (on the bench store the last step took 0.48 s instead
// of 0.24, the whole build 1.55 s instead of 1.28). Nothing else writes
// the store meanwhile: a writer holds its lock. A build that fails leaves
// the table empty, with a warning in ingest_errors, and returns that
// warning; a load interrupted meanwhile leaves the mark for the next one.
func rebuildSessions(ctx context.Context, conn *sql.Conn) (skipped, err error) {
	buildErr := func() error {
		final, drop, err := stageSessionsInLoad(ctx, conn)
		if err != nil {
			return err
		}
		defer drop()
		return inTx(ctx, conn, func() error {
			if err := storeSessions(ctx, conn, final); err != nil {
				return err
			}
			_, err := conn.ExecContext(ctx, "DELETE FROM sessions_pending")
			return err
		})
	}()
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

// noPlaces selects no staged places (file_id, record_index), with their
// types: the temporary tables of places are made from it when there is
// nothing to look for.
const noPlaces = "SELECT NULL::BIGINT AS file_id, NULL::BIGINT AS record_index WHERE false"

// findRejects keeps, in the temporary table staged_rejects, the places
// (file_id, record_index) of the staged rows whose raw is invalid JSON,
// unless rawValid, and counts them. Found in a scan that keeps only their
// places, and left out of the inserts, which copy the staged columns as
// they are. (Checking raw inside the insert instead, with json_valid or a
// cast, saves that scan but makes DuckDB hold each computed raw until its
// row group is written: that ran a 10M-event load out of the store's
// memory limit, and a 1.25M one under a 150 MB limit, where the plain copy
// loads 5M.)
func findRejects(ctx context.Context, conn *sql.Conn, all string, rawValid bool) (n int64, err error) {
	rejects := noPlaces
	if all != "" && !rawValid {
		rejects = `SELECT file_id, record_index FROM (` + all + `) WHERE NOT coalesce(json_valid(raw), false)`
	}
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE staged_rejects AS "+rejects); err != nil {
		return 0, fmt.Errorf("check staged events: %w", err)
	}
	err = conn.QueryRowContext(ctx, "SELECT count(*) FROM staged_rejects").Scan(&n)
	return n, err
}

// findStored keeps, in the temporary table staged_stored, the places of
// the staged events that the store holds already, and counts them: none
// for a first load or new evidence (then nothing is compared), all of them
// for a re-run. It joins the identity columns alone, so that only events
// identified by their content (a key at or above ingest.RawKeyBit, rare)
// compare raw, against the stored events identified the same way:
// comparing raw for every row reads every stored event's raw. The key
// bound is typed: an untyped literal this large made DuckDB compare every
// key as a wider type.
func findStored(ctx context.Context, conn *sql.Conn, all string) (n int64, err error) {
	found := noPlaces
	empty, err := holdsNoEvents(ctx, conn)
	if err != nil {
		return 0, err
	}
	if all != "" && !empty {
		bound := fmt.Sprintf("%d::UBIGINT", ingest.RawKeyBit)
		same := sameEventColumnsSQL("o", "n")
		found = fmt.Sprintf(`SELECT n.file_id, n.record_index FROM (%[1]s) n
SEMI JOIN event_rows o ON %[3]s
WHERE n.event_key < %[2]s
UNION ALL
SELECT n.file_id, n.record_index FROM (%[1]s) n
SEMI JOIN (SELECT * FROM event_rows WHERE event_key >= %[2]s) o ON %[3]s AND o.raw = n.raw
WHERE n.event_key >= %[2]s`, all, bound, same)
	}
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE staged_stored AS "+found); err != nil {
		return 0, fmt.Errorf("store events: find the ones stored already: %w", err)
	}
	err = conn.QueryRowContext(ctx, "SELECT count(*) FROM staged_stored").Scan(&n)
	return n, err
}

// insertSlice inserts the events of src, leaving out those the store held
// before the load and the rejects. When there are neither, as in a first
// load, the insert copies the staging as it is, streaming. The joins are
// ANTI JOINs on the small tables of places, not NOT EXISTS, which DuckDB
// plans over several columns as a delim join that keeps every staged row,
// raw included, in memory: that ran a 10M-event load out of the store's
// memory limit.
func insertSlice(ctx context.Context, conn *sql.Conn, src string, haveStored, haveRejects bool) (int64, error) {
	if src == "" {
		return 0, nil
	}
	q := src
	if haveStored || haveRejects {
		q = "SELECT n.* FROM (" + src + ") n"
		if haveStored {
			q += " ANTI JOIN staged_stored d ON d.file_id = n.file_id AND d.record_index = n.record_index"
		}
		if haveRejects {
			q += " ANTI JOIN staged_rejects r ON r.file_id = n.file_id AND r.record_index = n.record_index"
		}
	}
	res, err := conn.ExecContext(ctx, "INSERT INTO event_rows BY NAME "+StorableEventsSQL(q))
	if err != nil {
		return 0, fmt.Errorf("store events: %w", err)
	}
	return res.RowsAffected()
}

// insertNewFiles copies the staged manifest rows the store lacks, and the
// errors of those files. A file with rejected events is failed first, so a
// file that fails again in a later run (a failed file is always read
// again) matches its stored row and is not recorded twice.
func insertNewFiles(ctx context.Context, conn *sql.Conn, files, errs string) error {
	stmts := []string{
		`CREATE OR REPLACE TEMP TABLE staged_files AS ` + files,
		`UPDATE staged_files f SET status = 'failed', events = f.events - r.n,
  reason = r.n || ' records not stored: not valid JSON for the store (see ingest_errors); the rest were kept'
FROM (SELECT file_id, count(*) AS n FROM staged_rejects GROUP BY file_id) r WHERE f.file_id = r.file_id`,
		`DELETE FROM staged_files f WHERE EXISTS (SELECT 1 FROM files o
  WHERE o.path = f.path AND o.sha256 IS NOT DISTINCT FROM f.sha256 AND o.status = f.status)`,
		"INSERT INTO files SELECT * FROM staged_files",
	}
	if errs != "" {
		stmts = append(stmts, `INSERT INTO ingest_errors SELECT * FROM (`+errs+`)
WHERE file_id IN (SELECT file_id FROM staged_files)`)
	}
	stmts = append(stmts, `INSERT INTO ingest_errors SELECT r.file_id, f.path, r.record_index, NULL, 'error',
  'record not stored: the store finds its JSON invalid'
FROM staged_rejects r JOIN staged_files f USING (file_id) ORDER BY r.file_id, r.record_index`, "DROP TABLE staged_files")
	if err := execEach(ctx, conn, stmts...); err != nil {
		return fmt.Errorf("store the files manifest: %w", err)
	}
	return nil
}
