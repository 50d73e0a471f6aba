package query

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/trailsift/trailsift/ingest"
)

// This file and ingest's identity.go are the one definition of "the same
// event": in SQL here (sameEventSQL, for loads and migrations inside
// DuckDB), in Go there (ingest.Identity, whose digest the decoder computes
// for writers that keep sets in memory). ingest computes the 64-bit
// event_key; the key is only an index into what is compared.

// identityColumns are the event_rows columns of an ingest.Identity
// besides the key and raw, in the order its Digest hashes them.
var identityColumns = []string{"event_time", "event_id", "event_source", "event_name", "recipient_account_id", "aws_region", "account_id"}

// ReadIdentities returns the identity digests of the events in from, a
// table or table function with event_rows' columns. It reads the narrow
// columns, and raw only for the events raw identifies.
func ReadIdentities(ctx context.Context, db *sql.DB, from string) (map[[32]byte]struct{}, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT event_key, coalesce(epoch_us(event_time), %d),
  coalesce(event_id, ''), coalesce(event_source, ''), coalesce(event_name, ''), coalesce(recipient_account_id, ''),
  coalesce(aws_region, ''), coalesce(account_id, ''), CASE WHEN event_key >= %d::UBIGINT THEN raw::VARCHAR ELSE '' END
FROM %s`, int64(ingest.NoTime), ingest.RawKeyBit, from))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[[32]byte]struct{}{}
	for rows.Next() {
		var id ingest.Identity
		if err := rows.Scan(&id.Key, &id.TimeMicros, &id.EventID, &id.EventSource, &id.EventName, &id.RecipientAccountID,
			&id.AWSRegion, &id.AccountID, &id.Raw); err != nil {
			return nil, err
		}
		ids[id.Digest()] = struct{}{}
	}
	return ids, rows.Err()
}

// sameEventSQL is the condition under which row o (stored) and row n (new)
// of event_rows are one event: Identity in SQL. The 64-bit key is only the
// index: the identity itself is compared, so a key collision, crafted or
// not, can never drop an event. For an event identified by its content
// (ingest.RawKeyBit set) that is raw itself.
func sameEventSQL(o, n string) string {
	return sameEventColumnsSQL(o, n) + fmt.Sprintf("\n    AND (%[2]s.event_key < %[3]d::UBIGINT OR %[1]s.raw = %[2]s.raw)", o, n, ingest.RawKeyBit)
}

// sameEventKeySQL lists what tells one event from another in event_rows,
// as sameEventSQL compares them: a window partitioned by it holds the
// copies of one event (NULLs are equal there, as IS NOT DISTINCT FROM).
func sameEventKeySQL() string {
	return fmt.Sprintf("event_key, %s, CASE WHEN event_key >= %d::UBIGINT THEN raw END", strings.Join(identityColumns, ", "), ingest.RawKeyBit)
}

// sameEventColumnsSQL is the condition under which row o (stored) and row
// n (new) of event_rows have the same identity columns: equalities only,
// which DuckDB runs as a hash join without reading the stored events' raw.
// It decides for events identified by their eventID (a key below
// ingest.RawKeyBit); the others must also have equal raw.
func sameEventColumnsSQL(o, n string) string {
	cond := []string{fmt.Sprintf("%s.event_key = %s.event_key", o, n)}
	for _, c := range identityColumns {
		cond = append(cond, fmt.Sprintf("%[1]s.%[3]s IS NOT DISTINCT FROM %[2]s.%[3]s", o, n, c))
	}
	return strings.Join(cond, "\n    AND ")
}
