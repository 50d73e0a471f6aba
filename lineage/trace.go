package lineage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/trailsift/trailsift/query"
)

// Bounds of a trace. MaxDepth is the sessions table's own bound on a chain.
const (
	MaxDepth    = 32
	MaxSessions = 50 // sessions an argument resolves to that are traced; the rest are counted
	MaxIssued   = 50 // descendants listed per session
	maxListed   = 20 // services, event names, errors, IPs, user agents, accounts per session
)

// Kinds of argument.
const (
	KindAccessKey = "access-key-id"
	KindARN       = "arn"
	KindEventID   = "event-id"
	KindFinding   = "finding"
)

// How a chain ends, walking up from a session.
const (
	EndOrigin        = "origin"         // a session with no parent: the chain is whole
	EndLoop          = "loop"           // a parent already in the chain
	EndDepthLimit    = "depth-limit"    // MaxDepth hops walked
	EndParentMissing = "parent-missing" // the parent is named but has no sessions row
)

// ErrNoSessions is returned for a store without the sessions table.
var ErrNoSessions = errors.New("this store has no sessions table")

// NotFoundError says an argument matched nothing, and what was searched.
type NotFoundError struct {
	Argument, Kind, Why string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Kind, e.Argument, e.Why)
}

// accessKeyID matches AWS access key ids: AKIA (long-term), ASIA
// (temporary), ABIA and ACCA; 16 to 128 characters.
var accessKeyID = regexp.MustCompile(`^(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}$`)

// Classify says what kind of argument s is: an ARN starts with "arn:", an
// access key id has its prefix and alphabet, anything else is an event id.
func Classify(s string) string {
	switch {
	case strings.HasPrefix(s, "arn:"):
		return KindARN
	case accessKeyID.MatchString(s):
		return KindAccessKey
	}
	return KindEventID
}

// Options tune a trace.
type Options struct {
	Timeline int  // events shown per session (0: none)
	Newest   bool // the newest events first, else the oldest first
}

// Trace is the answer to `trailsift trace`; its JSON is documented in the
// README and stays stable.
type Trace struct {
	Argument      string         `json:"argument"`
	Kind          string         `json:"kind"`
	Findings      []FindingRef   `json:"findings"`
	Sessions      []SessionTrace `json:"sessions"`
	SessionsTotal int            `json:"sessions_total"`
	TimelineOrder string         `json:"timeline_order"`
	TimelineLimit int            `json:"timeline_limit"`
}

// FindingRef is one finding traced with --finding, and its sessions.
type FindingRef struct {
	RuleID    string     `json:"rule_id"`
	Actor     string     `json:"actor"`
	AccountID string     `json:"account_id"`
	FirstSeen *time.Time `json:"first_seen"`
	LastSeen  *time.Time `json:"last_seen"`
	Events    int        `json:"events"`
	Sessions  []string   `json:"session_ids"`
}

// Session is a row of the sessions table; the lists are capped at
// maxListed, with their full length beside them.
type Session struct {
	SessionID        string     `json:"session_id"`
	AccessKeyID      string     `json:"access_key_id"`
	CredentialKind   string     `json:"credential_kind"`
	IssuedBy         string     `json:"issued_by"`
	IssueEventID     string     `json:"issue_event_id"`
	IssueTime        *time.Time `json:"issue_time"`
	IssueSourceIP    string     `json:"issue_source_ip"`
	IssueUserAgent   string     `json:"issue_user_agent"`
	Link             string     `json:"link"`
	ParentSessionID  string     `json:"parent_session_id"`
	PrincipalARN     string     `json:"principal_arn"`
	PrincipalType    string     `json:"principal_type"`
	RoleARN          string     `json:"role_arn"`
	SessionName      string     `json:"session_name"`
	SourceIdentity   string     `json:"source_identity"`
	AccountID        string     `json:"account_id"`
	OriginType       string     `json:"origin_type"`
	Origin           string     `json:"origin"`
	OriginSessionID  string     `json:"origin_session_id"`
	OriginEventID    string     `json:"origin_event_id"`
	Depth            int64      `json:"depth"`
	MFAAuthenticated *bool      `json:"mfa_authenticated"`
	FirstSeen        *time.Time `json:"first_seen"`
	LastSeen         *time.Time `json:"last_seen"`
	Events           int64      `json:"events"`
	Errors           int64      `json:"errors"`
	Accounts         []string   `json:"accounts"`
	AccountsTotal    int64      `json:"accounts_total"`
	SourceIPs        []string   `json:"source_ips"`
	SourceIPsTotal   int64      `json:"source_ips_total"`
	UserAgents       []string   `json:"user_agents"`
	UserAgentsTotal  int64      `json:"user_agents_total"`
}

