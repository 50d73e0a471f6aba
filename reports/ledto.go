package reports

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trailsift/trailsift/query"
)

// What a finding led to (issue #17): the sessions its sign-in started, and
// the actor's sessions that started after it the same day, with what they
// did. Read from the sessions table and the events, by SQL, per detailed
// finding; every list is capped and says so.
const (
	maxLedSessions     = 20   // shown per finding
	maxLedActivity     = 1000 // sessions whose events are counted per finding
	maxLedActions      = 15
	maxLedServices     = 10
	maxLedErrors       = 10
	maxLedSensitive    = 20
	maxLedIPsInSession = 5
)

// LedTo is what a finding led to. Nil when it led to no session.
type LedTo struct {
	Sessions      []LedSession
	SessionsTotal int64
	// Counted is how many sessions the activity below counts (all of them
	// up to maxLedActivity).
	Counted        int
	Events, Errors int64
	Services       []ActionCount
	ServicesTotal  int
	Actions        []ActionCount
	ActionsTotal   int
	ErrorCodes     []ActionCount
	ErrorsTotal    int
	Sensitive      []SensitiveEvent
	SensitiveTotal int64
}

// LedSession is one session a finding led to.
type LedSession struct {
	SessionID, Parent, Principal, Account, IssuedBy, Link string
	Accounts, SourceIPs                                   []string
	SourceIPsTotal                                        int
	Depth                                                 int
	First, Last                                           time.Time
	Events, Errors                                        int64
}

// ActionCount counts events (and failed ones) of one service, action or
// error code.
type ActionCount struct {
	Name           string
	Events, Errors int64
}

// SensitiveEvent is one call from the sensitive list below.
type SensitiveEvent struct {
	Time                               time.Time
	Account, Session, Action, SourceIP string
	Target, ErrorCode, EventID, Why    string
}

// sensitiveActions are the calls a responder reads first, most sensitive
// first: log tampering, credentials and MFA, permissions, trust and bucket
// policies, then role assumption into another account (only when the role
// belongs to another account than the caller's).
var sensitiveActions = []struct{ source, name, why string }{
	{"cloudtrail", "StopLogging", "trail logging stopped"},
	{"cloudtrail", "DeleteTrail", "trail deleted"},
	{"cloudtrail", "UpdateTrail", "trail changed"},
	{"cloudtrail", "PutEventSelectors", "trail event selectors changed"},
	{"iam", "CreateAccessKey", "access key created"},
	{"iam", "CreateLoginProfile", "console password created"},
	{"iam", "UpdateLoginProfile", "console password changed"},
	{"iam", "CreateUser", "IAM user created"},
	{"iam", "DeactivateMFADevice", "MFA device deactivated"},
	{"iam", "DeleteVirtualMFADevice", "MFA device deleted"},
	{"iam", "CreateVirtualMFADevice", "MFA device created"},
	{"iam", "EnableMFADevice", "MFA device enabled"},
	{"iam", "ResyncMFADevice", "MFA device resynchronised"},
	{"iam", "AttachUserPolicy", "policy attached"},
	{"iam", "AttachRolePolicy", "policy attached"},
	{"iam", "AttachGroupPolicy", "policy attached"},
	{"iam", "PutUserPolicy", "inline policy set"},
	{"iam", "PutRolePolicy", "inline policy set"},
	{"iam", "PutGroupPolicy", "inline policy set"},
	{"iam", "CreatePolicyVersion", "policy version created"},
	{"iam", "SetDefaultPolicyVersion", "policy version made default"},
	{"iam", "AddUserToGroup", "user added to a group"},
	{"iam", "UpdateAssumeRolePolicy", "role trust policy changed"},
	{"s3", "PutBucketPolicy", "bucket policy set"},
	{"s3", "PutBucketAcl", "bucket ACL set"},
	{"s3", "DeleteBucketPolicy", "bucket policy deleted"},
	{"sts", "AssumeRole", "role assumed in another account"},
}

// sensitiveCase is a CASE over event_source and event_name giving the rank
// (or NULL) and why; built from constants only.
func sensitiveCase(field int) string {
	var b strings.Builder
	b.WriteString("CASE")
	for i, a := range sensitiveActions {
		v := fmt.Sprint(i)
		if field == 1 {
			v = "'" + a.why + "'"
		}
		fmt.Fprintf(&b, " WHEN event_source = '%s.amazonaws.com' AND event_name = '%s' THEN %s", a.source, a.name, v)
	}
	b.WriteString(" END")
	return b.String()
}

