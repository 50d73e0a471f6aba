package query

import (
	"fmt"
	"slices"
	"strings"
)

// Column describes one column of a store table. The same list builds the
// DDL, the `trailsift schema` output and the README's schema reference, so
// the three cannot drift apart.
type Column struct {
	Name string
	Type string
	Doc  string
}

// generated holds the expressions of computed columns of the events view:
// the nested JSON parts are read from raw when queried, never stored, so the
// database holds each event's JSON once. (DuckDB's virtual generated columns
// would do the same, but they made loading markedly slower.)
var generated = map[string]string{}

// Table is a table or view of the store.
type Table struct {
	Name    string
	Doc     string
	Columns []Column
	View    bool
	// Computed are columns of a table computed from its Stored ones when
	// read (DuckDB's virtual generated columns), never stored themselves.
	Computed map[string]string
	// Stored are columns a table holds besides Columns: what its Computed
	// ones are computed from. Last, after Columns.
	Stored []Column
}

// declaredColumns are the columns a table is made with, in order: Columns
// (Computed among them), then Stored.
func (t Table) declaredColumns() []Column { return slices.Concat(t.Columns, t.Stored) }

// EventColumns are the columns of the events table, in storage order.
var EventColumns = []Column{
	{"event_key", "UBIGINT", "deduplication index: hash of eventID, instant, source, name, recipient account, region and account (top bit clear), or of the whole event (top bit set) when eventID is missing or a placeholder or the time unreadable; equal keys are then compared field by field"},
	{"event_time", "TIMESTAMPTZ", "eventTime in UTC (NULL when missing or unparseable; see ingest_errors)"},
	{"event_version", "VARCHAR", "eventVersion"},
	{"event_source", "VARCHAR", "eventSource, e.g. signin.amazonaws.com"},
	{"event_name", "VARCHAR", "eventName, e.g. ConsoleLogin"},
	{"event_type", "VARCHAR", "eventType as logged (AwsApiCall, AwsConsoleSignIn, AwsServiceEvent, ...)"},
	{"event_category", "VARCHAR", "eventCategory (Management, Data, Insight)"},
	{"aws_region", "VARCHAR", "awsRegion"},
	{"source_ip", "VARCHAR", "sourceIPAddress (an IP or a service name)"},
	{"user_agent", "VARCHAR", "userAgent"},
	{"error_code", "VARCHAR", "errorCode"},
	{"error_message", "VARCHAR", "errorMessage"},
	{"read_only", "BOOLEAN", "readOnly"},
	{"management_event", "BOOLEAN", "managementEvent"},
	{"user_type", "VARCHAR", "userIdentity.type (IAMUser, AssumedRole, Root, FederatedUser, AWSService, IdentityCenterUser, Unknown, ...)"},
	{"user_name", "VARCHAR", "userIdentity.userName, or additionalEventData.UserName for Identity Center sign-ins"},
	{"user_arn", "VARCHAR", "userIdentity.arn"},
	{"principal_id", "VARCHAR", "userIdentity.principalId"},
	{"account_id", "VARCHAR", "userIdentity.accountId, else recipientAccountId"},
	{"access_key_id", "VARCHAR", "userIdentity.accessKeyId"},
	{"session_issuer_arn", "VARCHAR", "userIdentity.sessionContext.sessionIssuer.arn"},
	{"session_issuer_name", "VARCHAR", "userIdentity.sessionContext.sessionIssuer.userName (the role name)"},
	{"invoked_by", "VARCHAR", "userIdentity.invokedBy"},
	{"mfa_authenticated", "BOOLEAN", "userIdentity.sessionContext.attributes.mfaAuthenticated"},
	{"actor", "VARCHAR", "best human name of who acted: user name, Identity Center user, role/session, root, service"},
	{"recipient_account_id", "VARCHAR", "recipientAccountId"},
	{"event_id", "VARCHAR", "eventID as logged"},
	rawField("request_id", "requestID"),
	rawField("shared_event_id", "sharedEventID"),
	{"login_result", "VARCHAR", "responseElements.ConsoleLogin (Success or Failure)"},
	{"mfa_used", "VARCHAR", "additionalEventData.MFAUsed normalised to Yes or No (NULL when absent)"},
	{"mfa_identifier", "VARCHAR", "additionalEventData.MFAIdentifier (the device used)"},
	{"credential_type", "VARCHAR", "additionalEventData.CredentialType (PASSWORD, TOTP, WEBAUTHN, PASSWORD,TOTP, ...)"},
	{"credential_challenge", "VARCHAR", "Identity Center sign-in step result: serviceEventDetails.CredentialChallenge or serviceEventDetails.<eventName>"},
	{"auth_workflow_id", "VARCHAR", "additionalEventData.AuthWorkflowID: links the steps of one Identity Center sign-in"},
	{"outcome", "VARCHAR", "Success or Failure: the sign-in result where there is one, else Failure when errorCode is set"},
	{"raw", "VARCHAR", "the whole original event as compact JSON text (query it with ->, ->> and json_* functions)"},
	jsonPart("user_identity", "userIdentity"),
	jsonPart("request_parameters", "requestParameters"),
	jsonPart("response_elements", "responseElements"),
	jsonPart("additional_event_data", "additionalEventData"),
	jsonPart("service_event_details", "serviceEventDetails"),
	jsonPart("resources", "resources"),
	{"file_id", "BIGINT", "provenance: files.file_id of the input file"},
	{"record_index", "BIGINT", "provenance: position of the event in its file, from 0"},
	// Last: a store made before it gets it appended (ALTER TABLE).
	issuedCredentialColumn,
}

