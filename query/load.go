package query

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"

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
func (s *Store) Load(ctx context.Context, sources map[string]string) (inserted, rejected int64, err error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	// Optimistic first: every staged raw is checked inside the insert,
	// which fails at the first invalid one. That reads the staging once
	// less than finding the rejects first, and a staging that trailsift
	// wrote has none (the decoder writes strict JSON). Only when one is
	// found is the transaction rolled back and the careful load run.
	inserted, rejected, err = loadTx(ctx, conn, sources, false)
	if err != nil && strings.Contains(err.Error(), invalidRawMarker) {
		carefulLoads.Add(1)
		inserted, rejected, err = loadTx(ctx, conn, sources, true)
	}
	return inserted, rejected, err
}

// carefulLoads counts the loads that fell back to the careful check.
var carefulLoads atomic.Int64

// invalidRawMarker is the error the optimistic load raises on a staged raw
// that is not valid JSON.
const invalidRawMarker = "trailsift: a staged raw is not valid JSON"

// loadTx runs one load transaction on conn. careful finds the staged rows
// whose raw is invalid JSON first, and leaves them out; otherwise such a
// row fails the load with invalidRawMarker.
func loadTx(ctx context.Context, conn *sql.Conn, sources map[string]string, careful bool) (inserted, rejected int64, err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return 0, 0, fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK") // the load's own error is the one to report
		}
	}()
	src := sources["event_rows"]
	rejects := "SELECT NULL::BIGINT AS file_id, NULL::BIGINT AS record_index WHERE false"
	if careful && src != "" {
		rejects = `SELECT file_id, record_index FROM (` + src + `) WHERE NOT coalesce(json_valid(raw), false)`
	}
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE staged_rejects AS "+rejects); err != nil {
		return 0, 0, fmt.Errorf("check staged events: %w", err)
	}
	if careful {
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM staged_rejects").Scan(&rejected); err != nil {
			return 0, 0, err
		}
	} else if src != "" {
		src = fmt.Sprintf(`SELECT * REPLACE (CASE WHEN coalesce(json_valid(raw), false) THEN raw ELSE error(%s) END AS raw) FROM (%s)`,
			StringLiteral(invalidRawMarker), src)
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
	// In the same transaction, so events and sessions always agree.
	if inserted > 0 {
		if err := buildSessions(ctx, conn); err != nil {
			return 0, 0, err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return 0, 0, fmt.Errorf("commit: %w", err)
	}
	committed = true
	return inserted, rejected, nil
}

// insertNewEvents inserts the events of src the store lacks, leaving out
// the staged rejects. Two inserts, so that only events identified by
// their content compare raw, against the stored events identified the
// same way: comparing raw for every row reads every stored event's raw,
// and one join over both kinds ran DuckDB out of memory (samples/bench.sh
// measures the load). The key bound is typed: an untyped literal this
// large made DuckDB compare every key as a wider type.
func insertNewEvents(ctx context.Context, conn *sql.Conn, src string, haveRejects bool) (inserted int64, err error) {
	fresh := ""
	if haveRejects {
		fresh = ` AND NOT EXISTS (SELECT 1 FROM staged_rejects r WHERE r.file_id = n.file_id AND r.record_index = n.record_index)`
	}
	bound := fmt.Sprintf("%d::UBIGINT", ingest.RawKeyBit)
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO event_rows SELECT * FROM (%[1]s) n WHERE n.event_key < %[2]s%[3]s
AND NOT EXISTS (SELECT 1 FROM event_rows o WHERE %[4]s)`, src, bound, fresh, sameEventColumnsSQL("o", "n")),
		fmt.Sprintf(`INSERT INTO event_rows SELECT * FROM (%[1]s) n WHERE n.event_key >= %[2]s%[3]s
AND NOT EXISTS (SELECT 1 FROM (SELECT * FROM event_rows WHERE event_key >= %[2]s) o WHERE %[4]s AND o.raw = n.raw)`, src, bound, fresh, sameEventColumnsSQL("o", "n")),
	} {
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
