package query_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/query"
)

// The fixtures below are shaped like the examples of AWS's documentation:
// "CloudTrail userIdentity element", the AssumeRole and
// AssumeRoleWithSAML/WebIdentity examples of "Logging IAM and AWS STS API
// calls with AWS CloudTrail", and the console sign-in event reference.

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

var fixtureStart = time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)

type obj = map[string]any

// at is the fixture time min minutes after the start, as CloudTrail writes it.
func at(min float64) string {
	return fixtureStart.Add(time.Duration(min * float64(time.Minute))).Format("2006-01-02T15:04:05Z")
}

func iamUser(acct, name, key string) obj {
	u := obj{"type": "IAMUser", "principalId": "AIDA" + strings.ToUpper(name), "arn": "arn:aws:iam::" + acct + ":user/" + name,
		"accountId": acct, "userName": name}
	if key != "" {
		u["accessKeyId"] = key
	}
	return u
}

// consoleUser is an IAM user's console session: a temporary key whose
// sessionContext carries the sign-in's creation date.
func consoleUser(acct, name, key, created string, mfa bool) obj {
	u := iamUser(acct, name, key)
	u["sessionContext"] = obj{"sessionIssuer": obj{}, "attributes": obj{"creationDate": created, "mfaAuthenticated": fmt.Sprint(mfa)}}
	return u
}

func assumedRole(acct, role, session, key string) obj {
	u := obj{"type": "AssumedRole", "principalId": "AROA" + strings.ToUpper(role) + ":" + session,
		"arn": "arn:aws:sts::" + acct + ":assumed-role/" + role + "/" + session, "accountId": acct,
		"sessionContext": obj{
			"sessionIssuer": obj{"type": "Role", "principalId": "AROA" + strings.ToUpper(role), "arn": "arn:aws:iam::" + acct + ":role/" + role, "accountId": acct, "userName": role},
			"attributes":    obj{"creationDate": at(0), "mfaAuthenticated": "false"},
		}}
	if key != "" {
		u["accessKeyId"] = key
	}
	return u
}

// call is one API call made with identity.
func call(id string, min float64, ident obj, source, name, ip, ua, recipient string) obj {
	return obj{"eventVersion": "1.08", "userIdentity": ident, "eventTime": at(min), "eventSource": source, "eventName": name,
		"awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": ua, "requestParameters": nil, "responseElements": nil,
		"requestID": "req-" + id, "eventID": id, "readOnly": true, "eventType": "AwsApiCall", "managementEvent": true,
		"recipientAccountId": recipient, "eventCategory": "Management"}
}

func consoleLogin(id string, min float64, ident obj, ip, result, mfa string) obj {
	e := call(id, min, ident, "signin.amazonaws.com", "ConsoleLogin", ip, "Mozilla/5.0", ident["accountId"].(string))
	e["eventType"] = "AwsConsoleSignIn"
	e["responseElements"] = obj{"ConsoleLogin": result}
	e["additionalEventData"] = obj{"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": mfa}
	return e
}

// assumeRole is an AssumeRole call by ident into role (ARN) as session,
// handing out key.
func assumeRole(id string, min float64, ident obj, ip, roleAcct, role, session, key string) obj {
	e := call(id, min, ident, "sts.amazonaws.com", "AssumeRole", ip, "aws-cli/2.15.0", roleAcct)
	e["readOnly"] = false
	e["requestParameters"] = obj{"roleArn": "arn:aws:iam::" + roleAcct + ":role/" + role, "roleSessionName": session, "durationSeconds": 3600}
	e["responseElements"] = obj{
		"credentials":     obj{"accessKeyId": key, "sessionToken": "token", "expiration": "May 1, 2024, 10:00:00 AM"},
		"assumedRoleUser": obj{"assumedRoleId": "AROA" + strings.ToUpper(role) + ":" + session, "arn": "arn:aws:sts::" + roleAcct + ":assumed-role/" + role + "/" + session},
	}
	return e
}

