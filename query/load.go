package query

import (
	"context"
	"database/sql"
	"errors"
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
// record never costs the others, nor wedges the next run. Load is a
// Loader's Finish: a whole ingest in one transaction.
func (s *Store) Load(ctx context.Context, sources map[string]string) (inserted, rejected int64, err error) {
	l, err := s.NewLoader(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	return l.Finish(ctx, sources)
}

// A Loader loads one ingest into the store in several transactions
// (chunks), so that DuckDB's insert runs while the rest is still being
// decoded: LoadChunk for each chunk, then Finish, once, for the last one.
// Each chunk is a load as Load describes. A chunk's sources must hold no
// event twice (the staging writer sees to that); an event that a chunk
// shares with an earlier one is found in the store. A record rejected in
// one chunk is reported when its file's manifest row comes, in that chunk
// or a later one.
type Loader struct {
	conn *sql.Conn
}

// NewLoader starts a load; Close ends it.
func (s *Store) NewLoader(ctx context.Context) (*Loader, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// Outside any transaction, so that a chunk rolled back for the
	// careful path keeps the rejects of the chunks before it.
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE staged_rejects (file_id BIGINT, record_index BIGINT)"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("check staged events: %w", err)
	}
	return &Loader{conn: conn}, nil
}

// Close ends the load. Rejects whose file never came are dropped: that
// file is not in the manifest, so the next run reads it again.
func (l *Loader) Close() error {
	_, err := l.conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS staged_rejects")
	return errors.Join(err, l.conn.Close())
}

// LoadChunk loads one chunk of the ingest in its own transaction.
func (l *Loader) LoadChunk(ctx context.Context, sources map[string]string) (inserted, rejected int64, err error) {
	return l.load(ctx, sources, false)
}

// Finish loads the last chunk (sources may be empty) and, in the same
// transaction, does the work that needs the whole ingest stored
// (finishIngest): it runs once per ingest, after every chunk.
func (l *Loader) Finish(ctx context.Context, sources map[string]string) (inserted, rejected int64, err error) {
	return l.load(ctx, sources, true)
}

func (l *Loader) load(ctx context.Context, sources map[string]string, last bool) (inserted, rejected int64, err error) {
	// Optimistic first: every staged raw is checked inside the insert,
	// which fails at the first invalid one. That reads the staging once
	// less than finding the rejects first, and a staging that trailsift
	// wrote has none (the decoder writes strict JSON). Only when one is
	// found is the transaction rolled back and the careful load run.
	inserted, rejected, err = loadTx(ctx, l.conn, sources, false, last)
	if err != nil && strings.Contains(err.Error(), invalidRawMarker) {
		carefulLoads.Add(1)
		inserted, rejected, err = loadTx(ctx, l.conn, sources, true, last)
	}
	return inserted, rejected, err
}

// finishIngest is the work that needs every event of an ingest stored,
// such as a table derived from all of them. Loader.Finish runs it in the
// last transaction of the ingest.
func finishIngest(context.Context, *sql.Conn) error { return nil }

// carefulLoads counts the loads that fell back to the careful check.
var carefulLoads atomic.Int64

// invalidRawMarker is the error the optimistic load raises on a staged raw
// that is not valid JSON.
const invalidRawMarker = "trailsift: a staged raw is not valid JSON"

// loadTx runs one load transaction on conn. careful finds the staged rows
// whose raw is invalid JSON first, adds them to staged_rejects and leaves
// them out; otherwise such a row fails the load with invalidRawMarker.
// last runs finishIngest too.
func loadTx(ctx context.Context, conn *sql.Conn, sources map[string]string, careful, last bool) (inserted, rejected int64, err error) {
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
	if careful && src != "" {
		res, err := conn.ExecContext(ctx, `INSERT INTO staged_rejects SELECT file_id, record_index FROM (`+src+`) WHERE NOT coalesce(json_valid(raw), false)`)
		if err != nil {
			return 0, 0, fmt.Errorf("check staged events: %w", err)
		}
		if rejected, err = res.RowsAffected(); err != nil {
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
	if last {
		if err := finishIngest(ctx, conn); err != nil {
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
FROM staged_rejects r JOIN staged_files f USING (file_id) ORDER BY r.file_id, r.record_index`,
		// Reported now; the rejects of files still to come wait for them.
		"DELETE FROM staged_rejects WHERE file_id IN (SELECT file_id FROM staged_files)",
		"DROP TABLE staged_files")
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store the files manifest: %w", err)
		}
	}
	return nil
}
