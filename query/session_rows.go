package query

import "strings"

// The sessions view reads session_rows, which stores each session without
// what repeats another of its columns: a session's access key is its
// session id (has_key says whether it has one), and at depth 0 (most
// sessions) its origin is itself, its origin event its issuing event and
// its chain itself alone. Stored as it is, the sessions table was 8% of
// the bench corpus's store; a third of that was these repeats of random
// ids, which DuckDB cannot compress. Writing it cost less too. The issuing
// event's id is kept as a UUID when it is one (as event_rows keeps it):
// 16 bytes against about 21.

// sessionStorage is how session_rows stores a column of the sessions view
// that repeats another, or that it keeps in a smaller form: store computes
// each stored column from a sessions row, load the view's column from a
// session_rows row.
type sessionStorage struct {
	stored []Column
	store  []string // each stored column's
	load   string
}

// issueEventIDSQL is a session_rows row's issue_event_id.
var issueEventIDSQL = idFromStoredSQL("issue_event_uuid", "issue_event_text")

var sessionStorages = map[string]sessionStorage{
	"access_key_id": {[]Column{{"has_key", "BOOLEAN", "access_key_id is session_id (false: NULL, only the session's ARN is known)"}},
		[]string{"access_key_id IS NOT NULL"}, "CASE WHEN has_key THEN session_id END"},
	// As event_rows stores an event_id (see StorableEventsSQL).
	"issue_event_id": {[]Column{
		{"issue_event_uuid", "UUID", "issue_event_id when it is a UUID as CloudTrail writes it (lower-case, with hyphens), else NULL"},
		{"issue_event_text", "VARCHAR", "issue_event_id when it is not such a UUID, else NULL"}},
		[]string{idAsUUIDSQL("issue_event_id", "TRY_CAST(issue_event_id AS UUID)"), idAsTextSQL("issue_event_id", "TRY_CAST(issue_event_id AS UUID)")},
		issueEventIDSQL},
	"origin_session_id": {[]Column{{"origin_session_id", "VARCHAR", "as in sessions, NULL at depth 0 (the session itself)"}},
		[]string{"CASE WHEN depth > 0 THEN origin_session_id END"}, "CASE WHEN depth = 0 THEN session_id ELSE origin_session_id END"},
	"origin_event_id": {[]Column{{"origin_event_id", "VARCHAR", "as in sessions, NULL at depth 0 (issue_event_id)"}},
		[]string{"CASE WHEN depth > 0 THEN origin_event_id END"}, "CASE WHEN depth = 0 THEN " + issueEventIDSQL + " ELSE origin_event_id END"},
	"chain": {[]Column{{"chain", "VARCHAR[]", "as in sessions, NULL at depth 0 ([session_id])"}},
		[]string{"CASE WHEN depth > 0 THEN chain END"}, "CASE WHEN depth = 0 THEN [session_id] ELSE chain END"},
}

// sessionRowColumns are the columns of session_rows, in the order of the
// sessions view's.
func sessionRowColumns() []Column {
	var out []Column
	for _, c := range SessionColumns {
		if st, ok := sessionStorages[c.Name]; ok {
			out = append(out, st.stored...)
			continue
		}
		out = append(out, c)
	}
	return out
}

// SessionRowsTable stores the sessions view's rows.
var SessionRowsTable = Table{Name: "session_rows", Doc: "the stored sessions: the columns of the sessions view, those that repeat another left out; query sessions instead", Columns: sessionRowColumns()}

// SessionsView is the sessions view of the schema.
var SessionsView = Table{Name: "sessions", View: true, Doc: "one row per credential seen (issued or used): how it was issued, its parent, and the origin at the root of its chain; its rows (stored in session_rows) are rebuilt after every ingest that stores new events (see sessions_pending)", Columns: SessionColumns}

// sessionsViewSQL is the sessions view's body.
func sessionsViewSQL() string {
	return "SELECT " + sessionColumnsSQL(true) + "\nFROM session_rows"
}

// storeSessionsSQL stores the rows of sessions, a SELECT of the sessions
// view's columns, in session_rows.
func storeSessionsSQL(sessions string) string {
	return "INSERT INTO session_rows SELECT " + sessionColumnsSQL(false) + "\nFROM (" + sessions + ")"
}

// sessionColumnsSQL lists the columns of the sessions view as load gives
// them from a session_rows row, or those of session_rows as they are
// stored from a sessions row.
func sessionColumnsSQL(load bool) string {
	var cols []string
	for _, c := range SessionColumns {
		st, ok := sessionStorages[c.Name]
		switch {
		case !ok:
			cols = append(cols, c.Name)
		case load:
			cols = append(cols, st.load+" AS "+c.Name)
		default:
			for i, c := range st.stored {
				cols = append(cols, st.store[i]+" AS "+c.Name)
			}
		}
	}
	return strings.Join(cols, ", ")
}
