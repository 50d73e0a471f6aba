package lake

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// ExportStats counts what an export read and wrote.
type ExportStats struct {
	Files  int64 `json:"files"`
	Events int64 `json:"events_read"`
}

// Export copies a DuckDB store's events, files and ingest_errors into the
// dataset of w. Events the dataset holds already and files its manifest
// lists are not written again, so exporting twice, or after a killed
// export, stores everything once.
func Export(ctx context.Context, store *query.Store, w *Writer, m ingest.Manifest) (ExportStats, error) {
	var st ExportStats
	src := store.DB
	rows, err := store.StoredEvents(ctx)
	if err != nil {
		return st, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	const batchEvents = 1000
	batch := make([]ingest.Event, 0, batchEvents)
	for rows.Next() {
		var ev ingest.Event
		if err := scanEvent(rows, &ev); err != nil {
			return st, fmt.Errorf("read events: %w", err)
		}
		batch = append(batch, ev)
		if len(batch) == cap(batch) {
			if err := w.WriteEvents(batch); err != nil {
				return st, err
			}
			st.Events += int64(len(batch))
			// A new slice: the writer keeps pointers into the one it was
			// given (ingest.Sink), so reusing it rewrote the events of
			// every batch but the last with the next batch's.
			batch = make([]ingest.Event, 0, batchEvents)
			if err := ctx.Err(); err != nil {
				return st, ingest.ErrInterrupted
			}
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("read events: %w", err)
	}
	if err := w.WriteEvents(batch); err != nil {
		return st, err
	}
	st.Events += int64(len(batch))
	files, err := readFiles(ctx, src)
	if err != nil {
		return st, err
	}
	for _, f := range files {
		// m leaves out failed files (an ingest reads them again), which
		// the dataset may hold already all the same.
		if f.SHA256 != "" && m.Has(f.Path, f.SHA256) || w.Recorded(f) {
			continue
		}
		if err := w.FileDone(f); err != nil {
			return st, err
		}
		st.Files++
	}
	return st, w.Flush()
}

// nullable scan targets.
type (
	nstr  = sql.NullString
	nbool = sql.NullBool
)

func scanEvent(rows interface{ Scan(...any) error }, ev *ingest.Event) error {
	var (
		t                                  sql.NullTime
		s                                  [30]nstr
		readOnly, management, mfaAuthentic nbool
		raw                                string
	)
	err := rows.Scan(&ev.Key, &t, &s[0], &s[1], &s[2], &s[3], &s[4], &s[5], &s[6], &s[7], &s[8], &s[9],
		&readOnly, &management, &s[10], &s[11], &s[12], &s[13], &s[14], &s[15], &s[16], &s[17], &s[18],
		&mfaAuthentic, &s[19], &s[20], &s[21], &s[22], &s[23], &s[24], &s[25], &s[26], &s[27], &s[28],
		&raw, &ev.FileID, &ev.RecordIndex, &s[29])
	if err != nil {
		return err
	}
	if t.Valid {
		ev.Time, ev.HasTime = t.Time.UTC(), true
	}
	for i, p := range []*string{&ev.EventVersion, &ev.EventSource, &ev.EventName, &ev.EventType, &ev.EventCategory,
		&ev.AWSRegion, &ev.SourceIP, &ev.UserAgent, &ev.ErrorCode, &ev.ErrorMessage, &ev.UserType, &ev.UserName,
		&ev.UserARN, &ev.PrincipalID, &ev.AccountID, &ev.AccessKeyID, &ev.SessionIssuerARN, &ev.SessionIssuerName,
		&ev.InvokedBy, &ev.Actor, &ev.RecipientAccountID, &ev.EventID,
		&ev.LoginResult, &ev.MFAUsed, &ev.MFAIdentifier, &ev.CredentialType, &ev.CredentialChallenge,
		&ev.AuthWorkflowID, &ev.Outcome, &ev.IssuedCredential} {
		*p = s[i].String
	}
	ev.ReadOnly, ev.ManagementEvent, ev.MFAAuthenticated = tri(readOnly), tri(management), tri(mfaAuthentic)
	ev.Raw = raw
	return nil
}

func tri(b nbool) ingest.Tristate {
	switch {
	case !b.Valid:
		return ingest.Unknown
	case b.Bool:
		return ingest.True
	}
	return ingest.False
}

// readFiles reads the files manifest with each file's stored errors.
func readFiles(ctx context.Context, src *sql.DB) ([]*ingest.File, error) {
	rows, err := src.QueryContext(ctx, `SELECT file_id, path, size, coalesce(sha256, ''), coalesce(content_sha256, ''),
		coalesce(shape, ''), events, status, coalesce(reason, '') FROM files ORDER BY path`)
	if err != nil {
		return nil, fmt.Errorf("read files: %w", err)
	}
	defer rows.Close()
	var files []*ingest.File
	byID := map[int64][]*ingest.File{}
	for rows.Next() {
		f := &ingest.File{}
		if err := rows.Scan(&f.ID, &f.Path, &f.Size, &f.SHA256, &f.ContentSHA256, &f.Shape, &f.Events, &f.Status, &f.Reason); err != nil {
			return nil, fmt.Errorf("read files: %w", err)
		}
		files = append(files, f)
		byID[f.ID] = append(byID[f.ID], f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read files: %w", err)
	}
	erows, err := src.QueryContext(ctx, `SELECT file_id, path, coalesce(record_index, -1), coalesce(byte_offset, -1), severity, message FROM ingest_errors`)
	if err != nil {
		return nil, fmt.Errorf("read ingest_errors: %w", err)
	}
	defer erows.Close()
	for erows.Next() {
		var e ingest.Error
		if err := erows.Scan(&e.FileID, &e.Path, &e.RecordIndex, &e.ByteOffset, &e.Severity, &e.Message); err != nil {
			return nil, fmt.Errorf("read ingest_errors: %w", err)
		}
		// An error belongs to the file of its id and path (a path read in two
		// runs has one id but one row per content).
		if fs := byID[e.FileID]; len(fs) > 0 {
			fs[0].Errors = append(fs[0].Errors, e)
		}
	}
	return files, erows.Err()
}