// Hop is one session of a chain or of the sessions another issued.
type Hop struct {
	SessionID       string     `json:"session_id"`
	IssuedBy        string     `json:"issued_by"`
	Link            string     `json:"link"`
	IssueEventID    string     `json:"issue_event_id"`
	IssueTime       *time.Time `json:"issue_time"`
	ParentSessionID string     `json:"parent_session_id"`
	PrincipalARN    string     `json:"principal_arn"`
	AccountID       string     `json:"account_id"`
	Events          int64      `json:"events"`
	// Missing: the session is named as a parent but has no row (its
	// events and its issuing event are not in the evidence).
	Missing bool `json:"missing"`
}

// SessionTrace is one traced session: its row, the chain up to its
// origin, what it did, and the sessions it issued.
type SessionTrace struct {
	Session
	Chain    []Hop   `json:"chain"` // origin first, this session last
	ChainEnd string  `json:"chain_end"`
	Summary  Summary `json:"summary"`
	Timeline []Event `json:"timeline"`
	Issued   []Hop   `json:"issued"` // descendants, breadth first, in issue order
	// IssuedTruncated: there are more descendants than MaxIssued, or deeper
	// than MaxDepth.
	IssuedTruncated bool `json:"issued_truncated"`
}

// Summary counts what a session did, by service, by event name and by
// error code, most frequent first (capped; the totals count every name).
type Summary struct {
	Services        []Count `json:"services"`
	ServicesTotal   int64   `json:"services_total"`
	EventNames      []Count `json:"event_names"`
	EventNamesTotal int64   `json:"event_names_total"`
	ErrorCodes      []Count `json:"error_codes"`
	ErrorCodesTotal int64   `json:"error_codes_total"`
}

// Count is how many events had one name, and how many of them failed.
type Count struct {
	Name   string `json:"name"`
	Events int64  `json:"events"`
	Errors int64  `json:"errors"`
}

// Event is one line of a session's timeline.
type Event struct {
	Time        *time.Time `json:"time"`
	EventSource string     `json:"event_source"`
	EventName   string     `json:"event_name"`
	Region      string     `json:"aws_region"`
	Account     string     `json:"recipient_account_id"`
	SourceIP    string     `json:"source_ip"`
	UserAgent   string     `json:"user_agent"`
	ErrorCode   string     `json:"error_code"`
	EventID     string     `json:"event_id"`
}

// TraceArgument traces an access key id, an ARN or an event id. Nothing
// found is a *NotFoundError.
func TraceArgument(ctx context.Context, db *sql.DB, arg string, opts Options) (*Trace, error) {
	t, err := newTracer(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	kind := Classify(arg)
	var ids []string
	switch kind {
	case KindAccessKey:
		ids, err = t.sessionIDs(`session_id = ? OR access_key_id = ?`, arg, arg)
	case KindARN:
		// Sessions acting as it, of the role, or whose origin it is.
		ids, err = t.sessionIDs(`session_id = ? OR principal_arn = ? OR role_arn = ? OR origin = ?`, arg, arg, arg, arg)
	default:
		var byEvent map[string][]string
		byEvent, err = t.eventSessions([]string{arg})
		ids = byEvent[arg]
	}
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, t.notFound(arg, kind)
	}
	return t.trace(arg, kind, ids, nil)
}