// sensitiveNames is the SQL list of the sensitive event names.
func sensitiveNames() string {
	names := make([]string, len(sensitiveActions))
	for i, a := range sensitiveActions {
		names[i] = "'" + a.name + "'"
	}
	return strings.Join(names, ", ")
}

// sessionOfEvent is the session id of an event, as the event_sessions view
// of query computes it: the access key, else the role or federated
// session's ARN.
const sessionOfEvent = "coalesce(access_key_id, CASE WHEN user_type IN ('AssumedRole', 'FederatedUser') THEN user_arn END)"

// loadLedTo fills what each detailed finding led to.
func (r *Report) loadLedTo(ctx context.Context, db *sql.DB) error {
	for i := range r.Findings[:min(len(r.Findings), maxDetailedFindings)] {
		led, err := ledTo(ctx, db, r.Findings[i].Finding)
		if err != nil {
			return fmt.Errorf("what %s led to: %w", r.Findings[i].RuleID, err)
		}
		r.Findings[i].LedTo = led
	}
	return nil
}

// actorOrigins are the origins a finding's actor can have in its account:
// the IAM user (any path), root, or the name itself (Identity Center,
// SAML and web-identity users).
const actorOrigins = `(origin = $3
  OR (origin_type = 'IAMUser' AND split_part(origin, ':', 5) = $4 AND suffix(origin, '/' || $3))
  OR ($3 = 'root' AND origin_type = 'Root' AND split_part(origin, ':', 5) = $4))`

