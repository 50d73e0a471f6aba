// Package lineagetest holds a small credential chain for the tests of
// trace: its events (CloudTrail JSON lines), and sessions rows no load
// would make (a loop, a chain deeper than the walk's bound) for a store's
// sessions table to be replaced with.
package lineagetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// The story: alice signs in to the console (a failed attempt first), the
// console session assumes OpsAdmin, which assumes CrossAccountAudit in a
// second account; that key is later used from a new IP with a hostile user
// agent. Two rows of another account loop (each the other's parent).
const (
	Alice        = "arn:aws:iam::111111111111:user/alice"
	OpsRole      = "arn:aws:iam::111111111111:role/OpsAdmin"
	AuditRole    = "arn:aws:iam::222222222222:role/CrossAccountAudit"
	ConsoleKey   = "ASIACONSOLE000000001"
	OpsKey       = "ASIAOPSADMIN00000001"
	AuditKey     = "ASIAAUDIT00000000001"
	LoginEvent   = "11111111-0000-4000-8000-000000000001"
	FailedLogin  = "11111111-0000-4000-8000-000000000000"
	AssumeOps    = "11111111-0000-4000-8000-000000000002"
	AssumeAudit  = "11111111-0000-4000-8000-000000000003"
	HostileAgent = "curl/8.0 \x1b[31mred\x1b[0m </script><script>alert(1)</script> \u202egpj.exe"
	LoopA        = "arn:aws:sts::333333333333:assumed-role/Loop/a"
	LoopB        = "arn:aws:sts::333333333333:assumed-role/Loop/b"
)