// TraceFindings traces the sessions of the events of rule's findings:
// those that made an event, and those an event issued (a sign-in's
// session). No sessions is not an error: the trace lists the findings.
func TraceFindings(ctx context.Context, db *sql.DB, rule string, found []query.Finding, opts Options) (*Trace, error) {
	t, err := newTracer(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	var events []string
	for _, f := range found {
		events = append(events, f.EventIDs...)
	}
	byEvent, err := t.eventSessions(events)
	if err != nil {
		return nil, err
	}
	refs := []FindingRef{}
	var ids []string
	for _, f := range found {
		ref := FindingRef{RuleID: f.RuleID, Actor: f.Actor, AccountID: f.AccountID, FirstSeen: timePtr(f.FirstSeen),
			LastSeen: timePtr(f.LastSeen), Events: len(f.EventIDs), Sessions: []string{}}
		seen := map[string]bool{}
		for _, e := range f.EventIDs {
			for _, id := range byEvent[e] {
				if !seen[id] {
					seen[id] = true
					ref.Sessions = append(ref.Sessions, id)
				}
			}
		}
		ids = append(ids, ref.Sessions...)
		refs = append(refs, ref)
	}
	return t.trace(rule, KindFinding, ids, refs)
}

type tracer struct {
	ctx   context.Context
	db    *sql.DB
	opts  Options
	cache map[string]*Session // rows read, by session_id; nil for none
	// uuids: event_rows keeps eventIDs as UUIDs (query.KeepsEventUUIDs),
	// so a lookup by id reads them there (query.EventIDIn).
	uuids bool
}

func newTracer(ctx context.Context, db *sql.DB, opts Options) (*tracer, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE table_name = 'sessions' AND NOT temporary`).Scan(&n)
	if err == nil && n == 0 {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_views() WHERE view_name = 'sessions'`).Scan(&n)
	}
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	if n == 0 {
		return nil, ErrNoSessions
	}
	uuids, err := query.KeepsEventUUIDs(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	return &tracer{ctx: ctx, db: db, opts: opts, cache: map[string]*Session{}, uuids: uuids}, nil
}

// notFound says what was searched for an argument that matched nothing.
func (t *tracer) notFound(arg, kind string) error {
	e := &NotFoundError{Argument: arg, Kind: kind}
	switch kind {
	case KindAccessKey:
		e.Why = "no session has this access key id: it is not used or issued in the evidence"
	case KindARN:
		e.Why = "no session acts as this ARN, is of this role or has it as origin"
	default:
		var n int64
		cond, args := query.EventIDIn("", t.uuids, []string{arg})
		if err := t.db.QueryRowContext(t.ctx, `SELECT count(*) FROM event_rows WHERE `+cond, args...).Scan(&n); err != nil {
			return err
		}
		e.Why = "no event has this id (an argument that is not an ARN or an AKIA/ASIA access key id is read as an event id)"
		if n > 0 {
			e.Why = "the event was made with no credential tied to a session (a failed sign-in, an AWS service event) and issued none"
		}
	}
	return e
}