func ledTo(ctx context.Context, db *sql.DB, f query.Finding) (*LedTo, error) {
	if f.FirstSeen.IsZero() && len(f.EventIDs) == 0 {
		return nil, nil
	}
	dayEnd := f.FirstSeen.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	// The chains its events started, and the actor's own chains started
	// after it that day.
	roots := `SELECT origin_session_id FROM sessions WHERE origin_event_id IN (SELECT unnest($1::VARCHAR[]))
UNION
SELECT session_id FROM sessions WHERE depth = 0 AND coalesce(issue_time, first_seen) >= $2 AND coalesce(issue_time, first_seen) < $5
  AND ` + actorOrigins
	args := []any{f.EventIDs, f.FirstSeen.UTC(), f.Actor, f.AccountID, dayEnd}
	if f.EventIDs == nil {
		args[0] = []string{}
	}
	led := &LedTo{}
	rows, err := db.QueryContext(ctx, `WITH roots AS (`+roots+`)
SELECT session_id, coalesce(parent_session_id, ''), coalesce(principal_arn, ''), coalesce(account_id, ''),
  coalesce(issued_by, ''), coalesce(link, ''), coalesce(array_to_string(accounts, ' '), ''),
  coalesce(array_to_string(source_ips[1:`+fmt.Sprint(maxLedIPsInSession)+`], ' '), ''), coalesce(len(source_ips), 0),
  depth, first_seen, last_seen, events, errors, count(*) OVER ()
FROM sessions WHERE origin_session_id IN (SELECT * FROM roots)
ORDER BY depth, coalesce(issue_time, first_seen) NULLS LAST, session_id
LIMIT `+fmt.Sprint(maxLedActivity), args...)
	if err != nil {
		return nil, err
	}
	var ids []string
	var from, to time.Time
	for rows.Next() {
		var s LedSession
		var accts, ips string
		var first, last sql.NullTime
		if err := rows.Scan(&s.SessionID, &s.Parent, &s.Principal, &s.Account, &s.IssuedBy, &s.Link, &accts, &ips,
			&s.SourceIPsTotal, &s.Depth, &first, &last, &s.Events, &s.Errors, &led.SessionsTotal); err != nil {
			rows.Close()
			return nil, err
		}
		s.SessionID, s.Parent, s.Principal, s.Account = clip(s.SessionID), clip(s.Parent), clip(s.Principal), clip(s.Account)
		s.Accounts, s.SourceIPs = strings.Fields(clip(accts)), strings.Fields(clip(ips))
		if first.Valid {
			s.First, s.Last = first.Time.UTC(), last.Time.UTC()
			if from.IsZero() || s.First.Before(from) {
				from = s.First
			}
			if s.Last.After(to) {
				to = s.Last
			}
		}
		ids = append(ids, s.SessionID)
		if len(led.Sessions) < maxLedSessions {
			led.Sessions = append(led.Sessions, s)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	led.Counted = len(ids)
	if from.IsZero() {
		return led, nil // issued, never used
	}
	// The sessions' events: by time first, so only their span is read.
	used := ` FROM event_rows WHERE event_time >= $1 AND event_time <= $2 AND ` + sessionOfEvent + ` IN (SELECT unnest($3::VARCHAR[]))`
	span := []any{from, to, ids}
	// One pass over their events for the services, actions and errors.
	services, actions, codes := map[string]*ActionCount{}, map[string]*ActionCount{}, map[string]*ActionCount{}
	bump := func(m map[string]*ActionCount, name string, n int64, failed bool) {
		if m[name] == nil {
			m[name] = &ActionCount{Name: name}
		}
		m[name].Events += n
		if failed {
			m[name].Errors += n
		}
	}
	rows, err = db.QueryContext(ctx, `SELECT coalesce(event_source, ''), coalesce(event_name, ''), error_code, count(*)`+used+` GROUP BY ALL`, span...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var src, name string
		var code sql.NullString
		var n int64
		if err := rows.Scan(&src, &name, &code, &n); err != nil {
			rows.Close()
			return nil, err
		}
		svc := clip(strings.TrimSuffix(src, ".amazonaws.com"))
		bump(services, svc, n, code.Valid)
		bump(actions, svc+":"+clip(name), n, code.Valid)
		if code.Valid {
			bump(codes, clip(code.String), n, true)
			led.Errors += n
		}
		led.Events += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	led.Services, led.ServicesTotal = topCounts(services, maxLedServices)
	led.Actions, led.ActionsTotal = topCounts(actions, maxLedActions)
	led.ErrorCodes, led.ErrorsTotal = topCounts(codes, maxLedErrors)

	// The sensitive calls, most sensitive first. The JSON of the request
	// is read for these few events only.
	rows, err = db.QueryContext(ctx, `WITH hits AS (
  SELECT event_time, event_id, event_key, `+sessionOfEvent+` AS session, `+sensitiveCase(0)+` AS srank, `+sensitiveCase(1)+` AS why`+used+` AND event_name IN (`+sensitiveNames()+`))
SELECT h.event_time, coalesce(e.recipient_account_id, ''), h.session, e.event_source, e.event_name, coalesce(e.source_ip, ''),
  coalesce(e.request_parameters->>'userName', e.request_parameters->>'roleArn', e.request_parameters->>'bucketName',
           e.request_parameters->>'name', e.request_parameters->>'serialNumber', e.request_parameters->>'policyArn', ''),
  coalesce(e.error_code, ''), e.event_id, h.why, count(*) OVER ()
FROM hits h JOIN events e USING (event_key)
WHERE h.srank IS NOT NULL
  AND (e.event_name <> 'AssumeRole'
       OR split_part(e.request_parameters->>'roleArn', ':', 5) <> coalesce(e.account_id, e.recipient_account_id))
ORDER BY h.srank, h.event_time, h.event_id
LIMIT `+fmt.Sprint(maxLedSensitive), span...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s SensitiveEvent
		var t sql.NullTime
		var src, name string
		if err := rows.Scan(&t, &s.Account, &s.Session, &src, &name, &s.SourceIP, &s.Target, &s.ErrorCode, &s.EventID, &s.Why, &led.SensitiveTotal); err != nil {
			return nil, err
		}
		s.Action = clip(strings.TrimSuffix(src, ".amazonaws.com") + ":" + name)
		s.Account, s.Session, s.SourceIP, s.Target, s.ErrorCode, s.EventID = clip(s.Account), clip(s.Session), clip(s.SourceIP), clip(s.Target), clip(s.ErrorCode), clip(s.EventID)
		if t.Valid {
			s.Time = t.Time.UTC()
		}
		led.Sensitive = append(led.Sensitive, s)
	}
	return led, rows.Err()
}

// topCounts sorts by events (then name) and keeps the first n; it returns
// how many there were.
func topCounts(m map[string]*ActionCount, n int) ([]ActionCount, int) {
	c := make([]ActionCount, 0, len(m))
	for _, a := range m {
		c = append(c, *a)
	}
	sort.Slice(c, func(i, j int) bool {
		if c[i].Events != c[j].Events {
			return c[i].Events > c[j].Events
		}
		return c[i].Name < c[j].Name
	})
	return c[:min(len(c), n)], len(c)
}

// maxLedText bounds each log string of the section: a user name or bucket
// name from a log line can be any size.
const maxLedText = 200

func clip(s string) string {
	if len(s) <= maxLedText {
		return s
	}
	cut := maxLedText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
