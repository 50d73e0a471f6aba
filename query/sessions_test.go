package query_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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
	Depth                                                                                                                   int
	Chain, Accounts                                                                                                         []string
	Events                                                                                                                  int64
}

func readSessions(t *testing.T, db *sql.DB) map[string]sessionRow {
	t.Helper()
	rows, err := db.Query(`SELECT session_id, credential_kind, coalesce(issued_by, ''), coalesce(issue_event_id, ''), link,
  coalesce(parent_session_id, ''), coalesce(principal_arn, ''), origin_type, coalesce(origin, ''), origin_session_id,
  coalesce(origin_event_id, ''), coalesce(source_identity, ''), depth, to_json(chain)::VARCHAR, to_json(accounts)::VARCHAR, events
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
			&r.OriginSession, &r.OriginEvent, &r.SourceIdentity, &r.Depth, &chain, &accounts, &r.Events); err != nil {
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
		if r.IssuedBy != "ConsoleLogin" || r.Link != "creation-date" || r.IssueEvent != "ev-login" || r.Parent != "" ||
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
		if r.IssuedBy != "AssumeRole" || r.IssueEvent != "ev-hop2-a" || r.Parent != "ASIAOPSADMIN00000001" || r.Depth != 2 ||
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

// TestMigratesVersion2Store: a store of the previous release (version 2:
// no sessions table, no event_sessions view) gets both when opened for
// writing, built from the events it holds.
func TestMigratesVersion2Store(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "v2.duckdb")
	s, err := query.Open(ctx, db, false)
	if err != nil {
		t.Fatal(err)
	}
	ingestInto(t, s, writeRecords(t, t.TempDir(), "trail.json", storyEvents()...))
	want := sessionsDigest(t, s.DB)
	// Make it what version 2 wrote.
	for _, q := range []string{"DROP VIEW event_sessions", "DROP TABLE sessions", "UPDATE trailsift_meta SET schema_version = 2"} {
		if _, err := s.DB.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s, err = query.Open(ctx, db, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Migrated == nil || s.Migrated.From != 2 {
		t.Errorf("Migrated = %+v, want from version 2", s.Migrated)
	}
	if v := count(t, s, "SELECT schema_version FROM trailsift_meta"); v != query.SchemaVersion {
		t.Errorf("schema_version = %d", v)
	}
	if got := sessionsDigest(t, s.DB); got != want || got == "" {
		t.Errorf("migrated sessions:\n%s\nwant:\n%s", got, want)
	}
	if n := count(t, s, "SELECT count(*) FROM event_sessions WHERE session_id IS NOT NULL"); n == 0 {
		t.Error("event_sessions ties no event to a session")
	}
}
