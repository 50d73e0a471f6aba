package query

import (
	"context"
	"database/sql"
	"slices"
)

// A DuckDB store keeps an event's eventID as a UUID when it is one as
// CloudTrail writes it (lower-case, with hyphens): 16 bytes, where DuckDB
// compressed the 36 characters of a random UUID to about 21. On the bench
// corpus the column took 21 blocks of 103 less (5.5 MB, 1.7% of the
// store). Any other eventID (an export's own, a forged one) is kept as
// text. event_rows' event_id is a virtual column computed from the two, so
// every reader sees the text as logged; the writers insert
// StorableEventsSQL. session_rows keeps the sessions' issue_event_id so
// too (see sessionStorages). A Parquet dataset keeps event ids as text
// (its zstd pages already store one in about 17 bytes).

// eventIDStored are the columns of event_rows that hold event_id.
var eventIDStored = []Column{
	{"event_uuid", "UUID", "event_id when it is a UUID written as CloudTrail writes it (lower-case, with hyphens), else NULL"},
	{"event_id_text", "VARCHAR", "event_id when it is not such a UUID, else NULL"},
}

// eventIDComputed is event_rows' event_id from the columns that hold it.
var eventIDComputed = map[string]string{"event_id": idFromStoredSQL("event_uuid", "event_id_text")}

// eventRowsTable is the table of a DuckDB store's events, named name.
func eventRowsTable(name string) Table {
	return Table{Name: name,
		Doc:      "the stored events: the columns of the events view without its JSON parts (event_id stored as event_uuid or event_id_text); query events instead",
		Columns:  StoredEventColumns(),
		Computed: eventIDComputed,
		Stored:   eventIDStored,
	}
}

// StorableEventsSQL is src, a SELECT of event_rows' columns
// (StoredEventColumns), with event_id as event_rows holds it: for an
// INSERT ... BY NAME. An eventID is stored as a UUID only when the UUID
// gives back the same text, so nothing read back differs from what was
// logged.
func StorableEventsSQL(src string) string {
	return "SELECT * EXCLUDE (event_id, event_id_parsed),\n  " + idAsUUIDSQL("event_id", "event_id_parsed") + " AS event_uuid,\n  " +
		idAsTextSQL("event_id", "event_id_parsed") + " AS event_id_text\nFROM (SELECT *, TRY_CAST(event_id AS UUID) AS event_id_parsed FROM (" + src + "))"
}

// idAsUUIDSQL is the id text x as a UUID (parsed, its TRY_CAST to UUID)
// when the UUID gives back the same text, else NULL; idAsTextSQL is x
// when it does not, else NULL; idFromStoredSQL is x again from the two.
// An eventID is stored so (event_rows, session_rows).
func idAsUUIDSQL(x, parsed string) string {
	return "CASE WHEN " + parsed + "::VARCHAR = " + x + " THEN " + parsed + " END"
}

func idAsTextSQL(x, parsed string) string {
	return "CASE WHEN " + parsed + "::VARCHAR IS DISTINCT FROM " + x + " THEN " + x + " END"
}

func idFromStoredSQL(uuid, text string) string {
	return "coalesce(" + text + ", " + uuid + "::VARCHAR)"
}

// storedEventsStar selects event_rows' columns (StoredEventColumns) from
// event_rows: all but those that hold event_id.
const storedEventsStar = "* EXCLUDE (event_uuid, event_id_text)"

// EventIDIn is a condition that the event_id of event_rows (alias e, ""
// for none) is one of ids, and its arguments. Where event_rows keeps ids
// as UUIDs (uuids: see KeepsEventUUIDs) it tests the columns that hold
// them, which DuckDB filters while it scans, instead of computing every
// row's event_id, which it cannot: on the 10M-event bench store a lookup
// took 0.084 s warm instead of 0.224, 1.0-1.07 s cold instead of 1.19
// (most of it reading the column in). Exact for any id: a
// stored UUID reads back as the canonical text of a UUID, which only an id
// that is that text can equal, and every other id is stored as text.
func EventIDIn(e string, uuids bool, ids []string) (cond string, args []any) {
	col := func(name string) string {
		if e == "" {
			return name
		}
		return e + "." + name
	}
	if !uuids {
		return col("event_id") + " IN (SELECT unnest(?::VARCHAR[]))", []any{ids}
	}
	// Each id as it would be stored (StorableEventsSQL).
	stored := func(as func(x, parsed string) string) string {
		return "SELECT " + as("x", "TRY_CAST(x AS UUID)") + " FROM unnest(?::VARCHAR[]) AS ids(x)"
	}
	return "(" + col("event_uuid") + " IN (" + stored(idAsUUIDSQL) + ") OR " + col("event_id_text") + " IN (" + stored(idAsTextSQL) + "))", []any{ids, ids}
}

// KeepsEventUUIDs says whether the event_rows that db reads (whatever the
// name resolves to) keeps eventIDs in event_uuid and event_id_text (a
// DuckDB store of schema version 6 or later), not as text (a Parquet
// dataset, an older store read as it is).
func KeepsEventUUIDs(ctx context.Context, db *sql.DB) (bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM event_rows LIMIT 0")
	if err != nil {
		return false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	return slices.Contains(cols, "event_uuid") && slices.Contains(cols, "event_id_text"), rows.Err()
}
