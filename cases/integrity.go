package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/trailsift/trailsift/integrity"
	"github.com/trailsift/trailsift/query"
)

// IntegrityCheck is the CloudTrail digest check of a case's evidence, as
// stored in its integrity_checks table.
type IntegrityCheck struct {
	CheckedAt time.Time
	Inputs    []string
	// Report is the check; nil when it did not run, and Note says why.
	Report *integrity.Report
	Note   string
}

// Result is the check's outcome in one word, as the result column holds it.
func (c IntegrityCheck) Result() string {
	switch {
	case c.Report == nil:
		return "not-run"
	case c.Report.Failed():
		return "failed"
	case !c.Report.Checked():
		return "not-checked"
	}
	return "ok"
}

// noCheckNote is the report's integrity section for a store no analyze
// checked: made by ingest, by a version before the check was stored, or a
// Parquet dataset.
const noCheckNote = "No digest check is recorded in this store (trailsift analyze records one; trailsift ingest does not): run trailsift verify on the evidence files."

// VerifyEvidence checks the CloudTrail digests of the inputs. known are
// the hashes of the log files ingest read (KnownHashes), which are not
// read again. It never fails the analysis: what could not be checked is
// said in the note.
func VerifyEvidence(ctx context.Context, inputs []string, keys integrity.Keys, known map[string]integrity.Hashes) IntegrityCheck {
	c := IntegrityCheck{CheckedAt: time.Now().UTC(), Inputs: inputs}
	var files, streams []string
	for _, in := range inputs {
		if isStream(in) { // read once, by ingest: it cannot be read again
			streams = append(streams, in)
		} else {
			files = append(files, in)
		}
	}
	if len(files) == 0 {
		c.Note = "The evidence came on standard input or a pipe: run trailsift verify on the files to check their digests."
		return c
	}
	rep, err := integrity.Verify(ctx, files, integrity.VerifyOptions{Keys: keys, Known: known})
	switch {
	case errors.Is(err, integrity.ErrNothingFound):
		c.Note = "No CloudTrail digest files or S3-layout log files in the evidence: nothing to verify."
	case err != nil:
		c.Note = "Digest verification could not run: " + err.Error()
	default:
		c.Report = rep
		for _, s := range streams {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s came on standard input or a pipe and was read once, by ingest: its digests were not checked (run trailsift verify on the files).", s))
		}
	}
	return c
}

// isStream is true for standard input and for an input that is neither a
// folder nor a regular file (a pipe, <(zcat f.gz)): reading it again would
// wait for a writer that is gone.
func isStream(in string) bool {
	if in == "-" {
		return true
	}
	fi, err := os.Stat(in)
	return err == nil && !fi.IsDir() && !fi.Mode().IsRegular()
}

// KnownHashes are the hashes of the CloudTrail log files the store holds,
// by path as the files table names them, so the digest check does not read
// them again. A path stored more than once (its content changed between
// runs) takes its newest row; a path without a content hash (it could not
// be read to the end) is left out, and read by the check.
func KnownHashes(ctx context.Context, db *sql.DB) (map[string]integrity.Hashes, error) {
	rows, err := db.QueryContext(ctx, `WITH latest AS (
  SELECT path, sha256, content_sha256 FROM files
  WHERE path LIKE '%AWSLogs/%/CloudTrail/%'
  QUALIFY row_number() OVER (PARTITION BY path ORDER BY ingested_at DESC, rowid DESC) = 1)
SELECT l.path, l.sha256,
  -- a duplicate (same bytes as a file loaded before) was not decoded: its content is the other file's
  coalesce(l.content_sha256, (SELECT max(f.content_sha256) FROM files f WHERE f.sha256 = l.sha256))
FROM latest l WHERE l.sha256 IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("read the files table: %w", err)
	}
	defer rows.Close()
	known := map[string]integrity.Hashes{}
	for rows.Next() {
		var p, stored string
		var content sql.NullString
		if err := rows.Scan(&p, &stored, &content); err != nil {
			return nil, fmt.Errorf("read the files table: %w", err)
		}
		if content.Valid {
			known[p] = integrity.Hashes{Stored: stored, Content: content.String}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the files table: %w", err)
	}
	return known, nil
}

// SaveIntegrity adds c to the store's integrity_checks; earlier checks are
// kept, for the record.
func SaveIntegrity(ctx context.Context, store *query.Store, c IntegrityCheck) error {
	var doc any // NULL when the check did not run
	fails, warns := 0, 0
	if c.Report != nil {
		b, err := json.Marshal(c.Report)
		if err != nil {
			return fmt.Errorf("store the integrity check: %w", err)
		}
		doc = string(b)
		fails, warns = c.Report.Count()
	}
	inputs := c.Inputs
	if inputs == nil {
		inputs = []string{}
	}
	_, err := store.DB.ExecContext(ctx, `INSERT INTO integrity_checks (checked_at, inputs, result, failures, warnings, note, report)
VALUES (?, ?::VARCHAR[], ?, ?, ?, ?, ?::JSON)`, c.CheckedAt, inputs, c.Result(), fails, warns, c.Note, doc)
	if err != nil {
		return fmt.Errorf("store the integrity check: %w", err)
	}
	return nil
}

// LatestIntegrity reads the newest integrity check stored in db; false when
// there is none (or the store predates the table).
func LatestIntegrity(ctx context.Context, db *sql.DB) (IntegrityCheck, bool, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'integrity_checks'`).Scan(&n); err != nil {
		return IntegrityCheck{}, false, fmt.Errorf("read integrity_checks: %w", err)
	}
	if n == 0 {
		return IntegrityCheck{}, false, nil
	}
	var (
		c      IntegrityCheck
		inputs any
		note   sql.NullString
		doc    sql.NullString
	)
	err := db.QueryRowContext(ctx, `SELECT checked_at, inputs, note, report::VARCHAR FROM integrity_checks
ORDER BY checked_at DESC LIMIT 1`).Scan(&c.CheckedAt, &inputs, &note, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return IntegrityCheck{}, false, nil
	}
	if err != nil {
		return IntegrityCheck{}, false, fmt.Errorf("read integrity_checks: %w", err)
	}
	c.CheckedAt = c.CheckedAt.UTC()
	if l, ok := inputs.([]any); ok {
		for _, v := range l {
			if s, ok := v.(string); ok {
				c.Inputs = append(c.Inputs, s)
			}
		}
	}
	c.Note = note.String
	if doc.Valid {
		c.Report = &integrity.Report{}
		if err := json.Unmarshal([]byte(doc.String), c.Report); err != nil {
			return IntegrityCheck{}, false, fmt.Errorf("read integrity_checks: the check stored at %s: %w", c.CheckedAt.Format(time.RFC3339), err)
		}
	}
	return c, true, nil
}
