package lake

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// StagingDir is where an ingest into the DuckDB store at db stages its
// events: a Parquet dataset beside the database, never beside the evidence.
//
// Loading a DuckDB store goes through Parquet because it measured faster:
// on the 1.25M-event bench corpus, writing the dataset in parallel and
// then one INSERT ... SELECT from it (DuckDB reads Parquet on every core
// and compresses full row groups) took a third of the time of appending
// the events through DuckDB's Appender (29 s against 87 s), and made a
// database a third smaller. Feeding DuckDB through a Go table function
// instead, in transactions of 256k events, took 44 s: its rows went
// through the write-ahead log. The dataset has the same exactly-once rules
// as any other, so an interrupted or killed ingest resumes from it.
func StagingDir(db string) string { return db + ".staging" }

// Manifests joins the manifests of a store and of its staging dataset: a
// file staged by an interrupted run is not read again.
type Manifests []ingest.Manifest

func (ms Manifests) Has(path, sha string) bool {
	for _, m := range ms {
		if m.Has(path, sha) {
			return true
		}
	}
	return false
}

func (ms Manifests) HasContent(sha string) (string, bool) {
	for _, m := range ms {
		if p, ok := m.HasContent(sha); ok {
			return p, true
		}
	}
	return "", false
}

// LoadStore moves the staging dataset at dir into store in one
// transaction: the events the store does not hold yet, and the files and
// ingest_errors rows it does not hold yet (so a load repeated after a
// crash between its commit and the removal of dir adds nothing). The
// dataset is removed afterwards. It returns the number of new events, and
// the number of staged events not stored because DuckDB finds their JSON
// invalid: those are reported in ingest_errors (their file is marked
// failed) instead of failing the load, so one bad record never costs the
// others, nor wedges the next run on the same staging dataset.
func LoadStore(ctx context.Context, store *query.Store, dir string) (inserted, rejected int64, err error) {
	sources := tableSources(dir)
	conn, err := store.DB.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return 0, 0, fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK") // the load's own error is the one to report
		}
	}()
	rejects := "SELECT NULL::BIGINT AS file_id, NULL::BIGINT AS record_index WHERE false"
	if src := sources["event_rows"]; src != "" {
		rejects = `SELECT file_id, record_index FROM (` + src + `) WHERE NOT coalesce(json_valid(raw), false)`
	}
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE staged_rejects AS "+rejects); err != nil {
		return 0, 0, fmt.Errorf("check staged events: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM staged_rejects").Scan(&rejected); err != nil {
		return 0, 0, err
	}
	if src := sources["event_rows"]; src != "" {
		// Two inserts, so that only events identified by their content
		// compare raw, against the stored events identified the same way:
		// comparing raw for every row read every stored event's raw (2.5x
		// slower), and one join over both kinds ran DuckDB out of memory on
		// 200k events. The key bound is typed: an untyped literal this large
		// made DuckDB compare every key as a wider type (twice as slow).
		fresh := ""
		if rejected > 0 {
			fresh = ` AND NOT EXISTS (SELECT 1 FROM staged_rejects r WHERE r.file_id = n.file_id AND r.record_index = n.record_index)`
		}
		bound := fmt.Sprintf("%d::UBIGINT", ingest.RawKeyBit)
		for _, q := range []string{
			fmt.Sprintf(`INSERT INTO event_rows SELECT * FROM (%[1]s) n WHERE n.event_key < %[2]s%[3]s
AND NOT EXISTS (SELECT 1 FROM event_rows o WHERE %[4]s)`, src, bound, fresh, query.SameEventColumnsSQL("o", "n")),
			fmt.Sprintf(`INSERT INTO event_rows SELECT * FROM (%[1]s) n WHERE n.event_key >= %[2]s%[3]s
AND NOT EXISTS (SELECT 1 FROM (SELECT * FROM event_rows WHERE event_key >= %[2]s) o WHERE %[4]s AND o.raw = n.raw)`, src, bound, fresh, query.SameEventColumnsSQL("o", "n")),
		} {
			res, err := conn.ExecContext(ctx, q)
			if err != nil {
				return 0, 0, fmt.Errorf("store events: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return 0, 0, err
			}
			inserted += n
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
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return 0, 0, fmt.Errorf("commit: %w", err)
	}
	committed = true
	return inserted, rejected, os.RemoveAll(dir)
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
