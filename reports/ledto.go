package reports

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
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
	// Counted is how many sessions the activity below counts: all of them,
	// up to maxLedActivity.
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

// loadLedTo fills what each detailed finding led to, with three queries for
// all of them: a query per finding would scan the sessions and the events
// a hundred times.
func (r *Report) loadLedTo(ctx context.Context, db *sql.DB) error {
	detailed := r.Findings[:min(len(r.Findings), maxDetailedFindings)]
	if len(detailed) == 0 {
		return nil
	}
	led, err := ledSessions(ctx, db, detailed)
	if err != nil {
		return fmt.Errorf("what the findings led to: %w", err)
	}
	if len(led) == 0 {
		return nil
	}
	// The sessions whose events are counted, per finding, and the span of
	// their use, so only that part of the events is read.
	var idx, sids []string
	var from, to time.Time
	for i, l := range led {
		for _, u := range l.counted {
			idx, sids = append(idx, fmt.Sprint(i)), append(sids, u.id)
			if from.IsZero() || u.first.Before(from) {
				from = u.first
			}
			if u.last.After(to) {
				to = u.last
			}
		}
	}
	if len(sids) > 0 {
		if err := ledActivity(ctx, db, led, idx, sids, from, to); err != nil {
			return fmt.Errorf("what the findings' sessions did: %w", err)
		}
		if err := ledSensitive(ctx, db, led, idx, sids, from, to); err != nil {
			return fmt.Errorf("the findings' sessions' sensitive calls: %w", err)
		}
	}
	for i, l := range led {
		detailed[i].LedTo = &l.LedTo
	}
	return nil
}

// ledState is what a finding led to while it is gathered.
type ledState struct {
	LedTo
	counted                  []usedSession // the used ones of the Counted sessions
	services, actions, codes map[string]*ActionCount
}

type usedSession struct {
	id          string
	first, last time.Time
}

// originKey is an equi-join key of a session's origin and of a finding's
// actor: account and name for an IAM user (any path) or root, the name
// alone for Identity Center, SAML and web-identity users.
const sessionOriginKey = `CASE WHEN origin_type = 'IAMUser' THEN split_part(origin, ':', 5) || '|' || regexp_extract(origin, '[^/]*$')
  WHEN origin_type = 'Root' THEN split_part(origin, ':', 5) || '|root'
  ELSE '|' || origin END`