// FileColumns are the columns of the files table: the evidence manifest.
var FileColumns = []Column{
	{"file_id", "BIGINT", "id of the input: a hash of its path and its sha256, the same in every run"},
	{"path", "VARCHAR", "input path; members of archives as archive!member"},
	{"size", "BIGINT", "bytes as stored (compressed size for .gz)"},
	{"sha256", "VARCHAR", "hex SHA-256 of the file's bytes as stored"},
	{"content_sha256", "VARCHAR", "hex SHA-256 after decompression (what CloudTrail digests hash)"},
	{"shape", "VARCHAR", "detected shape: records, lookup-events, ndjson, array, digest, empty, unknown"},
	{"events", "BIGINT", "events read from the file"},
	{"status", "VARCHAR", "loaded, skipped, failed or duplicate (same content as another path)"},
	{"reason", "VARCHAR", "why skipped or failed, or which errors were seen"},
	{"ingested_at", "TIMESTAMPTZ", "when the file was stored"},
}

// ErrorColumns are the columns of the ingest_errors table.
var ErrorColumns = []Column{
	{"file_id", "BIGINT", "files.file_id"},
	{"path", "VARCHAR", "input path (archive!member inside archives)"},
	{"record_index", "BIGINT", "record position in the file, when known"},
	{"byte_offset", "BIGINT", "byte offset in the decompressed content, when known"},
	{"severity", "VARCHAR", "error (input lost) or warning (input kept, a field could not be read)"},
	{"message", "VARCHAR", "what was wrong"},
}

// FindingTableColumns are the columns of the findings table.
var FindingTableColumns = []Column{
	{"rule_id", "VARCHAR", "the rule that fired (see trailsift rules)"},
	{"title", "VARCHAR", "the rule's title"},
	{"severity", "VARCHAR", "info, low, medium, high or critical"},
	{"actor", "VARCHAR", "who (for a password spray: the source IP)"},
	{"account_id", "VARCHAR", "account"},
	{"source_ips", "VARCHAR[]", "source IPs of the finding's events"},
	{"user_agents", "VARCHAR[]", "user agents of the finding's events"},
	{"first_seen", "TIMESTAMPTZ", "first event (UTC)"},
	{"last_seen", "TIMESTAMPTZ", "last event (UTC)"},
	{"count", "BIGINT", "number of events"},
	{"event_ids", "VARCHAR[]", "the events of the finding, the first 1,000 of them (count has them all): join to events.event_id for a timeline"},
	{"details", "VARCHAR", "what happened, in words"},
}