type identity struct {
	Type        string `json:"type"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	// SessionContext as the AWS documentation's examples show it.
	SessionContext map[string]any `json:"sessionContext,omitempty"`
}

func sessionContext(created, issuer string) map[string]any {
	c := map[string]any{"attributes": map[string]string{"creationDate": created, "mfaAuthenticated": "false"}}
	if issuer != "" {
		c["sessionIssuer"] = map[string]string{"type": "Role", "arn": issuer}
	}
	return c
}

func event(id, at, source, name, ip, agent string, who identity, recipient, errorCode string, extra map[string]any) string {
	e := map[string]any{"eventVersion": "1.08", "eventTime": at, "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
		"sourceIPAddress": ip, "userAgent": agent, "userIdentity": who, "eventID": id, "recipientAccountId": recipient,
		"eventType": "AwsApiCall"}
	if errorCode != "" {
		e["errorCode"] = errorCode
	}
	for k, v := range extra {
		e[k] = v
	}
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Events are the story's events, one JSON object a line.
func Events() string {
	alice := identity{Type: "IAMUser", ARN: Alice, AccountID: "111111111111", UserName: "alice"}
	console := identity{Type: "IAMUser", ARN: Alice, AccountID: "111111111111", AccessKeyID: ConsoleKey, UserName: "alice",
		SessionContext: sessionContext("2024-03-05T13:41:00Z", "")}
	ops := identity{Type: "AssumedRole", ARN: "arn:aws:sts::111111111111:assumed-role/OpsAdmin/alice", AccountID: "111111111111", AccessKeyID: OpsKey,
		SessionContext: sessionContext("2024-03-05T13:43:00Z", OpsRole)}
	audit := identity{Type: "AssumedRole", ARN: "arn:aws:sts::222222222222:assumed-role/CrossAccountAudit/alice", AccountID: "222222222222", AccessKeyID: AuditKey,
		SessionContext: sessionContext("2024-03-05T13:44:00Z", AuditRole)}
	login := func(id, at, result, mfa string) string {
		return event(id, at, "signin.amazonaws.com", "ConsoleLogin", "203.0.113.66", "Mozilla/5.0", alice, "111111111111", "",
			map[string]any{"eventType": "AwsConsoleSignIn", "responseElements": map[string]string{"ConsoleLogin": result},
				"additionalEventData": map[string]string{"MFAUsed": mfa}})
	}
	assume := func(id, at string, who identity, role, key string) string {
		return event(id, at, "sts.amazonaws.com", "AssumeRole", "203.0.113.66", "aws-internal/3", who, who.AccountID, "",
			map[string]any{"requestParameters": map[string]string{"roleArn": role, "roleSessionName": "alice"},
				"responseElements": map[string]any{"credentials": map[string]string{"accessKeyId": key}}})
	}
	lines := []string{
		login(FailedLogin, "2024-03-05T13:40:00Z", "Failure", "No"),
		login(LoginEvent, "2024-03-05T13:41:00Z", "Success", "No"),
		event("11111111-0000-4000-8000-000000000010", "2024-03-05T13:42:00Z", "iam.amazonaws.com", "ListRoles", "203.0.113.66", "Mozilla/5.0", console, "111111111111", "", nil),
		assume(AssumeOps, "2024-03-05T13:43:00Z", console, OpsRole, OpsKey),
		assume(AssumeAudit, "2024-03-05T13:44:00Z", ops, AuditRole, AuditKey),
		event("11111111-0000-4000-8000-000000000020", "2024-03-05T13:45:00Z", "iam.amazonaws.com", "ListUsers", "203.0.113.66", "aws-cli/2", audit, "222222222222", "", nil),
		event("11111111-0000-4000-8000-000000000021", "2024-03-05T13:46:00Z", "iam.amazonaws.com", "CreateAccessKey", "203.0.113.66", "aws-cli/2", audit, "222222222222", "", nil),
		event("11111111-0000-4000-8000-000000000022", "2024-03-05T13:47:00Z", "s3.amazonaws.com", "PutBucketPolicy", "203.0.113.66", "aws-cli/2", audit, "222222222222", "AccessDenied", nil),
		event("11111111-0000-4000-8000-000000000023", "2024-03-05T15:00:00Z", "sts.amazonaws.com", "GetCallerIdentity", "198.51.100.77", HostileAgent, audit, "222222222222", "", nil),
	}
	return strings.Join(lines, "\n") + "\n"
}

// Row is a sessions row: the contract's columns that trace reads.
type Row struct {
	SessionID, AccessKeyID, Kind, IssuedBy, IssueEvent, IssueTime, Link, Parent, Principal, PrincipalType, Role, Name, Account string
	OriginType, Origin, OriginSession, OriginEvent                                                                             string
	Depth                                                                                                                      int
	Accounts, IPs, Agents                                                                                                      []string
	First, Last                                                                                                                string
	Events, Errors                                                                                                             int
}

// Rows are the story's sessions as a load builds them, and two that loop.
func Rows() []Row {
	origin := func(r Row) Row {
		r.OriginType, r.Origin, r.OriginSession, r.OriginEvent, r.Kind = "IAMUser", Alice, ConsoleKey, LoginEvent, "temporary"
		return r
	}
	return []Row{
		origin(Row{SessionID: ConsoleKey, AccessKeyID: ConsoleKey, IssuedBy: "ConsoleLogin", IssueEvent: LoginEvent, IssueTime: "2024-03-05T13:41:00Z",
			Link: "creation-date", Principal: Alice, PrincipalType: "IAMUser", Account: "111111111111", Accounts: []string{"111111111111"},
			IPs: []string{"203.0.113.66"}, Agents: []string{"Mozilla/5.0"}, First: "2024-03-05T13:42:00Z", Last: "2024-03-05T13:43:00Z", Events: 2}),
		origin(Row{SessionID: OpsKey, AccessKeyID: OpsKey, IssuedBy: "AssumeRole", IssueEvent: AssumeOps, IssueTime: "2024-03-05T13:43:00Z",
			Link: "key", Parent: ConsoleKey, Principal: "arn:aws:sts::111111111111:assumed-role/OpsAdmin/alice", PrincipalType: "AssumedRole",
			Role: OpsRole, Name: "alice", Account: "111111111111", Depth: 1, Accounts: []string{"111111111111"}, IPs: []string{"203.0.113.66"},
			Agents: []string{"aws-internal/3"}, First: "2024-03-05T13:44:00Z", Last: "2024-03-05T13:44:00Z", Events: 1}),
		origin(Row{SessionID: AuditKey, AccessKeyID: AuditKey, IssuedBy: "AssumeRole", IssueEvent: AssumeAudit, IssueTime: "2024-03-05T13:44:00Z",
			Link: "key", Parent: OpsKey, Principal: "arn:aws:sts::222222222222:assumed-role/CrossAccountAudit/alice", PrincipalType: "AssumedRole",
			Role: AuditRole, Name: "alice", Account: "222222222222", Depth: 2, Accounts: []string{"222222222222"},
			IPs: []string{"198.51.100.77", "203.0.113.66"}, Agents: []string{"aws-cli/2", HostileAgent},
			First: "2024-03-05T13:45:00Z", Last: "2024-03-05T15:00:00Z", Events: 4, Errors: 1}),
		{SessionID: LoopA, Kind: "unknown", Link: "arn", Parent: LoopB, Principal: LoopA, PrincipalType: "AssumedRole", Account: "333333333333",
			OriginType: "Unknown", Depth: 1},
		{SessionID: LoopB, Kind: "unknown", Link: "arn", Parent: LoopA, Principal: LoopB, PrincipalType: "AssumedRole", Account: "333333333333",
			OriginType: "Unknown", Depth: 1},
	}
}

// sessionsDDL is the contract's sessions table.
const sessionsDDL = `CREATE TABLE sessions (session_id VARCHAR, access_key_id VARCHAR, credential_kind VARCHAR, issued_by VARCHAR,
  issue_event_id VARCHAR, issue_time TIMESTAMPTZ, link VARCHAR, parent_session_id VARCHAR, principal_arn VARCHAR,
  principal_type VARCHAR, role_arn VARCHAR, session_name VARCHAR, source_identity VARCHAR, account_id VARCHAR,
  origin_type VARCHAR, origin VARCHAR, origin_session_id VARCHAR, origin_event_id VARCHAR, depth INTEGER, chain VARCHAR[],
  accounts VARCHAR[], first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ, events BIGINT, errors BIGINT, source_ips VARCHAR[],
  user_agents VARCHAR[], issue_source_ip VARCHAR, mfa_authenticated BOOLEAN, issue_user_agent VARCHAR)`

// ReplaceSessions replaces the store's sessions with rows.
func ReplaceSessions(ctx context.Context, db *sql.DB, rows []Row) error {
	// The store's sessions view is replaced by a table of the same columns.
	if _, err := db.ExecContext(ctx, `DROP VIEW IF EXISTS sessions`); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, sessionsDDL); err != nil {
		return err
	}
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	for _, r := range rows {
		_, err := db.ExecContext(ctx, `INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, NULL,
  ?::VARCHAR[], ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, ?, ?::VARCHAR[], ?::VARCHAR[], '203.0.113.66', NULL, ?)`,
			r.SessionID, null(r.AccessKeyID), r.Kind, null(r.IssuedBy), null(r.IssueEvent), null(r.IssueTime), r.Link, null(r.Parent),
			null(r.Principal), null(r.PrincipalType), null(r.Role), null(r.Name), null(r.Account), r.OriginType, null(r.Origin),
			null(r.OriginSession), null(r.OriginEvent), r.Depth, r.Accounts, null(r.First), null(r.Last), r.Events, r.Errors, r.IPs, r.Agents,
			HostileAgent) // every issuing call's, so that each format shows it safely
		if err != nil {
			return fmt.Errorf("insert session %s: %w", r.SessionID, err)
		}
	}
	return nil
}
