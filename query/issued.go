package query

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/trailsift/trailsift/ingest"
)

// The issued_credential column: what a call that hands out a credential
// handed out, which the decoder reads while it parses the event (see
// ingest.IssuedFields), so the sessions build parses a small object per
// call instead of the whole event (the calls' responses, with their
// session tokens, were a fifth of the evidence's JSON). Events stored
// before the column existed get it from raw, by issuedFromRawSQL: when a
// store is migrated, and when a Parquet dataset has parts written before.

// issuedCredentialColumn documents the column.
var issuedCredentialColumn = Column{"issued_credential", "VARCHAR", "for a call that hands out a credential (" + issuingCallsDoc() +
	"): what it handed out and how it was asked for, read from the event when it was stored, as a JSON object with the keys " +
	issuedKeysDoc() + " (a key without a value is absent or null); NULL for other events. The sessions table is built from it"}

func issuingCallsDoc() string {
	var parts []string
	for _, src := range slices.Sorted(maps.Keys(ingest.CredentialIssuers)) {
		parts = append(parts, strings.TrimSuffix(src, ".amazonaws.com")+" "+strings.Join(ingest.CredentialIssuers[src], ", "))
	}
	return strings.Join(parts, "; ")
}

func issuedKeysDoc() string {
	var keys []string
	for _, f := range ingest.IssuedFields {
		keys = append(keys, f.Key)
	}
	return strings.Join(keys, ", ")
}

// issuingCallSQL is true for an event (of alias e, or none when "") of a
// call that hands out a credential, as ingest.IssuesCredential decides.
func issuingCallSQL(e string) string {
	if e != "" {
		e += "."
	}
	var or []string
	for _, src := range slices.Sorted(maps.Keys(ingest.CredentialIssuers)) {
		or = append(or, fmt.Sprintf("(%sevent_source = %s AND list_contains(%s, %sevent_name))",
			e, StringLiteral(src), stringList(ingest.CredentialIssuers[src]), e))
	}
	return "(" + strings.Join(or, " OR ") + ")"
}

// stringList is names as a DuckDB list literal.
func stringList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = StringLiteral(n)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// issuedStructSQL reads issued_credential (of alias e) as a struct with a
// field per key: one parse of the small object.
func issuedStructSQL(e string) string {
	var fields []string
	for _, f := range ingest.IssuedFields {
		fields = append(fields, fmt.Sprintf("%q: \"VARCHAR\"", f.Key))
	}
	return fmt.Sprintf("from_json(%s.issued_credential, '{%s}')", e, strings.Join(fields, ", "))
}

// issuedFromRawSQL computes issued_credential from raw, for a row of
// event_rows (unaliased) stored without it: the same paths as the
// decoder. The event's own paths are read first; an event whose parts
// give no request or no response field that way (parts given as JSON
// strings, lower-cased keys) is read again through the events view's
// normalised parts.
func issuedFromRawSQL() string {
	var paths []string
	var req, resp []string
	at := map[string][]int{} // key to its paths' positions in paths, from 1
	for _, f := range ingest.IssuedFields {
		for _, p := range f.Paths {
			paths = append(paths, StringLiteral("$."+p))
			n := len(paths)
			at[f.Key] = append(at[f.Key], n)
			switch {
			case strings.HasPrefix(p, "requestParameters."):
				req = append(req, fmt.Sprintf("v0[%d]", n))
			case strings.HasPrefix(p, "responseElements."):
				resp = append(resp, fmt.Sprintf("v0[%d]", n))
			}
		}
	}
	list := "[" + strings.Join(paths, ", ") + "]"
	var object []string
	for _, f := range ingest.IssuedFields {
		var vs []string
		for _, n := range at[f.Key] {
			vs = append(vs, fmt.Sprintf("v[%d]", n))
		}
		object = append(object, fmt.Sprintf("%s, coalesce(%s)", StringLiteral(f.Key), strings.Join(vs, ", ")))
	}
	normalised := fmt.Sprintf("json_object('requestParameters', %s, 'responseElements', %s, 'sharedEventID', %s)::VARCHAR",
		rawPart("request_parameters"), rawPart("response_elements"), "("+generated["shared_event_id"]+")")
	return fmt.Sprintf(`CASE WHEN %s THEN list_transform([json_extract_string(raw, %s)], v0 ->
    list_transform([CASE WHEN coalesce(%s) IS NOT NULL AND coalesce(%s) IS NOT NULL THEN v0
                         ELSE json_extract_string(%s, %s) END],
      v -> json_object(%s)::VARCHAR)[1])[1] END`,
		issuingCallSQL(""), list, strings.Join(req, ", "), strings.Join(resp, ", "), normalised, list, strings.Join(object, ", "))
}

// IssuedCredentialSQL is the issued_credential column of a row read from
// Parquet files, some of which may have been written without it (has says
// how many: "all", "some" or "none"): the stored value where there is one,
// else computed from raw.
func IssuedCredentialSQL(has string) string {
	switch has {
	case "all":
		return "issued_credential"
	case "some":
		return "coalesce(issued_credential, " + issuedFromRawSQL() + ")"
	}
	return "(" + issuedFromRawSQL() + ")"
}