// IntegrityCheckColumns are the columns of the integrity_checks table.
var IntegrityCheckColumns = []Column{
	{"checked_at", "TIMESTAMPTZ", "when the evidence was checked"},
	{"inputs", "VARCHAR[]", "the evidence paths checked, as given to analyze"},
	{"result", "VARCHAR", "ok, failed, not-checked (log files but no digest file) or not-run (see note)"},
	{"failures", "BIGINT", "problems that fail the check (files missing, modified or forged)"},
	{"warnings", "BIGINT", "problems for a human to judge"},
	{"note", "VARCHAR", "why the check did not run"},
	{"report", "JSON", "the whole check, as `trailsift verify --format json` prints it (NULL when it did not run)"},
}

// Tables lists the stored tables.
var Tables = []Table{
	eventRowsTable("event_rows"),
	{Name: "files", Doc: "every input file seen: the evidence manifest", Columns: FileColumns},
	{Name: "ingest_errors", Doc: "bad input: what was wrong and where", Columns: ErrorColumns},
	{Name: "findings", Doc: "the findings of the last `trailsift analyze` (detect prints findings without storing them)", Columns: FindingTableColumns},
	{Name: "integrity_checks", Doc: "the CloudTrail digest check of the evidence (as `trailsift verify`), one row per `trailsift analyze`; `trailsift report` shows the newest", Columns: IntegrityCheckColumns},
	SessionsPendingTable,
	SessionRowsTable,
}

// jsonPart is a virtual JSON column for one nested part of raw. It reads
// the key as CloudTrail spells it or lower-cased (some exports lower-case
// keys), parses a part that an export serialised as a JSON string, and is
// NULL where the part is absent or null.
func jsonPart(name, key string) Column {
	part := func(v string) string {
		return fmt.Sprintf("CASE json_type(%[1]s) WHEN 'NULL' THEN NULL WHEN 'VARCHAR' THEN TRY_CAST(json_extract_string(%[1]s, '$') AS JSON) ELSE %[1]s END", v)
	}
	generated[name] = part(fmt.Sprintf("coalesce(json_extract(raw, '$.%s'), json_extract(raw, '$.%s'))", key, strings.ToLower(key)))
	fromRawParts[name] = part(listedKey(&rawPaths, "raw_parts", key))
	jsonParts = append(jsonParts, JSONPart{name, key})
	return Column{Name: name, Type: "JSON", Doc: key + " (computed from raw when read; a part given as a JSON string is parsed)"}
}

// rawField is a text column of the events view read from raw when queried.
// These are random ids that people look up, not filter on: stored, they
// compressed so badly that they made the database a tenth larger.
func rawField(name, key string) Column {
	generated[name] = fmt.Sprintf("coalesce(raw->>'$.%s', raw->>'$.%s')", key, strings.ToLower(key))
	fromRawParts[name] = listedKey(&rawIDPaths, "raw_ids", key)
	rawFields = append(rawFields, JSONPart{name, key})
	return Column{Name: name, Type: "VARCHAR", Doc: key + " (read from raw when queried)"}
}

// The events view parses raw once a row for all the JSON parts it computes
// from it (json_extract with the list of their keys, rawPaths, as
// raw_parts) and once for the ids (json_extract_string with rawIDPaths,
// as raw_ids), and each column reads its key's value from its list
// (fromRawParts). Each column parsing raw for itself (up to six times for
// a JSON part) made SELECT * FROM events run out of memory on a store of
// ordinary events (DuckDB keeps a vector's parsed documents until its
// expressions are done); one list for all made reading request_id alone
// twice as slow (every part extracted and written out as JSON text).
var (
	rawPaths, rawIDPaths []string
	fromRawParts         = map[string]string{}
)

// listedKey adds key's two spellings to paths, the keys of the list
// column list, and returns the expression of its value there: the key as
// CloudTrail spells it, else lower-cased (some exports lower-case keys).
func listedKey(paths *[]string, list, key string) string {
	*paths = append(*paths, StringLiteral("$."+key), StringLiteral("$."+strings.ToLower(key)))
	n := len(*paths) // DuckDB's lists count from 1
	return fmt.Sprintf("coalesce(%s[%d], %s[%d])", list, n-1, list, n)
}

var rawFields []JSONPart

// RawFields lists the text columns of the events view read from raw, in
// order.
func RawFields() []JSONPart { return rawFields }

