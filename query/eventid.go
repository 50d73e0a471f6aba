package query

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