// ledSessions finds, per finding, the chains its events started and its
// actor's chains started after it that day, and their sessions.
func ledSessions(ctx context.Context, db *sql.DB, findings []FindingReport) (map[int]*ledState, error) {
	var fIdx, fKey, fFrom, fTo, eIdx, eIDs []string
	for i, f := range findings {
		for _, id := range f.EventIDs {
			eIdx, eIDs = append(eIdx, fmt.Sprint(i)), append(eIDs, id)
		}
		if f.FirstSeen.IsZero() || f.Actor == "" {
			continue
		}
		t0 := f.FirstSeen.UTC()
		t1 := t0.Truncate(24 * time.Hour).Add(24 * time.Hour)
		for _, k := range []string{f.AccountID + "|" + f.Actor, "|" + f.Actor} {
			fIdx, fKey = append(fIdx, fmt.Sprint(i)), append(fKey, k)
			fFrom, fTo = append(fFrom, t0.Format(time.RFC3339Nano)), append(fTo, t1.Format(time.RFC3339Nano))
		}
	}
	q := `WITH fa AS (
  SELECT unnest(?::VARCHAR[])::INTEGER AS idx, unnest(?::VARCHAR[]) AS okey,
    unnest(?::VARCHAR[])::TIMESTAMPTZ AS t0, unnest(?::VARCHAR[])::TIMESTAMPTZ AS t1),
fe AS (SELECT unnest(?::VARCHAR[])::INTEGER AS idx, unnest(?::VARCHAR[]) AS ev),
origins AS (
  SELECT session_id, coalesce(issue_time, first_seen) AS started, ` + sessionOriginKey + ` AS okey
  FROM sessions WHERE depth = 0),
roots AS (
  SELECT fe.idx, s.origin_session_id AS root FROM fe JOIN sessions s ON s.origin_event_id = fe.ev
  UNION
  SELECT fa.idx, o.session_id FROM fa JOIN origins o ON o.okey = fa.okey AND o.started >= fa.t0 AND o.started < fa.t1),
led AS (
  SELECT r.idx, s.*, row_number() OVER (PARTITION BY r.idx
      ORDER BY s.depth, coalesce(s.issue_time, s.first_seen) NULLS LAST, s.session_id) AS n,
    count(*) OVER (PARTITION BY r.idx) AS total
  FROM (SELECT DISTINCT idx, root FROM roots) r JOIN sessions s ON s.origin_session_id = r.root)
SELECT idx, n, total, session_id, coalesce(parent_session_id, ''), coalesce(principal_arn, ''), coalesce(account_id, ''),
  coalesce(issued_by, ''), coalesce(link, ''), coalesce(array_to_string(accounts, ' '), ''),
  coalesce(array_to_string(source_ips[1:` + fmt.Sprint(maxLedIPsInSession) + `], ' '), ''), coalesce(len(source_ips), 0),
  depth, first_seen, last_seen, events, errors
FROM led WHERE n <= ` + fmt.Sprint(maxLedActivity) + ` ORDER BY idx, n`
	rows, err := db.QueryContext(ctx, q, fIdx, fKey, fFrom, fTo, eIdx, eIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	led := map[int]*ledState{}
	for rows.Next() {
		var i int
		var n, total int64
		var s LedSession
		var accts, ips string
		var first, last sql.NullTime
		if err := rows.Scan(&i, &n, &total, &s.SessionID, &s.Parent, &s.Principal, &s.Account, &s.IssuedBy, &s.Link, &accts, &ips,
			&s.SourceIPsTotal, &s.Depth, &first, &last, &s.Events, &s.Errors); err != nil {
			return nil, err
		}
		l := led[i]
		if l == nil {
			l = &ledState{LedTo: LedTo{SessionsTotal: total}, services: map[string]*ActionCount{},
				actions: map[string]*ActionCount{}, codes: map[string]*ActionCount{}}
			led[i] = l
		}
		l.Counted++
		if first.Valid {
			l.counted = append(l.counted, usedSession{s.SessionID, first.Time.UTC(), last.Time.UTC()})
			s.First, s.Last = first.Time.UTC(), last.Time.UTC()
		}
		if len(l.Sessions) < maxLedSessions {
			s.SessionID, s.Parent, s.Principal, s.Account = clip(s.SessionID), clip(s.Parent), clip(s.Principal), clip(s.Account)
			s.Accounts, s.SourceIPs = strings.Fields(clip(accts)), strings.Fields(clip(ips))
			l.Sessions = append(l.Sessions, s)
		}
	}
	return led, rows.Err()
}

// sessionEvents are the events of the counted sessions, with the finding
// each counts for ($1 finding indexes, $2 session ids, $3 and $4 the span).
const sessionEvents = `m AS (SELECT unnest($1::VARCHAR[])::INTEGER AS idx, unnest($2::VARCHAR[]) AS sid),
ev AS (SELECT *, ` + sessionOfEvent + ` AS sid FROM event_rows WHERE event_time >= $3 AND event_time <= $4)`

// ledActivity counts the sessions' events by service, action and error code.
func ledActivity(ctx context.Context, db *sql.DB, led map[int]*ledState, idx, sids []string, from, to time.Time) error {
	rows, err := db.QueryContext(ctx, `WITH `+sessionEvents+`
SELECT m.idx, coalesce(ev.event_source, ''), coalesce(ev.event_name, ''), ev.error_code, count(*)
FROM ev JOIN m USING (sid) GROUP BY ALL`, idx, sids, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	bump := func(m map[string]*ActionCount, name string, n int64, failed bool) {
		if m[name] == nil {
			m[name] = &ActionCount{Name: name}
		}
		m[name].Events += n
		if failed {
			m[name].Errors += n
		}
	}
	for rows.Next() {
		var i int
		var src, name string
		var code sql.NullString
		var n int64
		if err := rows.Scan(&i, &src, &name, &code, &n); err != nil {
			return err
		}
		l := led[i]
		svc := clip(strings.TrimSuffix(src, ".amazonaws.com"))
		bump(l.services, svc, n, code.Valid)
		bump(l.actions, svc+":"+clip(name), n, code.Valid)
		if code.Valid {
			bump(l.codes, clip(code.String), n, true)
			l.Errors += n
		}
		l.Events += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, l := range led {
		l.Services, l.ServicesTotal = topCounts(l.services, maxLedServices)
		l.Actions, l.ActionsTotal = topCounts(l.actions, maxLedActions)
		l.ErrorCodes, l.ErrorsTotal = topCounts(l.codes, maxLedErrors)
	}
	return nil
}

// ledSensitive lists the sessions' sensitive calls, most sensitive first.
// The JSON of the request is read for these few events only.
func ledSensitive(ctx context.Context, db *sql.DB, led map[int]*ledState, idx, sids []string, from, to time.Time) error {
	rows, err := db.QueryContext(ctx, `WITH `+sessionEvents+`,
hits AS (
  SELECT m.idx, ev.event_time, ev.event_id, ev.event_key, ev.sid, `+sensitiveCase(0)+` AS srank, `+sensitiveCase(1)+` AS why
  FROM ev JOIN m USING (sid) WHERE ev.event_name IN (`+sensitiveNames()+`)),
found AS (
  SELECT h.*, e.recipient_account_id, e.event_source, e.event_name, e.source_ip, e.error_code, e.request_parameters AS req
  FROM hits h JOIN events e USING (event_key)
  WHERE h.srank IS NOT NULL
    AND (e.event_name <> 'AssumeRole'
         OR split_part(e.request_parameters->>'roleArn', ':', 5) <> coalesce(e.account_id, e.recipient_account_id))),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY idx ORDER BY srank, event_time, event_id) AS n,
    count(*) OVER (PARTITION BY idx) AS total
  FROM found)
SELECT idx, total, event_time, coalesce(recipient_account_id, ''), sid, event_source, event_name, coalesce(source_ip, ''),
  coalesce(req->>'userName', req->>'roleArn', req->>'bucketName', req->>'name', req->>'serialNumber', req->>'policyArn', ''),
  coalesce(error_code, ''), event_id, why
FROM ranked WHERE n <= `+fmt.Sprint(maxLedSensitive)+` ORDER BY idx, n`, idx, sids, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var total int64
		var s SensitiveEvent
		var t sql.NullTime
		var src, name string
		if err := rows.Scan(&i, &total, &t, &s.Account, &s.Session, &src, &name, &s.SourceIP, &s.Target, &s.ErrorCode, &s.EventID, &s.Why); err != nil {
			return err
		}
		s.Action = clip(strings.TrimSuffix(src, ".amazonaws.com") + ":" + name)
		s.Account, s.Session, s.SourceIP, s.Target, s.ErrorCode, s.EventID = clip(s.Account), clip(s.Session), clip(s.SourceIP), clip(s.Target), clip(s.ErrorCode), clip(s.EventID)
		if t.Valid {
			s.Time = t.Time.UTC()
		}
		l := led[i]
		l.SensitiveTotal = total
		l.Sensitive = append(l.Sensitive, s)
	}
	return rows.Err()
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