// sessionIDs are the session_ids of the rows matching cond, oldest first.
func (t *tracer) sessionIDs(cond string, args ...any) ([]string, error) {
	rows, err := t.db.QueryContext(t.ctx, `SELECT session_id FROM sessions WHERE `+cond+` ORDER BY first_seen NULLS LAST, session_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// eventSessions maps each event id to the sessions that made it (its
// access key id, or its ARN when the key is not logged: the sessions
// table's session_id) and those it issued.
func (t *tracer) eventSessions(eventIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(eventIDs) == 0 {
		return out, nil
	}
	cond, args := query.EventIDIn("e", t.uuids, eventIDs)
	rows, err := t.db.QueryContext(t.ctx, `
SELECT e.event_id, s.session_id, s.first_seen FROM event_rows e JOIN sessions s ON s.session_id = coalesce(e.access_key_id, e.user_arn)
WHERE `+cond+`
UNION
SELECT issue_event_id, session_id, first_seen FROM sessions WHERE issue_event_id IN (SELECT unnest(?::VARCHAR[]))
ORDER BY 3 NULLS LAST, 2`, append(args, eventIDs)...)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ev, id string
		var first sql.NullTime
		if err := rows.Scan(&ev, &id, &first); err != nil {
			return nil, err
		}
		if !slices.Contains(out[ev], id) {
			out[ev] = append(out[ev], id)
		}
	}
	return out, rows.Err()
}

// trace walks, summarises and lists each of the sessions ids (the first
// MaxSessions of them, duplicates dropped).
func (t *tracer) trace(arg, kind string, ids []string, findings []FindingRef) (*Trace, error) {
	var uniq []string
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	order := "oldest-first"
	if t.opts.Newest {
		order = "newest-first"
	}
	tr := &Trace{Argument: arg, Kind: kind, Findings: findings, Sessions: []SessionTrace{}, SessionsTotal: len(uniq),
		TimelineOrder: order, TimelineLimit: t.opts.Timeline}
	if tr.Findings == nil {
		tr.Findings = []FindingRef{}
	}
	uniq = uniq[:min(len(uniq), MaxSessions)]
	if err := t.prefetch(uniq); err != nil {
		return nil, err
	}
	issued, truncated, err := t.issued(uniq)
	if err != nil {
		return nil, err
	}
	for _, id := range uniq {
		s, err := t.session(id)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue // named by an event, gone from the table: cannot happen in one snapshot
		}
		st := SessionTrace{Session: *s, Timeline: []Event{}}
		if st.Chain, st.ChainEnd, err = t.chain(s); err != nil {
			return nil, err
		}
		st.Issued, st.IssuedTruncated = issued[id], truncated[id]
		tr.Sessions = append(tr.Sessions, st)
	}
	if err := t.summarise(tr.Sessions); err != nil {
		return nil, err
	}
	if err := t.timelines(tr.Sessions); err != nil {
		return nil, err
	}
	return tr, nil
}

// sessionColumns read a sessions row into a Session (scanSession).
const sessionColumns = `session_id, access_key_id, credential_kind, issued_by, issue_event_id, issue_time, issue_source_ip, link,
  parent_session_id, principal_arn, principal_type, role_arn, session_name, source_identity, account_id, origin_type, origin,
  origin_session_id, origin_event_id, issue_user_agent, coalesce(depth, 0), mfa_authenticated, first_seen, last_seen, coalesce(events, 0),
  coalesce(errors, 0), coalesce(accounts, [])[1:20], coalesce(len(accounts), 0), coalesce(source_ips, [])[1:20],
  coalesce(len(source_ips), 0), coalesce(user_agents, [])[1:20], coalesce(len(user_agents), 0)`

func scanSession(rows *sql.Rows) (*Session, error) {
	var s Session
	var str [19]sql.NullString
	var issue, first, last sql.NullTime
	var mfa sql.NullBool
	var accounts, ips, agents any
	err := rows.Scan(&str[0], &str[1], &str[2], &str[3], &str[4], &issue, &str[5], &str[6], &str[7], &str[8], &str[9], &str[10],
		&str[11], &str[12], &str[13], &str[14], &str[15], &str[16], &str[17], &str[18], &s.Depth, &mfa, &first, &last, &s.Events, &s.Errors,
		&accounts, &s.AccountsTotal, &ips, &s.SourceIPsTotal, &agents, &s.UserAgentsTotal)
	if err != nil {
		return nil, fmt.Errorf("trace: read sessions: %w", err)
	}
	s.SessionID, s.AccessKeyID, s.CredentialKind, s.IssuedBy, s.IssueEventID = str[0].String, str[1].String, str[2].String, str[3].String, str[4].String
	s.IssueSourceIP, s.Link, s.ParentSessionID, s.PrincipalARN, s.PrincipalType = str[5].String, str[6].String, str[7].String, str[8].String, str[9].String
	s.RoleARN, s.SessionName, s.SourceIdentity, s.AccountID, s.OriginType = str[10].String, str[11].String, str[12].String, str[13].String, str[14].String
	s.Origin, s.OriginSessionID, s.OriginEventID, s.IssueUserAgent = str[15].String, str[16].String, str[17].String, str[18].String
	s.IssueTime, s.FirstSeen, s.LastSeen = nullTime(issue), nullTime(first), nullTime(last)
	if mfa.Valid {
		s.MFAAuthenticated = &mfa.Bool
	}
	s.Accounts, s.SourceIPs, s.UserAgents = strings1(accounts), strings1(ips), strings1(agents)
	return &s, nil
}

// session reads one sessions row, or nil when there is none.
func (t *tracer) session(id string) (*Session, error) {
	if s, ok := t.cache[id]; ok {
		return s, nil
	}
	rows, err := t.db.QueryContext(t.ctx, `SELECT `+sessionColumns+` FROM sessions WHERE session_id = ? LIMIT 1`, id)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	defer rows.Close()
	var s *Session
	if rows.Next() {
		if s, err = scanSession(rows); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	t.cache[id] = s
	return s, nil
}

func hopOf(s *Session) Hop {
	return Hop{SessionID: s.SessionID, IssuedBy: s.IssuedBy, Link: s.Link, IssueEventID: s.IssueEventID, IssueTime: s.IssueTime,
		ParentSessionID: s.ParentSessionID, PrincipalARN: s.PrincipalARN, AccountID: s.AccountID, Events: s.Events}
}

// chain walks from s up its parents to the origin, at most MaxDepth hops
// and never through a session twice, and returns it origin first.
func (t *tracer) chain(s *Session) ([]Hop, string, error) {
	hops := []Hop{hopOf(s)}
	seen := map[string]bool{s.SessionID: true}
	end := EndOrigin
	for cur := s; cur.ParentSessionID != ""; {
		if len(hops) > MaxDepth {
			end = EndDepthLimit
			break
		}
		if seen[cur.ParentSessionID] {
			end = EndLoop
			break
		}
		seen[cur.ParentSessionID] = true
		p, err := t.session(cur.ParentSessionID)
		if err != nil {
			return nil, "", err
		}
		if p == nil {
			hops = append(hops, Hop{SessionID: cur.ParentSessionID, Missing: true})
			end = EndParentMissing
			break
		}
		hops = append(hops, hopOf(p))
		cur = p
	}
	slices.Reverse(hops)
	return hops, end, nil
}

// issued lists, for each of roots, the sessions it issued, and theirs,
// breadth first: at most MaxIssued, MaxDepth levels, each session once.
// One query per level serves every root.
func (t *tracer) issued(roots []string) (map[string][]Hop, map[string]bool, error) {
	type walk struct {
		seen  map[string]bool
		level []string
	}
	out, truncated := map[string][]Hop{}, map[string]bool{}
	walks := map[string]*walk{}
	for _, r := range roots {
		walks[r] = &walk{seen: map[string]bool{r: true}, level: []string{r}}
		out[r] = []Hop{}
	}
	for depth := 0; ; depth++ {
		var parents []string
		for r, w := range walks {
			if len(w.level) == 0 {
				continue
			}
			if depth == MaxDepth || len(out[r]) == MaxIssued {
				truncated[r] = true
				w.level = nil
				continue
			}
			parents = append(parents, w.level...)
		}
		if len(parents) == 0 {
			return out, truncated, nil
		}
		children, err := t.children(parents)
		if err != nil {
			return nil, nil, err
		}
		for r, w := range walks {
			var next []*Session
			for _, p := range w.level {
				next = append(next, children[p]...)
			}
			slices.SortStableFunc(next, func(a, b *Session) int { return compareIssue(a, b) })
			w.level = nil
			for _, c := range next {
				if w.seen[c.SessionID] {
					continue
				}
				if len(out[r]) == MaxIssued {
					truncated[r] = true
					w.level = nil
					break
				}
				w.seen[c.SessionID] = true
				out[r] = append(out[r], hopOf(c))
				w.level = append(w.level, c.SessionID)
			}
		}
	}
}

// compareIssue orders sessions by issue time (unknown last), then id.
func compareIssue(a, b *Session) int {
	switch {
	case a.IssueTime == nil && b.IssueTime != nil:
		return 1
	case a.IssueTime != nil && b.IssueTime == nil:
		return -1
	case a.IssueTime != nil && !a.IssueTime.Equal(*b.IssueTime):
		return a.IssueTime.Compare(*b.IssueTime)
	}
	return strings.Compare(a.SessionID, b.SessionID)
}

// children reads the sessions each of parents issued, at most MaxIssued+1
// each (one more tells there are more).
func (t *tracer) children(parents []string) (map[string][]*Session, error) {
	rows, err := t.db.QueryContext(t.ctx, `SELECT `+sessionColumns+` FROM sessions
WHERE parent_session_id IN (SELECT unnest(?::VARCHAR[]))
QUALIFY row_number() OVER (PARTITION BY parent_session_id ORDER BY issue_time NULLS LAST, session_id) <= ?`, parents, MaxIssued+1)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	defer rows.Close()
	out := map[string][]*Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		t.cache[s.SessionID] = s
		out[s.ParentSessionID] = append(out[s.ParentSessionID], s)
	}
	return out, rows.Err()
}

// prefetch reads the rows of ids into the cache in one query.
func (t *tracer) prefetch(ids []string) error {
	rows, err := t.db.QueryContext(t.ctx, `SELECT `+sessionColumns+` FROM sessions WHERE session_id IN (SELECT unnest(?::VARCHAR[]))`, ids)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return err
		}
		t.cache[s.SessionID] = s
	}
	return rows.Err()
}

// eventsOf is a query of the events of the sessions, with the session id
// as sid. Each id is compared by equality on the column it is (access key
// ids on access_key_id; ARNs, for sessions whose key is not logged, on
// user_arn), as a list of parameters DuckDB pushes into the scan.
func eventsOf(ids []string) (string, []any) {
	var keys, arns []any
	for _, id := range ids {
		if strings.HasPrefix(id, "arn:") {
			arns = append(arns, id)
		} else {
			keys = append(keys, id)
		}
	}
	const cols = `event_time, event_source, event_name, aws_region, recipient_account_id, source_ip, user_agent, error_code, event_id`
	var parts []string
	if len(keys) > 0 {
		parts = append(parts, `SELECT access_key_id AS sid, `+cols+` FROM event_rows WHERE access_key_id IN (`+marks(len(keys))+`)`)
	}
	if len(arns) > 0 {
		parts = append(parts, `SELECT user_arn AS sid, `+cols+` FROM event_rows WHERE access_key_id IS NULL AND user_arn IN (`+marks(len(arns))+`)`)
	}
	return strings.Join(parts, "\nUNION ALL\n"), append(keys, arns...)
}

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func idsOf(sessions []SessionTrace) []string {
	var out []string
	for _, s := range sessions {
		out = append(out, s.SessionID)
	}
	return out
}

// summarise counts each session's events by service, event name and error
// code, in one scan.
func (t *tracer) summarise(sessions []SessionTrace) error {
	if len(sessions) == 0 {
		return nil
	}
	mine, args := eventsOf(idsOf(sessions))
	rows, err := t.db.QueryContext(t.ctx, `WITH mine AS (`+mine+`),
counted AS (
  SELECT sid,
    CASE WHEN GROUPING(event_source) = 0 THEN 'service' WHEN GROUPING(event_name) = 0 THEN 'event' ELSE 'error' END AS kind,
    CASE WHEN GROUPING(event_source) = 0 THEN event_source WHEN GROUPING(event_name) = 0 THEN event_name ELSE error_code END AS name,
    count(*) AS n, count(error_code) AS errs
  FROM mine GROUP BY GROUPING SETS ((sid, event_source), (sid, event_name), (sid, error_code)))
SELECT sid, kind, coalesce(name, ''), n, errs, count(*) OVER (PARTITION BY sid, kind) AS names
FROM counted WHERE kind <> 'error' OR name IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY sid, kind ORDER BY n DESC, name NULLS LAST) <= `+fmt.Sprint(maxListed)+`
ORDER BY sid, kind, n DESC, name NULLS LAST`, args...)
	if err != nil {
		return fmt.Errorf("trace: summary: %w", err)
	}
	defer rows.Close()
	byID := index(sessions)
	for rows.Next() {
		var sid, kind string
		var c Count
		var names int64
		if err := rows.Scan(&sid, &kind, &c.Name, &c.Events, &c.Errors, &names); err != nil {
			return err
		}
		s := byID[sid]
		if s == nil {
			continue
		}
		switch kind {
		case "service":
			s.Summary.Services, s.Summary.ServicesTotal = append(s.Summary.Services, c), names
		case "event":
			s.Summary.EventNames, s.Summary.EventNamesTotal = append(s.Summary.EventNames, c), names
		default:
			s.Summary.ErrorCodes, s.Summary.ErrorCodesTotal = append(s.Summary.ErrorCodes, c), names
		}
	}
	for i := range sessions {
		sm := &sessions[i].Summary
		sm.Services, sm.EventNames, sm.ErrorCodes = nonNil(sm.Services), nonNil(sm.EventNames), nonNil(sm.ErrorCodes)
	}
	return rows.Err()
}

// timelines reads each session's first (or last) opts.Timeline events.
func (t *tracer) timelines(sessions []SessionTrace) error {
	if len(sessions) == 0 || t.opts.Timeline <= 0 {
		return nil
	}
	dir := "ASC"
	if t.opts.Newest {
		dir = "DESC"
	}
	mine, args := eventsOf(idsOf(sessions))
	rows, err := t.db.QueryContext(t.ctx, `WITH mine AS (`+mine+`)
SELECT sid, event_time, event_source, event_name, aws_region, recipient_account_id, source_ip, user_agent, error_code, event_id
FROM mine
QUALIFY row_number() OVER (PARTITION BY sid ORDER BY event_time `+dir+` NULLS LAST, event_id) <= `+fmt.Sprint(t.opts.Timeline)+`
ORDER BY sid, event_time `+dir+` NULLS LAST, event_id`, args...)
	if err != nil {
		return fmt.Errorf("trace: timeline: %w", err)
	}
	defer rows.Close()
	byID := index(sessions)
	for rows.Next() {
		var sid string
		var tm sql.NullTime
		var s [8]sql.NullString
		if err := rows.Scan(&sid, &tm, &s[0], &s[1], &s[2], &s[3], &s[4], &s[5], &s[6], &s[7]); err != nil {
			return err
		}
		if st := byID[sid]; st != nil {
			st.Timeline = append(st.Timeline, Event{Time: nullTime(tm), EventSource: s[0].String, EventName: s[1].String, Region: s[2].String,
				Account: s[3].String, SourceIP: s[4].String, UserAgent: s[5].String, ErrorCode: s[6].String, EventID: s[7].String})
		}
	}
	return rows.Err()
}

func index(sessions []SessionTrace) map[string]*SessionTrace {
	m := map[string]*SessionTrace{}
	for i := range sessions {
		m[sessions[i].SessionID] = &sessions[i]
	}
	return m
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// strings1 reads a VARCHAR[] value.
func strings1(v any) []string {
	out := []string{}
	l, _ := v.([]any)
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