// JSONPart is a column of the events view computed from raw, and the key of
// raw it reads.
type JSONPart struct{ Name, Key string }

var jsonParts []JSONPart

// JSONParts lists the JSON columns of the events view, in order.
func JSONParts() []JSONPart { return jsonParts }

// EventsView is the events view: one row per unique CloudTrail event.
var EventsView = Table{Name: "events", View: true, Doc: "one row per unique CloudTrail event", Columns: EventColumns}

// StoredEventColumns are the columns of event_rows, in order.
func StoredEventColumns() []Column {
	var out []Column
	for _, c := range EventColumns {
		if generated[c.Name] == "" {
			out = append(out, c)
		}
	}
	return out
}

func createTableSQL(t Table, temp bool) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if temp {
		b.WriteString("TEMP ")
	}
	fmt.Fprintf(&b, "TABLE IF NOT EXISTS %s (\n", t.Name)
	for i, c := range t.declaredColumns() {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "  %s %s", c.Name, c.Type)
		if expr := t.Computed[c.Name]; expr != "" {
			fmt.Fprintf(&b, " GENERATED ALWAYS AS (%s) VIRTUAL", expr)
		}
		if c.Name == "raw" || c.Name == issuedCredentialColumn.Name {
			// Original events are most of the data and compress well;
			// issued_credential too (its keys repeat, and 2 of its 3
			// largest values are ARNs): a third smaller than DuckDB's
			// default, a sixth of raw's size or less.
			b.WriteString(" USING COMPRESSION zstd")
		}
	}
	b.WriteString("\n)")
	return b.String()
}

// signInSteps are the events of a console or Identity Center sign-in.
const signInFilter = `event_source = 'signin.amazonaws.com'
   OR (event_source IN ('sso.amazonaws.com', 'signin.sso.amazonaws.com') AND event_name IN ('Authenticate', 'Federate'))`

// mfaDeviceFilter selects IAM and Identity Center MFA device changes: the
// same events as the mfa-device-change rule (a registration counts once it
// completes).
// list_contains comes first: DuckDB tests it while scanning, so the view
// reads the JSON of these events only (the IN lists it tests after).
const mfaDeviceFilter = `list_contains(['CreateVirtualMFADevice', 'EnableMFADevice', 'DeactivateMFADevice',
     'DeleteVirtualMFADevice', 'ResyncMFADevice', 'CompleteVirtualMfaDeviceRegistration',
     'CompleteWebAuthnDeviceRegistration', 'CreateMfaDeviceForUser', 'UpdateMfaDeviceForUser',
     'DeleteMfaDeviceForUser', 'DeleteWebAuthnDevice'], event_name)
 AND ((event_source = 'iam.amazonaws.com' AND event_name IN ('CreateVirtualMFADevice', 'EnableMFADevice',
     'DeactivateMFADevice', 'DeleteVirtualMFADevice', 'ResyncMFADevice'))
   OR (event_source IN ('sso-directory.amazonaws.com', 'identitystore.amazonaws.com', 'sso.amazonaws.com')
     AND event_name IN ('CompleteVirtualMfaDeviceRegistration', 'CompleteWebAuthnDeviceRegistration',
       'CreateMfaDeviceForUser', 'UpdateMfaDeviceForUser', 'DeleteMfaDeviceForUser', 'DeleteWebAuthnDevice')))`

