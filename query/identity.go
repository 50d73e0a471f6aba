package query

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/trailsift/trailsift/ingest"
)

// This file is the one definition of "the same event", in Go (Identity,
// for writers that keep sets in memory) and in SQL (sameEventSQL, for
// loads and migrations inside DuckDB). ingest computes the 64-bit
// event_key; the key is only an index into what is compared here.

// Identity is what makes two stored events the same event: the fields of
// the key (ingest's eventKey), compared in full rather than through the
// 64-bit key, which an attacker who writes log lines can make collide. An
// event whose key has ingest.RawKeyBit is identified by its whole raw
// content instead.
type Identity struct {
	Key                uint64
	TimeMicros         int64 // as stored (microseconds); NoTime when absent
	EventID            string
	EventSource        string
	EventName          string
	RecipientAccountID string
	AWSRegion          string
	AccountID          string
	Raw                string // compared only for RawKeyBit keys
}

// NoTime stands for an event without a time in Identity.TimeMicros.
const NoTime = math.MinInt64

// identityColumns are the event_rows columns of an Identity besides the
// key and raw, in the order Digest hashes them.
var identityColumns = []string{"event_time", "event_id", "event_source", "event_name", "recipient_account_id", "aws_region", "account_id"}

// Digest is a SHA-256 of the identity, for sets that must stay small in
// memory: two different identities share one only by breaking SHA-256.
func (id Identity) Digest() [32]byte {
	// The fields are laid out in one buffer and hashed at once: writing
	// each string into a hash.Hash copied it first (Go's SHA-256 has no
	// WriteString), a seventh of the staging writer's key filter.
	var stack [256]byte
	b := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(stack[:0], id.Key), uint64(id.TimeMicros))
	fields := [...]string{id.EventID, id.EventSource, id.EventName, id.RecipientAccountID, id.AWSRegion, id.AccountID, ""}
	if id.Key&ingest.RawKeyBit != 0 {
		fields[len(fields)-1] = id.Raw
	}
	for _, s := range fields {
		b = append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	return sha256.Sum256(b)
}

// ReadIdentities returns the identity digests of the events in from, a
// table or table function with event_rows' columns. It reads the narrow
// columns, and raw only for the events raw identifies.
func ReadIdentities(ctx context.Context, db *sql.DB, from string) (map[[32]byte]struct{}, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT event_key, coalesce(epoch_us(event_time), %d),
  coalesce(event_id, ''), coalesce(event_source, ''), coalesce(event_name, ''), coalesce(recipient_account_id, ''),
  coalesce(aws_region, ''), coalesce(account_id, ''), CASE WHEN event_key >= %d::UBIGINT THEN raw::VARCHAR ELSE '' END
FROM %s`, int64(NoTime), ingest.RawKeyBit, from))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[[32]byte]struct{}{}
	for rows.Next() {
		var id Identity
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