// writeRecords writes events as a CloudTrail log file and returns its path.
func writeRecords(t *testing.T, dir, name string, events ...obj) string {
	t.Helper()
	b, err := json.Marshal(obj{"Records": events})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sessionRow is the part of a sessions row the tests compare.
type sessionRow struct {
	ID, Kind, IssuedBy, IssueEvent, Link, Parent, Principal, OriginType, Origin, OriginSession, OriginEvent, SourceIdentity string
	IssueAgent                                                                                                              string
	Depth                                                                                                                   int
	Chain, Accounts                                                                                                         []string
	Events                                                                                                                  int64
}

func readSessions(t *testing.T, db *sql.DB) map[string]sessionRow {
	t.Helper()
	rows, err := db.Query(`SELECT session_id, credential_kind, coalesce(issued_by, ''), coalesce(issue_event_id, ''), link,
  coalesce(parent_session_id, ''), coalesce(principal_arn, ''), origin_type, coalesce(origin, ''), origin_session_id,
  coalesce(origin_event_id, ''), coalesce(source_identity, ''), depth, to_json(chain)::VARCHAR, to_json(accounts)::VARCHAR, events,
  coalesce(issue_user_agent, '')
FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]sessionRow{}
	for rows.Next() {
		var r sessionRow
		var chain, accounts string
		if err := rows.Scan(&r.ID, &r.Kind, &r.IssuedBy, &r.IssueEvent, &r.Link, &r.Parent, &r.Principal, &r.OriginType, &r.Origin,
			&r.OriginSession, &r.OriginEvent, &r.SourceIdentity, &r.Depth, &chain, &accounts, &r.Events, &r.IssueAgent); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(chain), &r.Chain); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(accounts), &r.Accounts); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[r.ID]; dup {
			t.Errorf("session %s has two rows", r.ID)
		}
		out[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// loadSessions ingests events as one log file into a fresh store and
// returns its sessions.
func loadSessions(t *testing.T, events ...obj) (*query.Store, map[string]sessionRow) {
	t.Helper()
	s := loadEvents(t, writeRecords(t, t.TempDir(), "trail.json", events...))
	return s, readSessions(t, s.DB)
}

func wantSession(t *testing.T, got map[string]sessionRow, id string, check func(r sessionRow) string) {
	t.Helper()
	r, ok := got[id]
	if !ok {
		var ids []string
		for k := range got {
			ids = append(ids, k)
		}
		slices.Sort(ids)
		t.Errorf("no session %s; sessions: %v", id, ids)
		return
	}
	if msg := check(r); msg != "" {
		t.Errorf("session %s: %s\n%+v", id, msg, r)
	}
}

// storyEvents is the contract's chain: alice signs in to the console,
// assumes OpsAdmin, from there CrossAccountAudit in a second account
// (logged in both accounts, one sharedEventID), whose key is later used
// from a new address.
func storyEvents() []obj {
	alice := consoleUser(acctA, "alice", "ASIACONSOLEALICE0001", at(0), false)
	login := consoleLogin("ev-login", 0, iamUser(acctA, "alice", ""), "203.0.113.66", "Success", "No")
	hop1 := assumeRole("ev-hop1", 2, alice, "203.0.113.66", acctA, "OpsAdmin", "alice", "ASIAOPSADMIN00000001")
	ops := assumedRole(acctA, "OpsAdmin", "alice", "ASIAOPSADMIN00000001")
	hop2 := assumeRole("ev-hop2-a", 3, ops, "203.0.113.66", acctB, "CrossAccountAudit", "alice", "ASIACROSSAUDIT000001")
	hop2["recipientAccountId"] = acctA
	hop2["sharedEventID"] = "shared-hop2"
	// The role's account logs its copy with the caller as an AWS account.
	hop2b := assumeRole("ev-hop2-b", 3, obj{"type": "AWSAccount", "principalId": "AROAOPSADMIN:alice", "accountId": acctA}, "203.0.113.66", acctB, "CrossAccountAudit", "alice", "ASIACROSSAUDIT000001")
	hop2b["sharedEventID"] = "shared-hop2"
	hop2b["userAgent"] = "AWS Internal" // not the caller's copy's: the session's issue_user_agent is that one's
	audit := assumedRole(acctB, "CrossAccountAudit", "alice", "ASIACROSSAUDIT000001")
	return []obj{
		login,
		call("ev-alice-1", 1, alice, "iam.amazonaws.com", "ListRoles", "203.0.113.66", "Mozilla/5.0", acctA),
		hop1, hop2, hop2b,
		call("ev-ops-1", 2.5, ops, "s3.amazonaws.com", "ListBuckets", "203.0.113.66", "aws-cli/2.15.0", acctA),
		call("ev-audit-1", 4, audit, "iam.amazonaws.com", "ListUsers", "203.0.113.66", "aws-cli/2.15.0", acctB),
		call("ev-audit-2", 30, audit, "iam.amazonaws.com", "ListUsers", "198.51.100.77", "curl/8.4.0", acctB),
	}
}

func TestSessionsStoryChain(t *testing.T) {
	s, got := loadSessions(t, storyEvents()...)
	wantSession(t, got, "ASIACONSOLEALICE0001", func(r sessionRow) string {
		if r.IssuedBy != "ConsoleLogin" || r.Link != "creation-date" || r.IssueEvent != "ev-login" || r.IssueAgent != "Mozilla/5.0" || r.Parent != "" ||
			r.OriginType != "IAMUser" || r.Origin != "arn:aws:iam::111111111111:user/alice" || r.Depth != 0 || r.OriginEvent != "ev-login" {
			return "want the console session of alice, linked to ev-login by its creation date, at the origin"
		}
		return ""
	})
	wantSession(t, got, "ASIAOPSADMIN00000001", func(r sessionRow) string {
		if r.IssuedBy != "AssumeRole" || r.Link != "key" || r.Parent != "ASIACONSOLEALICE0001" || r.Depth != 1 ||
			r.OriginType != "IAMUser" || r.OriginSession != "ASIACONSOLEALICE0001" || r.Kind != "temporary" {
			return "want hop 1, key-linked to alice's console session"
		}
		return ""
	})
	wantSession(t, got, "ASIACROSSAUDIT000001", func(r sessionRow) string {
		if r.IssuedBy != "AssumeRole" || r.IssueEvent != "ev-hop2-a" || r.IssueAgent != "aws-cli/2.15.0" || r.Parent != "ASIAOPSADMIN00000001" || r.Depth != 2 ||
			r.OriginEvent != "ev-login" || !slices.Equal(r.Chain, []string{"ASIACONSOLEALICE0001", "ASIAOPSADMIN00000001", "ASIACROSSAUDIT000001"}) ||
			!slices.Equal(r.Accounts, []string{acctB}) || r.Events != 2 {
			return "want hop 2, one session for both copies of the call, the caller's copy as its issuing event"
		}
		return ""
	})
	if len(got) != 3 {
		t.Errorf("%d sessions, want 3: %v", len(got), got)
	}
	// Every event made with a credential has its session in event_sessions; the failed and
	// the sign-in itself have none.
	if n := count(t, s, `SELECT count(*) FROM event_sessions WHERE session_id IS NULL`); n != 2 {
		t.Errorf("%d events without a session, want 2 (the sign-in and the role account's copy of hop 2)", n)
	}
	if n := count(t, s, `SELECT count(*) FROM event_sessions WHERE origin = 'arn:aws:iam::111111111111:user/alice' AND depth = 2`); n != 2 {
		t.Errorf("%d events of the depth-2 session, want 2", n)
	}
}

// sessionsDigest is every column of sessions as text, in order, to compare
// two builds.
func sessionsDigest(t *testing.T, db *sql.DB) string {
	t.Helper()
	var out string
	if err := db.QueryRow(`SELECT coalesce(string_agg(to_json(s)::VARCHAR, E'\n' ORDER BY session_id), '') FROM sessions s`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSessionsRebuiltWhenEvidenceGrows: sessions after loading the story in
// two runs (the chain's later hops and uses first, the sign-in after) are
// those of loading it at once, and a repeated run changes nothing.
func TestSessionsRebuiltWhenEvidenceGrows(t *testing.T) {
	events := storyEvents()
	dir := t.TempDir()
	later := writeRecords(t, dir, "later.json", events[2:]...)
	earlier := writeRecords(t, dir, "earlier.json", events[:2]...)

	whole := loadEvents(t, earlier, later)
	want := sessionsDigest(t, whole.DB)

	s := openMemory(t)
	ingestInto(t, s, later)
	part := readSessions(t, s.DB)
	if r := part["ASIAOPSADMIN00000001"]; r.OriginType != "Unknown" && r.OriginType != "IAMUser" {
		t.Errorf("before the sign-in is loaded: %+v", r)
	}
	ingestInto(t, s, earlier)
	if got := sessionsDigest(t, s.DB); got != want {
		t.Errorf("sessions after two runs:\n%s\nafter one:\n%s", got, want)
	}
	if run := ingestInto(t, s, earlier, later); run.Inserted != 0 {
		t.Errorf("re-run inserted %d", run.Inserted)
	}
	if got := sessionsDigest(t, s.DB); got != want {
		t.Errorf("a repeated run changed sessions:\n%s", got)
	}
}

// makeOlder makes the store on db what trailsift wrote at version (2 to
// 5): event ids stored as text (before 6), and event_rows without
// issued_credential, and the sessions view's rows in a table of its name
// (version 3) or no sessions at all, nor the event_sessions view (version
// 2); or (version 4) all but the sessions' issue_user_agent.
func makeOlder(t *testing.T, db *sql.DB, version int) {
	t.Helper()
	views := map[string]string{}
	rows, err := db.Query("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, q string
		if err := rows.Scan(&name, &q); err != nil {
			t.Fatal(err)
		}
		views[name] = q
	}
	rows.Close()
	// Before version 6, event_rows stored event_id as it is read.
	for _, q := range []string{
		"CREATE TABLE event_rows_text AS SELECT " + query.ColumnList(query.StoredEventColumns()) + " FROM event_rows",
		"DROP TABLE event_rows", "ALTER TABLE event_rows_text RENAME TO event_rows",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// And session_rows stored issue_event_id as text.
	var cols []string
	for _, name := range strings.Split(textOf(t, db, `SELECT string_agg(column_name, ',' ORDER BY ordinal_position)
FROM information_schema.columns WHERE table_name = 'session_rows'`), ",") {
		switch name {
		case "issue_event_uuid":
			cols = append(cols, "coalesce(issue_event_text, issue_event_uuid::VARCHAR) AS issue_event_id")
		case "issue_event_text":
		default:
			cols = append(cols, `"`+name+`"`)
		}
	}
	const issueEventID = "COALESCE(issue_event_text, CAST(issue_event_uuid AS VARCHAR))"
	if !strings.Contains(views["sessions"], issueEventID) {
		t.Fatalf("sessions view %q: where is issue_event_id?", views["sessions"])
	}
	views["sessions"] = strings.ReplaceAll(views["sessions"], issueEventID, "issue_event_id")
	for _, q := range []string{"DROP VIEW event_sessions", "DROP VIEW sessions",
		"CREATE TABLE session_rows_text AS SELECT " + strings.Join(cols, ", ") + " FROM session_rows",
		"DROP TABLE session_rows", "ALTER TABLE session_rows_text RENAME TO session_rows", views["sessions"], views["event_sessions"],
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if version == 5 {
		if _, err := db.Exec("UPDATE trailsift_meta SET schema_version = 5"); err != nil {
			t.Fatal(err)
		}
		return
	}
	if version == 4 {
		// Version 4 had all but sessions.issue_user_agent.
		q, ok := strings.CutSuffix(views["sessions"], ", issue_user_agent FROM session_rows;")
		if !ok {
			t.Fatalf("sessions view %q: where is issue_user_agent?", views["sessions"])
		}
		for _, q := range []string{"DROP VIEW event_sessions", "DROP VIEW sessions", "ALTER TABLE session_rows DROP COLUMN issue_user_agent",
			q + " FROM session_rows", views["event_sessions"], "UPDATE trailsift_meta SET schema_version = 4"} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return
	}
	if !strings.Contains(views["events"], ", issued_credential FROM (SELECT") {
		t.Fatalf("events view %q: where is issued_credential?", views["events"])
	}
	views["events"] = strings.Replace(views["events"], ", issued_credential FROM (SELECT", " FROM (SELECT", 1)
	stmts := []string{"CREATE TABLE sessions_table AS SELECT * EXCLUDE (issue_user_agent) FROM sessions"}
	for name := range views {
		stmts = append(stmts, "DROP VIEW "+name)
	}
	delete(views, "sessions")
	stmts = append(stmts, "ALTER TABLE event_rows DROP COLUMN issued_credential", "DROP TABLE session_rows")
	if version == 2 {
		stmts = append(stmts, "DROP TABLE sessions_table")
		delete(views, "event_sessions")
	} else {
		stmts = append(stmts, "ALTER TABLE sessions_table RENAME TO sessions")
	}
	// events first: the others read it.
	names := slices.Sorted(maps.Keys(views))
	slices.SortStableFunc(names, func(a, b string) int { return cmpBool(a != "events", b != "events") })
	for _, name := range names {
		stmts = append(stmts, views[name])
	}
	stmts = append(stmts, fmt.Sprintf("UPDATE trailsift_meta SET schema_version = %d", version))
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// openMigrated opens the store at db for writing and checks that it was
// migrated from version from; it is closed with the test.
func openMigrated(t *testing.T, db string, from int) *query.Store {
	t.Helper()
	s, err := query.Open(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Migrated == nil || s.Migrated.From != from {
		t.Errorf("Migrated = %+v, want from version %d", s.Migrated, from)
	}
	return s
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// TestMigratesOlderStores: a store of an older release (version 2: no
// sessions table, no event_sessions view; version 4: sessions without
// issue_user_agent; all before 6: event_id stored as text) is read with this version's sessions when opened
// read-only, and gets them when opened for writing, built from the events
// it holds.
func TestMigratesOlderStores(t *testing.T) {
	for _, version := range []int{2, 4, 5} {
		t.Run(fmt.Sprint("version ", version), func(t *testing.T) { testMigratesOlderStore(t, version) })
	}
}

func testMigratesOlderStore(t *testing.T, version int) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "old.duckdb")
	s, err := query.Open(ctx, db, false)
	if err != nil {
		t.Fatal(err)
	}
	// A call that shares hop 1's eventID (at another time, by another
	// program) is not the issuing call: its user agent is not hop 1's.
	other := call("ev-hop1", 2.2, iamUser(acctA, "bob", ""), "iam.amazonaws.com", "GetUser", "198.51.100.9", "AAA-first/1.0", acctA)
	// An eventID as CloudTrail writes it, which version 6 stores as a UUID.
	uuidCall := call("0f8fad5b-d9cb-469f-a165-70867728950e", 2.3, iamUser(acctA, "bob", ""), "iam.amazonaws.com", "ListUsers", "198.51.100.9", "AAA-first/1.0", acctA)
	ingestInto(t, s, writeRecords(t, t.TempDir(), "trail.json", append(storyEvents(), other, uuidCall)...))
	want := sessionsDigest(t, s.DB)
	eventIDs := "SELECT string_agg(event_id, ',' ORDER BY event_id, event_time) FROM events"
	wantIDs := textOf(t, s.DB, eventIDs)
	if !strings.Contains(want, `"issue_user_agent":"Mozilla/5.0"`) {
		t.Fatalf("the store's sessions have no issuing user agent:\n%s", want)
	}
	makeOlder(t, s.DB, version)
	s.Close()

	// Read-only, it is read as it is, with sessions built when read.
	ro, err := query.Open(ctx, db, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := sessionsDigest(t, ro.DB); got != want {
		t.Errorf("read-only version %d store's sessions:\n%s\nwant:\n%s", version, got, want)
	}
	if n := count(t, ro, "SELECT count(*) FROM event_sessions WHERE depth = 2"); n != 2 {
		t.Errorf("read-only event_sessions: %d events at depth 2, want 2", n)
	}
	rules, err := query.BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := query.Detect(ctx, ro.DB, rules, query.DetectOptions{}); err != nil {
		t.Errorf("detect on a read-only version %d store: %v", version, err)
	}
	ro.Close()

	s = openMigrated(t, db, version)
	if v := count(t, s, "SELECT schema_version FROM trailsift_meta"); v != query.SchemaVersion {
		t.Errorf("schema_version = %d", v)
	}
	// From version 4 the sessions are left pending for the load that
	// follows every writable open to rebuild, outside the migration's
	// transaction.
	if n, want := count(t, s, "SELECT count(*) FROM sessions_pending"), int64(min(1, max(0, version-3))); n != want {
		t.Errorf("migrated from version %d: %d sessions_pending rows, want %d", version, n, want)
	}
	if err := s.UpdateSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM sessions_pending"); n != 0 {
		t.Errorf("%d sessions_pending rows after the update", n)
	}
	if got := sessionsDigest(t, s.DB); got != want || got == "" {
		t.Errorf("migrated sessions:\n%s\nwant:\n%s", got, want)
	}
	if got := textOf(t, s.DB, eventIDs); got != wantIDs {
		t.Errorf("migrated event ids:\n%s\nwant:\n%s", got, wantIDs)
	}
	if n := count(t, s, "SELECT count(*) FROM event_rows WHERE event_uuid = '0f8fad5b-d9cb-469f-a165-70867728950e'"); n != 1 {
		t.Errorf("migrated: %d events store the UUID eventID as a UUID, want 1", n)
	}
	if n := count(t, s, "SELECT count(*) FROM session_rows WHERE issue_event_uuid IS NOT NULL OR issue_event_text IS NOT NULL"); n == 0 {
		t.Error("migrated: no session stores its issuing event's id")
	}
	if n := count(t, s, "SELECT count(*) FROM event_sessions WHERE session_id IS NOT NULL"); n == 0 {
		t.Error("event_sessions ties no event to a session")
	}
}

// writeLookupEvents writes events as `aws cloudtrail lookup-events` output:
// each event a JSON string in CloudTrailEvent.
func writeLookupEvents(t *testing.T, dir, name string, events ...obj) string {
	t.Helper()
	var page []obj
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		page = append(page, obj{"EventId": e["eventID"], "EventName": e["eventName"], "EventTime": e["eventTime"],
			"EventSource": e["eventSource"], "CloudTrailEvent": string(b)})
	}
	b, err := json.Marshal(obj{"Events": page})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSessionsARNFallback: lookup-events output whose events lost their
// access keys: the role session is its ARN, tied to the AssumeRole that
// handed that ARN out (link arn), and the call's key is not a second row.
func TestSessionsARNFallback(t *testing.T) {
	bob := iamUser(acctA, "bob", "AKIABOB0000000000001")
	role := assumedRole(acctA, "Deploy", "bob-session", "")
	assume := assumeRole("ev-assume", 0, bob, "198.51.100.1", acctA, "Deploy", "bob-session", "ASIADEPLOY0000000001")
	assume["userAgent"] = "Boto3/1.34.0"
	s := loadEvents(t, writeLookupEvents(t, t.TempDir(), "lookup.json",
		assume,
		call("ev-use-1", 1, role, "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "aws-cli/2.15.0", acctA),
		call("ev-use-2", 2, role, "s3.amazonaws.com", "GetObject", "198.51.100.1", "aws-cli/2.15.0", acctA),
	))
	got := readSessions(t, s.DB)
	arn := "arn:aws:sts::111111111111:assumed-role/Deploy/bob-session"
	wantSession(t, got, arn, func(r sessionRow) string {
		if r.Link != "arn" || r.IssueEvent != "ev-assume" || r.IssueAgent != "Boto3/1.34.0" || r.Parent != "AKIABOB0000000000001" || r.Depth != 1 ||
			r.OriginType != "IAMUser" || r.Origin != "arn:aws:iam::111111111111:user/bob" || r.Events != 2 || r.Kind != "temporary" {
			return "want the ARN session linked by its ARN to bob's AssumeRole"
		}
		return ""
	})
	wantSession(t, got, "AKIABOB0000000000001", func(r sessionRow) string {
		if r.Kind != "long-term" || r.Depth != 0 || r.OriginType != "IAMUser" || r.Link != "none" || r.Parent != "" {
			return "want bob's long-term key at the origin"
		}
		return ""
	})
	if len(got) != 2 {
		t.Errorf("%d sessions, want 2", len(got))
	}
}

// TestSessionsIssuers: each way AWS hands out a credential, as the
// documentation's examples log it, gives its issued_by, parent and origin.
func TestSessionsIssuers(t *testing.T) {
	bob := iamUser(acctA, "bob", "AKIABOB0000000000001")

	gst := call("ev-gst", 0, bob, "sts.amazonaws.com", "GetSessionToken", "198.51.100.1", "aws-cli/2.15.0", acctA)
	gst["requestParameters"] = obj{"durationSeconds": 3600, "serialNumber": "arn:aws:iam::111111111111:mfa/bob"}
	gst["responseElements"] = obj{"credentials": obj{"accessKeyId": "ASIAGST0000000000001", "expiration": "x"}}
	gstUse := iamUser(acctA, "bob", "ASIAGST0000000000001")

	gft := call("ev-gft", 0, bob, "sts.amazonaws.com", "GetFederationToken", "198.51.100.1", "aws-cli/2.15.0", acctA)
	gft["requestParameters"] = obj{"name": "partner"}
	gft["responseElements"] = obj{"credentials": obj{"accessKeyId": "ASIAFED0000000000001"},
		"federatedUser": obj{"federatedUserId": "111111111111:partner", "arn": "arn:aws:sts::111111111111:federated-user/partner"}}
	fedUse := obj{"type": "FederatedUser", "principalId": "111111111111:partner", "arn": "arn:aws:sts::111111111111:federated-user/partner",
		"accountId": acctA, "accessKeyId": "ASIAFED0000000000001"}

	saml := call("ev-saml", 0, obj{"type": "SAMLUser", "principalId": "SampleUkh1i4+ExamplexL/jEvs=:SamlExample", "userName": "SamlExample",
		"identityProvider": "bdGOnTesti4+ExamplexL/jEvs="}, "sts.amazonaws.com", "AssumeRoleWithSAML", "192.0.2.10", "aws-cli/2.15.0", acctA)
	saml["requestParameters"] = obj{"sAMLAssertionID": "_c0046cEXAMPLEb9d4b8eEXAMPLE2619aEXAMPLE", "roleSessionName": "MyAssignedRoleSessionName",
		"durationSeconds": 3600, "roleArn": "arn:aws:iam::111111111111:role/SAMLTestRoleShibboleth",
		"principalArn": "arn:aws:iam::111111111111:saml-provider/Shibboleth"}
	saml["responseElements"] = obj{"subjectType": "transient", "issuer": "https://server.example.com/idp/shibboleth",
		"credentials": obj{"accessKeyId": "ASIASAML000000000001"}, "nameQualifier": "bdGOnTesti4+ExamplexL/jEvs=",
		"assumedRoleUser": obj{"assumedRoleId": "AROAD35QRSTUVWEXAMPLE:MyAssignedRoleSessionName",
			"arn": "arn:aws:sts::111111111111:assumed-role/SAMLTestRoleShibboleth/MyAssignedRoleSessionName"},
		"subject": "SamlExample", "audience": "https://signin.aws.amazon.com/saml", "sourceIdentity": "SamlExample"}

	web := call("ev-web", 0, obj{"type": "WebIdentityUser", "principalId": "accounts.google.com:application-id.apps.googleusercontent.com:user-id",
		"userName": "user-id", "identityProvider": "accounts.google.com"}, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", "192.0.2.11", "aws-sdk-java", acctA)
	web["requestParameters"] = obj{"durationSeconds": 3600, "roleArn": "arn:aws:iam::111111111111:role/FederatedWebIdentityRole",
		"roleSessionName": "MyAssignedRoleSessionName"}
	web["responseElements"] = obj{"provider": "accounts.google.com", "subjectFromWebIdentityToken": "user-id",
		"audience": "application-id.apps.googleusercontent.com", "credentials": obj{"accessKeyId": "ASIAWEB0000000000001"},
		"assumedRoleUser": obj{"assumedRoleId": "AROACQRSTUVWRAOEXAMPLE:MyAssignedRoleSessionName",
			"arn": "arn:aws:sts::111111111111:assumed-role/FederatedWebIdentityRole/MyAssignedRoleSessionName"}}

	// Identity Center: the permission set's role is assumed with SAML by the
	// SSO portal on the user's behalf.
	idc := call("ev-idc", 0, obj{"type": "SAMLUser", "principalId": "AROAEXAMPLE:carol@example.com", "userName": "carol@example.com",
		"identityProvider": "AWSSSO_0123456789abcdef_DO_NOT_DELETE"}, "sts.amazonaws.com", "AssumeRoleWithSAML", "192.0.2.12", "aws-internal/3", acctA)
	idc["requestParameters"] = obj{"roleArn": "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
		"principalArn": "arn:aws:iam::111111111111:saml-provider/AWSSSO_0123456789abcdef_DO_NOT_DELETE", "roleSessionName": "carol@example.com"}
	idc["responseElements"] = obj{"credentials": obj{"accessKeyId": "ASIAIDC0000000000001"}, "subject": "carol@example.com",
		"issuer":          "https://portal.sso.us-east-1.amazonaws.com/saml/assertion/EXAMPLE",
		"assumedRoleUser": obj{"arn": "arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/carol@example.com"}}

	// An EC2 instance profile: EC2 assumes the role, the session is named after the instance.
	ec2 := assumeRole("ev-ec2", 0, obj{"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, "ec2.amazonaws.com", acctA, "WebServer", "i-0123456789abcdef0", "ASIAEC20000000000001")
	ec2["userAgent"] = "ec2.amazonaws.com"
	// Lambda's execution role: another service.
	lambda := assumeRole("ev-lambda", 0, obj{"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}, "lambda.amazonaws.com", acctA, "FnRole", "fn", "ASIALAMBDA0000000001")

	// AssumeRoot from the management account into a member account's root.
	root := assumedRole(acctA, "OrgAdmin", "admin", "ASIAORGADMIN00000001")
	assumeRoot := call("ev-root", 0, root, "sts.amazonaws.com", "AssumeRoot", "198.51.100.2", "aws-cli/2.22.0", acctA)
	assumeRoot["requestParameters"] = obj{"targetPrincipal": acctB, "taskPolicyArn": obj{"arn": "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"}}
	assumeRoot["responseElements"] = obj{"credentials": obj{"accessKeyId": "ASIAROOT000000000001"}}
	rootUse := obj{"type": "Root", "principalId": acctB, "arn": "arn:aws:iam::" + acctB + ":root", "accountId": acctB, "accessKeyId": "ASIAROOT000000000001"}

	// CreateAccessKey by a role session for user dave.
	cak := call("ev-cak", 0, root, "iam.amazonaws.com", "CreateAccessKey", "198.51.100.2", "aws-cli/2.22.0", acctA)
	cak["requestParameters"] = obj{"userName": "dave"}
	cak["responseElements"] = obj{"accessKey": obj{"accessKeyId": "AKIADAVE000000000001", "status": "Active", "userName": "dave", "createDate": "x"}}

	role := func(r, sess, key string) obj { return assumedRole(acctA, r, sess, key) }
	_, got := loadSessions(t, gst, gft, saml, web, idc, ec2, lambda, assumeRoot, cak,
		call("u-gst", 1, gstUse, "ec2.amazonaws.com", "DescribeInstances", "198.51.100.1", "aws-cli/2.15.0", acctA),
		call("u-fed", 1, fedUse, "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "aws-cli/2.15.0", acctA),
		call("u-saml", 1, role("SAMLTestRoleShibboleth", "MyAssignedRoleSessionName", "ASIASAML000000000001"), "s3.amazonaws.com", "ListBuckets", "192.0.2.10", "aws-cli", acctA),
		call("u-web", 1, role("FederatedWebIdentityRole", "MyAssignedRoleSessionName", "ASIAWEB0000000000001"), "s3.amazonaws.com", "ListBuckets", "192.0.2.11", "aws-sdk-java", acctA),
		call("u-idc", 1, role("AWSReservedSSO_Admin_0123456789abcdef", "carol@example.com", "ASIAIDC0000000000001"), "s3.amazonaws.com", "ListBuckets", "192.0.2.12", "Mozilla/5.0", acctA),
		call("u-ec2", 1, role("WebServer", "i-0123456789abcdef0", "ASIAEC20000000000001"), "s3.amazonaws.com", "GetObject", "10.0.0.5", "aws-sdk-go", acctA),
		call("u-root", 1, rootUse, "iam.amazonaws.com", "DeleteLoginProfile", "198.51.100.2", "aws-cli/2.22.0", acctB),
		call("u-dave", 1, iamUser(acctA, "dave", "AKIADAVE000000000001"), "s3.amazonaws.com", "ListBuckets", "203.0.113.9", "curl/8", acctA),
	)
	for _, w := range []struct{ id, issuedBy, parent, kind, originType, origin, sourceIdentity string }{
		{"ASIAGST0000000000001", "GetSessionToken", "AKIABOB0000000000001", "temporary", "IAMUser", "arn:aws:iam::111111111111:user/bob", ""},
		{"ASIAFED0000000000001", "GetFederationToken", "AKIABOB0000000000001", "temporary", "IAMUser", "arn:aws:iam::111111111111:user/bob", ""},
		{"ASIASAML000000000001", "AssumeRoleWithSAML", "", "temporary", "SAMLUser", "SamlExample", "SamlExample"},
		{"ASIAWEB0000000000001", "AssumeRoleWithWebIdentity", "", "temporary", "WebIdentityUser", "user-id", ""},
		{"ASIAIDC0000000000001", "AssumeRoleWithSAML", "", "temporary", "IdentityCenterUser", "carol@example.com", ""},
		{"ASIAEC20000000000001", "AssumeRole", "", "temporary", "EC2Instance", "i-0123456789abcdef0", ""},
		{"ASIALAMBDA0000000001", "AssumeRole", "", "temporary", "AWSService", "lambda.amazonaws.com", ""},
		{"ASIAROOT000000000001", "AssumeRoot", "ASIAORGADMIN00000001", "temporary", "Unknown", "arn:aws:sts::111111111111:assumed-role/OrgAdmin/admin", ""},
		{"AKIADAVE000000000001", "CreateAccessKey", "ASIAORGADMIN00000001", "long-term", "Unknown", "arn:aws:sts::111111111111:assumed-role/OrgAdmin/admin", ""},
	} {
		wantSession(t, got, w.id, func(r sessionRow) string {
			if r.IssuedBy != w.issuedBy || r.Link != "key" || r.Parent != w.parent || r.Kind != w.kind || r.OriginType != w.originType ||
				r.Origin != w.origin || r.SourceIdentity != w.sourceIdentity {
				return fmt.Sprintf("want %+v", w)
			}
			if (w.parent == "") != (r.Depth == 0) {
				return "depth does not match the parent"
			}
			return ""
		})
	}
	// The lambda session was issued but never used here: it still has its row.
	wantSession(t, got, "ASIALAMBDA0000000001", func(r sessionRow) string {
		if r.Events != 0 || r.Principal != "arn:aws:sts::111111111111:assumed-role/FnRole/fn" {
			return "want an issued, unused session"
		}
		return ""
	})
	wantSession(t, got, "ASIAROOT000000000001", func(r sessionRow) string {
		if r.Principal != "arn:aws:iam::222222222222:root" || !slices.Equal(r.Accounts, []string{acctB}) {
			return "want the member account's root"
		}
		return ""
	})
}

// TestSessionsLoopsAndLongChains: a role that assumes itself (its session
// ARN handed out again by a call made with it) and two sessions each
// issued by the other stop the walk; a 40-hop chain is walked 32 hops.
func TestSessionsLoopsAndLongChains(t *testing.T) {
	self := assumedRole(acctA, "Loop", "again", "")
	loop := assumeRole("ev-loop", 1, self, "198.51.100.1", acctA, "Loop", "again", "")
	delete(loop["responseElements"].(obj), "credentials")
	a, b := assumedRole(acctA, "A", "x", ""), assumedRole(acctA, "B", "y", "")
	ab := assumeRole("ev-ab", 2, a, "198.51.100.1", acctA, "B", "y", "")
	ba := assumeRole("ev-ba", 3, b, "198.51.100.1", acctA, "A", "x", "")
	delete(ab["responseElements"].(obj), "credentials")
	delete(ba["responseElements"].(obj), "credentials")
	events := []obj{loop, ab, ba}

	key := func(i int) string {
		if i == 0 {
			return "AKIACHAIN0000000000"
		}
		return fmt.Sprintf("ASIACHAIN%011d", i)
	}
	caller := iamUser(acctA, "chain", key(0))
	for i := 1; i <= 40; i++ {
		events = append(events, assumeRole(fmt.Sprintf("ev-hop-%d", i), float64(i), caller, "198.51.100.1", acctA, fmt.Sprintf("R%d", i), "s", key(i)))
		caller = assumedRole(acctA, fmt.Sprintf("R%d", i), "s", key(i))
	}
	s, got := loadSessions(t, events...)
	// The walk is built a hop a round in a load, in one recursive
	// statement in a view: the same sessions.
	oneStatementMatchesStored(t, s)

	wantSession(t, got, "arn:aws:sts::111111111111:assumed-role/Loop/again", func(r sessionRow) string {
		if r.Parent != r.ID || r.Depth != 0 || r.OriginType != "Unknown" || r.OriginSession != r.ID {
			return "want a session that is its own parent, at depth 0"
		}
		return ""
	})
	wantSession(t, got, "arn:aws:sts::111111111111:assumed-role/B/y", func(r sessionRow) string {
		if r.Parent != "arn:aws:sts::111111111111:assumed-role/A/x" || r.Depth != 1 || r.OriginType != "Unknown" {
			return "want the walk to stop where the cycle closes"
		}
		return ""
	})
	wantSession(t, got, key(32), func(r sessionRow) string {
		if r.Depth != 32 || r.OriginType != "IAMUser" || r.OriginSession != key(0) || len(r.Chain) != 33 {
			return "want 32 hops to the origin"
		}
		return ""
	})
	wantSession(t, got, key(40), func(r sessionRow) string {
		if r.Depth != 32 || r.OriginType != "Unknown" || r.OriginSession != key(8) || len(r.Chain) != 33 || r.Chain[32] != key(40) {
			return "want the walk to stop after 32 hops"
		}
		return ""
	})
}

// TestSessionsConsoleCreationDate: a console session is tied to the
// ConsoleLogin whose time is its creationDate, not to another sign-in of
// the same user, and not at all when no sign-in is near.
func TestSessionsConsoleCreationDate(t *testing.T) {
	user := iamUser(acctA, "erin", "")
	_, got := loadSessions(t,
		consoleLogin("login-1", 0, user, "192.0.2.1", "Success", "Yes"),
		consoleLogin("login-fail", 59.9, user, "192.0.2.9", "Failure", "No"),
		consoleLogin("login-2", 60, user, "192.0.2.2", "Success", "Yes"),
		call("use-2", 61, consoleUser(acctA, "erin", "ASIAERIN000000000002", at(60), true), "ec2.amazonaws.com", "DescribeInstances", "192.0.2.2", "Mozilla/5.0", acctA),
		call("use-1", 62, consoleUser(acctA, "erin", "ASIAERIN000000000001", at(0), true), "ec2.amazonaws.com", "DescribeInstances", "192.0.2.1", "Mozilla/5.0", acctA),
		call("use-3", 63, consoleUser(acctA, "erin", "ASIAERIN000000000003", at(30), true), "ec2.amazonaws.com", "DescribeInstances", "192.0.2.3", "Mozilla/5.0", acctA),
	)
	for id, login := range map[string]string{"ASIAERIN000000000001": "login-1", "ASIAERIN000000000002": "login-2"} {
		wantSession(t, got, id, func(r sessionRow) string {
			if r.IssueEvent != login || r.Link != "creation-date" || r.OriginEvent != login || r.IssuedBy != "ConsoleLogin" {
				return "want it tied to " + login
			}
			return ""
		})
	}
	wantSession(t, got, "ASIAERIN000000000003", func(r sessionRow) string {
		if r.Link != "none" || r.IssuedBy != "" || r.OriginType != "IAMUser" {
			return "want no sign-in tied to it"
		}
		return ""
	})
}

// TestSessionsConsoleNearestSignIn: a console key is tied to the sign-in
// nearest its creationDate, before or after it: of two at one instant, the
// least event id; of two as near, one before and one after, the least
// event id too.
func TestSessionsConsoleNearestSignIn(t *testing.T) {
	user := iamUser(acctA, "fay", "")
	sec := func(s int) string {
		return fixtureStart.Add(time.Duration(s) * time.Second).Format("2006-01-02T15:04:05Z")
	}
	login := func(id string, s int) obj {
		e := consoleLogin(id, 0, user, "192.0.2.1", "Success", "Yes")
		e["eventTime"] = sec(s)
		return e
	}
	use := func(id string, s int, key string, created int) obj {
		e := call(id, 0, consoleUser(acctA, "fay", key, sec(created), true), "ec2.amazonaws.com", "DescribeInstances", "192.0.2.1", "Mozilla/5.0", acctA)
		e["eventTime"] = sec(s)
		return e
	}
	s, got := loadSessions(t,
		login("login-b", 600), login("login-a", 600), use("use-1", 610, "ASIAFAY0000000000001", 600),
		login("login-d", 1795), login("login-c", 1805), use("use-2", 1810, "ASIAFAY0000000000002", 1800),
		login("login-f", 2985), login("login-e", 3008), use("use-3", 3010, "ASIAFAY0000000000003", 3000),
	)
	for key, want := range map[string]string{
		"ASIAFAY0000000000001": "login-a", // two at its instant
		"ASIAFAY0000000000002": "login-c", // 5 s before and 5 s after
		"ASIAFAY0000000000003": "login-e", // 8 s after is nearer than 15 s before (outside the window too)
	} {
		wantSession(t, got, key, func(r sessionRow) string {
			if r.IssueEvent != want || r.Link != "creation-date" {
				return "want it tied to " + want
			}
			return ""
		})
	}
	oneStatementMatchesStored(t, s)
}

// TestSessionsMissingFields: events missing or garbling every field the
// build reads load, build and keep their rows: no error, and every event
// is in event_sessions once.
func TestSessionsMissingFields(t *testing.T) {
	bare := obj{"eventVersion": "1.08", "eventID": "bare", "eventName": "AssumeRole", "eventSource": "sts.amazonaws.com"}
	odd := assumeRole("odd", 1, obj{"type": "AssumedRole"}, "198.51.100.1", acctA, "R", "s", "ASIAODD0000000000001")
	odd["responseElements"] = obj{"credentials": "not an object", "assumedRoleUser": []any{1, 2}}
	str := assumeRole("str", 2, iamUser(acctA, "f", "AKIAF00000000000001"), "198.51.100.1", acctA, "R", "s", "ASIASTR0000000000001")
	str["responseElements"] = `{"credentials":{"accessKeyId":"ASIASTR0000000000001"}}` // a part given as a JSON string
	num := assumeRole("num", 3, iamUser(acctA, "f", "AKIAF00000000000001"), "198.51.100.1", acctA, "R", "s", "")
	num["responseElements"] = obj{"credentials": obj{"accessKeyId": 12345}}
	notime := call("notime", 0, assumedRole(acctA, "R", "s", "ASIASTR0000000000001"), "s3.amazonaws.com", "ListBuckets", "", "", "")
	delete(notime, "eventTime")
	noIdentity := call("noid", 4, nil, "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "x", acctA)
	delete(noIdentity, "userIdentity")
	badDate := call("baddate", 5, consoleUser(acctA, "f", "ASIABADDATE000000001", "not a date", false), "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "x", acctA)
	s, got := loadSessions(t, bare, odd, str, num, notime, noIdentity, badDate,
		consoleLogin("login", 5, iamUser(acctA, "f", ""), "198.51.100.1", "Success", "No"))
	if n, all := count(t, s, "SELECT count(*) FROM event_sessions"), count(t, s, "SELECT count(*) FROM events"); n != all || all != 8 {
		t.Errorf("event_sessions has %d rows, events %d, want 8", n, all)
	}
	wantSession(t, got, "ASIASTR0000000000001", func(r sessionRow) string {
		if r.Link != "key" || r.Parent != "AKIAF00000000000001" || r.Events != 1 {
			return "want the key read from a responseElements given as a string"
		}
		return ""
	})
	wantSession(t, got, "12345", func(r sessionRow) string {
		if r.Kind != "unknown" || r.Events != 0 {
			return "want an issued key of unknown kind"
		}
		return ""
	})
	wantSession(t, got, "ASIABADDATE000000001", func(r sessionRow) string {
		if r.Link != "none" {
			return "an unreadable creationDate links nothing"
		}
		return ""
	})
}

// TestSessionsARNLinkNeverContradictsAKey: a keyed session is not tied by
// its ARN to a call that handed out another key (the same role and session
// name, another session), only to one whose key was not logged.
func TestSessionsARNLinkNeverContradictsAKey(t *testing.T) {
	bob := iamUser(acctA, "bob", "AKIABOB0000000000001")
	other := assumeRole("ev-other", 0, bob, "198.51.100.1", acctA, "CI", "run", "ASIAOTHER00000000001")
	dropped := assumeRole("ev-dropped", 5, bob, "198.51.100.1", acctA, "CI", "run", "")
	delete(dropped["responseElements"].(obj), "credentials")
	_, got := loadSessions(t, other,
		call("ev-use", 1, assumedRole(acctA, "CI", "run", "ASIAUNSEEN0000000001"), "s3.amazonaws.com", "ListBuckets", "203.0.113.1", "x", acctA))
	wantSession(t, got, "ASIAUNSEEN0000000001", func(r sessionRow) string {
		if r.Link != "none" || r.IssueEvent != "" || r.Parent != "" {
			return "want no link: the only call with that ARN handed out another key"
		}
		return ""
	})
	_, got = loadSessions(t, other, dropped,
		call("ev-use", 6, assumedRole(acctA, "CI", "run", "ASIAUNSEEN0000000001"), "s3.amazonaws.com", "ListBuckets", "203.0.113.1", "x", acctA))
	wantSession(t, got, "ASIAUNSEEN0000000001", func(r sessionRow) string {
		if r.Link != "arn" || r.IssueEvent != "ev-dropped" || r.Parent != "AKIABOB0000000000001" {
			return "want the arn link to the call whose key was not logged"
		}
		return ""
	})
}

// TestSessionsARNLinkChoosesOneCall: keys used with one role session's
// ARN, whose calls logged no key, are each tied to the last such call at
// or before five minutes after their first use (the least event id among
// calls at that instant), else to the first after it, else to one with no
// time (that each key meets only those calls is
// TestSessionsARNLinksGrowWithKeysNotWithKeysTimesCalls).
func TestSessionsARNLinkChoosesOneCall(t *testing.T) {
	bob := iamUser(acctA, "bob", "AKIABOB0000000000001")
	keyless := func(id string, min float64, session string) obj {
		e := assumeRole(id, min, bob, "198.51.100.1", acctA, "Fn", session, "")
		delete(e["responseElements"].(obj), "credentials")
		return e
	}
	use := func(id string, min float64, session, key string) obj {
		return call(id, min, assumedRole(acctA, "Fn", session, key), "s3.amazonaws.com", "GetObject", "203.0.113.1", "x", acctA)
	}
	untimed := keyless("ev-untimed", 0, "c")
	untimed["eventTime"] = "not a time"
	events := []obj{
		keyless("ev-a", 0, "a"), keyless("ev-c", 10, "a"), keyless("ev-b", 10, "a"), keyless("ev-d", 100, "a"),
		use("use-1", 12, "a", "ASIAUSEONE0000000001"), use("use-2", 1, "a", "ASIAUSETWO0000000001"),
		keyless("ev-e", 50, "b"), keyless("ev-f", 60, "b"), use("use-3", 20, "b", "ASIAUSETHREE00000001"),
		untimed, use("use-4", 30, "c", "ASIAUSEFOUR000000001"),
	}
	s, got := loadSessions(t, events...)
	for key, want := range map[string]string{
		"ASIAUSEONE0000000001": "ev-b", // ev-b and ev-c at minute 10, the last before 12+5
		"ASIAUSETWO0000000001": "ev-a", // the last before 1+5
		"ASIAUSETHREE00000001": "ev-e", // none before 20+5: the first after
		"ASIAUSEFOUR000000001": "ev-untimed",
	} {
		wantSession(t, got, key, func(r sessionRow) string {
			if r.Link != "arn" || r.IssueEvent != want || r.Parent != "AKIABOB0000000000001" {
				return "want an arn link to " + want
			}
			return ""
		})
	}
	oneStatementMatchesStored(t, s)
}

// lowerCased moves e's requestParameters and responseElements under
// lower-cased keys, as exports that lower-case keys give them.
func lowerCased(e obj) obj {
	e["requestparameters"], e["responseelements"] = e["requestParameters"], e["responseElements"]
	delete(e, "requestParameters")
	delete(e, "responseElements")
	return e
}

// oddCalls are bob's calls that hand out a credential in the shapes
// exports give them besides the usual one, from minute start: keys
// lower-cased, parts as JSON strings, and a GetSessionToken whose
// requestParameters is null.
func oddCalls(t *testing.T, start float64) (lower, str, token obj) {
	t.Helper()
	bob := iamUser(acctA, "bob", "AKIABOB0000000000001")
	lower = lowerCased(assumeRole("ev-lower", start, bob, "198.51.100.1", acctB, "Audit", "low", "ASIALOWER00000000001"))
	lower["sharedeventid"] = "shared-lower"
	str = assumeRole("ev-str", start+1, bob, "198.51.100.1", acctB, "Audit", "str", "ASIASTRING0000000001")
	for _, part := range []string{"requestParameters", "responseElements"} {
		b, err := json.Marshal(str[part])
		if err != nil {
			t.Fatal(err)
		}
		str[part] = string(b)
	}
	token = call("ev-token", start+2, bob, "sts.amazonaws.com", "GetSessionToken", "198.51.100.1", "aws-cli/2.15.0", acctA)
	token["responseElements"] = obj{"credentials": obj{"accessKeyId": "ASIATOKEN00000000001"}}
	return lower, str, token
}

// TestSessionsReadsEveryShapeOfTheIssuingCall: the build links the calls
// whatever shape the export gave them (oddCalls).
func TestSessionsReadsEveryShapeOfTheIssuingCall(t *testing.T) {
	lower, str, token := oddCalls(t, 0)
	_, got := loadSessions(t, lower, str, token,
		call("use-lower", 3, assumedRole(acctB, "Audit", "low", "ASIALOWER00000000001"), "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "x", acctB),
		call("use-str", 4, assumedRole(acctB, "Audit", "str", "ASIASTRING0000000001"), "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "x", acctB),
		call("use-token", 5, iamUser(acctA, "bob", "ASIATOKEN00000000001"), "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "x", acctA))
	for key, event := range map[string]string{"ASIALOWER00000000001": "ev-lower", "ASIASTRING0000000001": "ev-str", "ASIATOKEN00000000001": "ev-token"} {
		wantSession(t, got, key, func(r sessionRow) string {
			if r.IssueEvent != event || r.Link != "key" || r.Parent != "AKIABOB0000000000001" || r.Events != 1 {
				return "want it issued by " + event + " to bob's key, used once"
			}
			return ""
		})
	}
	for _, key := range []string{"ASIALOWER00000000001", "ASIASTRING0000000001"} {
		wantSession(t, got, key, func(r sessionRow) string {
			if r.OriginType != "IAMUser" || r.Depth != 1 || !strings.HasPrefix(r.Principal, "arn:aws:sts::"+acctB+":assumed-role/Audit/") {
				return "want a role session of Audit at depth 1 under bob"
			}
			return ""
		})
	}
}

// TestSessionsOneStatementMatchesStages: the build as one statement (what
// a view runs: a stale Parquet copy, a store read around a stopped load)
// gives the rows the staged build stored, on the story's chain and the
// shapes of the issuing call together.
func TestSessionsOneStatementMatchesStages(t *testing.T) {
	bob := iamUser(acctA, "bob", "AKIABOB0000000000001")
	lower := lowerCased(assumeRole("ev-lower", 30, bob, "198.51.100.1", acctB, "Audit", "low", "ASIALOWER00000000001"))
	s, got := loadSessions(t, append(storyEvents(), lower,
		call("use-lower", 31, assumedRole(acctB, "Audit", "low", "ASIALOWER00000000001"), "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "x", acctB))...)
	if len(got) < 5 {
		t.Fatalf("%d sessions stored, want the story's and more", len(got))
	}
	oneStatementMatchesStored(t, s)
}

// oneStatementMatchesStored checks that the build as one statement gives
// the rows of the sessions table s's load built in stages.
func oneStatementMatchesStored(t *testing.T, s *query.Store) {
	t.Helper()
	q := "SELECT count(*) FROM ((" + query.SessionsBuildSQL() + ") EXCEPT ALL SELECT * FROM sessions)"
	if n := count(t, s, q); n != 0 {
		t.Errorf("%d rows of the one-statement build are not among the stored sessions", n)
	}
	q = "SELECT count(*) FROM (SELECT * FROM sessions EXCEPT ALL (" + query.SessionsBuildSQL() + "))"
	if n := count(t, s, q); n != 0 {
		t.Errorf("%d stored sessions are not among the one-statement build's rows", n)
	}
}

// textOf runs q, a SELECT of one text value, on db.
func textOf(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var s sql.NullString
	if err := db.QueryRow(q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s.String
}