// Views answer the common questions without JSON paths. They live in the
// database file, so DuckDB's own CLI and clients see them too.
var Views = []Table{
	EventsView,
	{
		Name: "signins", View: true,
		Doc: "every console and Identity Center sign-in step, with a normalised result",
		Columns: []Column{
			{"event_time", "TIMESTAMPTZ", "when (UTC)"},
			{"account_id", "VARCHAR", "account signed in to"},
			{"step", "VARCHAR", "eventName: ConsoleLogin, CredentialChallenge, CredentialVerification, UserAuthentication, ..."},
			{"kind", "VARCHAR", "iam (IAM user or root console sign-in), federated (role, SAML, SSO), identity-center"},
			{"actor", "VARCHAR", "who signed in"},
			{"user_type", "VARCHAR", "userIdentity.type"},
			{"user_arn", "VARCHAR", "userIdentity.arn"},
			{"result", "VARCHAR", "Success or Failure"},
			{"mfa_used", "VARCHAR", "Yes or No (console sign-ins)"},
			{"mfa_identifier", "VARCHAR", "the MFA device used"},
			{"credential_type", "VARCHAR", "Identity Center credential: PASSWORD, TOTP, WEBAUTHN, ..."},
			{"auth_workflow_id", "VARCHAR", "links the steps of one Identity Center sign-in"},
			{"source_ip", "VARCHAR", "sourceIPAddress"},
			{"user_agent", "VARCHAR", "userAgent"},
			{"error_message", "VARCHAR", "errorMessage"},
			{"event_id", "VARCHAR", "eventID"},
		},
	},
	{
		Name: "mfa_device_changes", View: true,
		Doc: "who changed whose MFA device, and how",
		Columns: []Column{
			{"event_time", "TIMESTAMPTZ", "when (UTC)"},
			{"account_id", "VARCHAR", "account"},
			{"event_name", "VARCHAR", "the API call"},
			{"action", "VARCHAR", "created, enabled, deactivated, deleted, resynced, registered, updated"},
			{"changed_by", "VARCHAR", "actor who made the change"},
			{"target_user", "VARCHAR", "whose device (requestParameters.userName; root for root's own)"},
			{"device", "VARCHAR", "serialNumber or virtualMFADeviceName"},
			{"result", "VARCHAR", "Success or Failure"},
			{"error_code", "VARCHAR", "errorCode"},
			{"source_ip", "VARCHAR", "sourceIPAddress"},
			{"user_agent", "VARCHAR", "userAgent"},
			{"event_id", "VARCHAR", "eventID"},
		},
	},
	{
		Name: "root_activity", View: true,
		Doc: "everything the root user did",
		Columns: []Column{
			{"event_time", "TIMESTAMPTZ", "when (UTC)"},
			{"account_id", "VARCHAR", "account"},
			{"event_source", "VARCHAR", "service"},
			{"event_name", "VARCHAR", "action"},
			{"aws_region", "VARCHAR", "region"},
			{"result", "VARCHAR", "Success or Failure"},
			{"mfa_used", "VARCHAR", "for sign-ins"},
			{"mfa_authenticated", "BOOLEAN", "session was MFA-authenticated"},
			{"source_ip", "VARCHAR", "sourceIPAddress"},
			{"user_agent", "VARCHAR", "userAgent"},
			{"error_code", "VARCHAR", "errorCode"},
			{"event_id", "VARCHAR", "eventID"},
		},
	},
	// Before event_sessions, which reads it.
	SessionsView,
	{
		Name: "event_sessions", View: true,
		Doc: "every column of events, and the session each event was made with and the origin of its chain (see sessions); NULL where the event used no credential (a failed sign-in, a service event)",
		Columns: append(slices.Clip(EventColumns),
			Column{"session_id", "VARCHAR", "sessions.session_id: the event's access key, else its assumed-role or federated-user ARN"},
			Column{"origin_type", "VARCHAR", "sessions.origin_type"},
			Column{"origin", "VARCHAR", "sessions.origin"},
			Column{"origin_session_id", "VARCHAR", "sessions.origin_session_id"},
			Column{"depth", "INTEGER", "sessions.depth"},
		),
	},
}

