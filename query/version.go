package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SchemaVersion is the layout of the stores this trailsift writes, kept in
// the trailsift_meta table. A store of an older version is migrated when
// it is opened for writing (read-only, it is read as it is); one of a
// newer version is refused.
//
//	1  the release before versions were recorded (no trailsift_meta):
//	   event_key hashed the eventID with the time's text, file_id the path.
//	2  event_key from the parsed instant and the identity fields (see
//	   ingest's eventKey and Identity); file_id from the path and sha256.
//	3  the sessions table (credential lineage) and the event_sessions view.
//	4  event_rows.issued_credential, what the sessions build reads of the
//	   calls that hand out a credential.
//	5  sessions.issue_user_agent (session_rows too), the issuing call's
//	   user agent, which a rule read from the events again.
//	6  event_rows.event_id computed from event_uuid or event_id_text
//	   (see StorableEventsSQL): the eventID as a UUID when it is one;
//	   session_rows' issue_event_id so too.
const SchemaVersion = 6

// ErrNewerStore is returned for a store made by a newer trailsift.
var ErrNewerStore = errors.New("made by a newer trailsift")

// storedVersion reads a database's schema version: 0 for an empty one, 1
// for a store made before versions were recorded.
func storedVersion(ctx context.Context, db *sql.DB) (int, error) {
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
WHERE table_schema = 'main' AND table_name IN ('trailsift_meta', 'event_rows')`).Scan(&tables); err != nil {
		return 0, err
	}
	var hasMeta bool
	if err := db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM information_schema.tables
WHERE table_schema = 'main' AND table_name = 'trailsift_meta'`).Scan(&hasMeta); err != nil {
		return 0, err
	}
	switch {
	case hasMeta:
		var v int
		if err := db.QueryRowContext(ctx, "SELECT max(schema_version) FROM trailsift_meta").Scan(&v); err != nil {
			return 0, fmt.Errorf("read the schema version: %w", err)
		}
		return v, nil
	case tables > 0:
		return 1, nil
	}
	return 0, nil
}

// checkVersion refuses a store newer than this trailsift.
func checkVersion(v int, path string) error {
	if v > SchemaVersion {
		return fmt.Errorf("%s was %w (store schema version %d; this one reads up to %d): open it with that trailsift or a newer one",
			displayPath(path), ErrNewerStore, v, SchemaVersion)
	}
	return nil
}

// setVersion records SchemaVersion, on conn inside its transaction.
func setVersion(ctx context.Context, conn *sql.Conn) error {
	if err := execEach(ctx, conn,
		"CREATE TABLE IF NOT EXISTS trailsift_meta (schema_version INTEGER NOT NULL)",
		"DELETE FROM trailsift_meta",
		fmt.Sprintf("INSERT INTO trailsift_meta VALUES (%d)", SchemaVersion),
	); err != nil {
		return fmt.Errorf("record the schema version: %w", err)
	}
	return nil
}
