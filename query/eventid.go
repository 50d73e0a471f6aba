package query

// A DuckDB store keeps an event's eventID as a UUID when it is one as
// CloudTrail writes it (lower-case, with hyphens): 16 bytes, where DuckDB
// compressed the 36 characters of a random UUID to about 21. On the bench
// corpus the column took 21 blocks of 103 less (5.5 MB, 1.7% of the
// store). Any other eventID (an export's own, a forged one) is kept as
// text. event_rows' event_id is a virtual column computed from the two, so
// every reader sees the text as logged; the writers insert
// StorableEventsSQL. A Parquet dataset keeps event_id as text (its zstd
// pages already store it in about 17 bytes).

// eventIDStored are the columns of event_rows that hold event_id.
var eventIDStored = []Column{
	{"event_uuid", "UUID", "event_id when it is a UUID written as CloudTrail writes it (lower-case, with hyphens), else NULL"},
	{"event_id_text", "VARCHAR", "event_id when it is not such a UUID, else NULL"},
}

// eventIDComputed is event_rows' event_id from the columns that hold it.
var eventIDComputed = map[string]string{"event_id": "coalesce(event_id_text, event_uuid::VARCHAR)"}

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
	return `SELECT * EXCLUDE (event_id, event_id_parsed),
  CASE WHEN event_id_parsed::VARCHAR = event_id THEN event_id_parsed END AS event_uuid,
  CASE WHEN event_id_parsed::VARCHAR IS DISTINCT FROM event_id THEN event_id END AS event_id_text
FROM (SELECT *, TRY_CAST(event_id AS UUID) AS event_id_parsed FROM (` + src + `))`
}

// storedEventsStar selects event_rows' columns (StoredEventColumns) from
// event_rows: all but those that hold event_id.
const storedEventsStar = "* EXCLUDE (event_uuid, event_id_text)"