var viewSQL = map[string]string{
	"sessions": sessionsViewSQL(),
	"event_sessions": `SELECT e.*, s.session_id, s.origin_type, s.origin, s.origin_session_id, s.depth
FROM events e LEFT JOIN sessions s ON s.session_id = ` + eventSessionIDSQL("e"),
	"signins": SigninsOver("events"),
	"mfa_device_changes": `SELECT event_time, account_id, event_name,
  CASE WHEN event_name LIKE 'Create%' THEN 'created' WHEN event_name LIKE 'Enable%' THEN 'enabled'
       WHEN event_name LIKE 'Deactivate%' THEN 'deactivated' WHEN event_name LIKE 'Delete%' THEN 'deleted'
       WHEN event_name LIKE 'Resync%' THEN 'resynced' WHEN event_name LIKE '%Registration' THEN 'registered'
       ELSE 'updated' END AS action,
  actor AS changed_by,
  coalesce(request_parameters->>'userName', request_parameters->>'UserName', request_parameters->>'userId',
           CASE WHEN user_type = 'Root' THEN 'root' END, actor) AS target_user,
  coalesce(request_parameters->>'serialNumber', response_elements->'virtualMFADevice'->>'serialNumber',
           request_parameters->>'virtualMFADeviceName', request_parameters->>'deviceId') AS device,
  outcome AS result, error_code, source_ip, user_agent, event_id
FROM events WHERE ` + mfaDeviceFilter,
	"root_activity": `SELECT event_time, account_id, event_source, event_name, aws_region, outcome AS result, mfa_used,
  mfa_authenticated, source_ip, user_agent, error_code, event_id
FROM events WHERE user_type = 'Root'`,
}

// SigninsOver is the signins view's SELECT, reading the events from
// events: the view's name, or a parenthesised SELECT of its columns (the
// events of a window, EventsFrom).
func SigninsOver(events string) string {
	return `SELECT event_time, account_id, event_name AS step,
  CASE WHEN event_name = 'ConsoleLogin' AND user_type IN ('IAMUser', 'Root') THEN 'iam'
       WHEN event_name = 'ConsoleLogin' THEN 'federated'
       ELSE 'identity-center' END AS kind,
  actor, user_type, user_arn, outcome AS result, mfa_used, mfa_identifier, credential_type,
  auth_workflow_id, source_ip, user_agent, error_message, event_id
FROM ` + events + ` AS events WHERE ` + signInFilter
}

func createViewSQL(t Table) string {
	body := viewSQL[t.Name]
	if t.Name == "events" {
		body = EventsOver("event_rows")
	}
	return fmt.Sprintf("CREATE OR REPLACE VIEW %s AS\n%s", t.Name, body)
}

// EventsOver is the events view's SELECT, reading the stored columns from
// rows: a table's name, or a parenthesised SELECT of the event_rows
// columns.
func EventsOver(rows string) string {
	var cols []string
	for _, c := range EventColumns {
		if g := fromRawParts[c.Name]; g != "" {
			cols = append(cols, fmt.Sprintf("(%s)::%s AS %s", g, c.Type, c.Name))
		} else {
			cols = append(cols, c.Name)
		}
	}
	// A query that reads none of the computed columns reads neither list,
	// and DuckDB computes neither.
	return "SELECT " + strings.Join(cols, ",\n  ") + "\nFROM (SELECT *, json_extract_string(raw, [" + strings.Join(rawIDPaths, ", ") +
		"]) AS raw_ids, json_extract(raw, [" + strings.Join(rawPaths, ", ") + "]) AS raw_parts\n  FROM " + rows + " AS event_rows) AS event_rows"
}

// SchemaMarkdown documents every table and view; the README's schema
// section is this text, and a test keeps the two equal.
func SchemaMarkdown() string {
	var b strings.Builder
	for _, t := range Documented() {
		kind := "table"
		if t.View {
			kind = "view"
		}
		fmt.Fprintf(&b, "### `%s` (%s)\n\n%s.\n\n", t.Name, kind, upperFirst(t.Doc))
		if storedForms[t.Name] {
			continue // its columns are listed under its view
		}
		b.WriteString("| column | type | meaning |\n|---|---|---|\n")
		for _, c := range t.Columns {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.Name, c.Type, strings.ReplaceAll(c.Doc, "|", "\\|"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Documented lists tables and views in the order people need them: the
// tables that store a view's rows (storedForms) last.
func Documented() []Table {
	out := []Table{EventsView}
	var stored []Table
	for _, t := range Tables {
		if storedForms[t.Name] {
			stored = append(stored, t)
		} else {
			out = append(out, t)
		}
	}
	for _, v := range Views {
		if v.Name != "events" {
			out = append(out, v)
		}
	}
	return append(out, stored...)
}

// storedForms are the tables that store the rows of a view (event_rows
// those of events, session_rows those of sessions): the schema reference
// lists their columns under the view.
var storedForms = map[string]bool{"event_rows": true, SessionRowsTable.Name: true}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
