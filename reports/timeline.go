package reports

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/trailsift/trailsift/query"
)

// EventRow is one line of a timeline.
type EventRow struct {
	Time           time.Time
	Account        string
	Region         string
	Source         string // eventSource
	Name           string // eventName
	Type           string // eventType
	Actor          string
	UserType       string
	UserName       string
	UserARN        string
	SourceIP       string
	UserAgent      string
	Outcome        string
	ErrorCode      string
	ErrorMessage   string
	MFAUsed        string
	CredentialType string
	EventID        string
	// AuthWorkflowID links the steps of one Identity Center sign-in; Story
	// tells the whole sign-in in words ("password OK → TOTP failed") and
	// Steps counts its events. All three are empty for other events.
	AuthWorkflowID string
	Story          string
	Steps          int64
	// RequestParameters is the event's requestParameters as compact JSON
	// text, when the filter asked for it.
	RequestParameters string
}

// TimelineFilter selects events for a timeline. Empty fields do not
// filter; every value reaches SQL as a parameter, never as SQL text.
type TimelineFilter struct {
	EventIDs   []string // only these events (a finding's)
	Actor      string   // actor or user name
	UserARN    string
	SourceIP   string
	Account    string
	Region     string
	EventNames []string
	ErrorsOnly bool      // only events with an errorCode or a failed sign-in
	Since      time.Time // at or after
	Until      time.Time // before

	// WithRequestParameters also reads each event's requestParameters
	// (parsed from the stored JSON, so slower on big timelines).
	WithRequestParameters bool
	// Events, when set, is a SELECT of the events view's columns holding
	// every event of [Since, Until), read instead of the whole store:
	// query.Store.WindowEvents, the part files of a Parquet dataset's
	// days of the window.
	Events string
}

// eventUUIDs says whether the relation the filter reads keeps eventIDs as
// UUIDs, for where: event_rows of a DuckDB store (query.KeepsEventUUIDs),
// not the events view or a window's SELECT of it.
func (f TimelineFilter) eventUUIDs(ctx context.Context, db *sql.DB) (bool, error) {
	if f.EventIDs == nil || f.Events != "" || f.WithRequestParameters {
		return false, nil
	}
	return query.KeepsEventUUIDs(ctx, db)
}

// where is the filter's WHERE clause and its arguments; uuids: the events
// are read from a relation that keeps eventIDs as UUIDs (eventUUIDs).
func (f TimelineFilter) where(uuids bool) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, vals ...any) {
		where = append(where, cond)
		args = append(args, vals...)
	}
	if f.EventIDs != nil {
		// A semi-join, not list_contains: a finding can hold thousands of ids.
		cond, ids := query.EventIDIn("", uuids, f.EventIDs)
		add(cond, ids...)
	}
	if f.Actor != "" {
		add("(actor = ? OR user_name = ?)", f.Actor, f.Actor)
	}
	if f.UserARN != "" {
		add("user_arn = ?", f.UserARN)
	}
	if f.SourceIP != "" {
		add("source_ip = ?", f.SourceIP)
	}
	if f.Account != "" {
		add("account_id = ?", f.Account)
	}
	if f.Region != "" {
		add("aws_region = ?", f.Region)
	}
	if len(f.EventNames) > 0 {
		add("list_contains(?::VARCHAR[], event_name)", f.EventNames)
	}
	if f.ErrorsOnly {
		add("(error_code IS NOT NULL OR outcome = 'Failure')")
	}
	if !f.Since.IsZero() {
		add("event_time >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("event_time < ?", f.Until.UTC())
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// signinStories tells each Identity Center sign-in (the events sharing an
// AuthWorkflowID) as one line. Challenge steps only say a credential was
// asked for, so the story leaves them out; verifications and the final
// authentication say what happened.
const signinStories = `stories AS (
  SELECT auth_workflow_id AS wf, count(*) AS steps,
    coalesce(string_agg(label, ' → ' ORDER BY event_time, event_id), 'credential asked for') AS story
  FROM (
    SELECT auth_workflow_id, event_time, event_id,
      CASE WHEN event_name = 'CredentialChallenge' THEN NULL
           WHEN event_name = 'UserAuthentication' THEN CASE outcome WHEN 'Success' THEN 'signed in' ELSE 'sign-in failed' END
           ELSE CASE WHEN event_name = 'CredentialVerification'
                     THEN CASE credential_type WHEN 'PASSWORD' THEN 'password' WHEN 'WEBAUTHN' THEN 'WebAuthn'
                          ELSE coalesce(credential_type, 'credential') END
                     ELSE event_name END
                || CASE outcome WHEN 'Success' THEN ' OK' WHEN 'Failure' THEN ' failed' ELSE '' END
      END AS label
    FROM event_rows WHERE auth_workflow_id IS NOT NULL)
  GROUP BY 1)`

// EachEvent calls fn for every event the filter selects, in time order, at
// most limit (0: no limit), streaming: rows are never all in memory.
func EachEvent(ctx context.Context, db *sql.DB, f TimelineFilter, limit int, fn func(EventRow) error) error {
	uuids, err := f.eventUUIDs(ctx, db)
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	where, args := f.where(uuids)
	from, params := query.EventsFrom(f.Events, "event_rows"), "NULL"
	if f.WithRequestParameters {
		from, params = query.EventsFrom(f.Events, "events"), "request_parameters::VARCHAR"
	}
	q := `WITH ` + signinStories + `
SELECT event_time, account_id, aws_region, event_source, event_name, event_type, actor, user_type, user_name, user_arn,
  source_ip, user_agent, outcome, error_code, error_message, mfa_used, credential_type, event_id,
  auth_workflow_id, s.story, ` + params + `, s.steps
FROM ` + from + ` AS e LEFT JOIN stories s ON s.wf = e.auth_workflow_id` + where + `
ORDER BY event_time NULLS LAST, event_id, event_key`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := query.Stream(ctx, db, q, args...)
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t sql.NullTime
		var s [20]sql.NullString
		var steps sql.NullInt64
		ptrs := []any{&t}
		for i := range s {
			ptrs = append(ptrs, &s[i])
		}
		ptrs = append(ptrs, &steps)
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("timeline: %w", err)
		}
		e := EventRow{Account: s[0].String, Region: s[1].String, Source: s[2].String, Name: s[3].String, Type: s[4].String,
			Actor: s[5].String, UserType: s[6].String, UserName: s[7].String, UserARN: s[8].String, SourceIP: s[9].String,
			UserAgent: s[10].String, Outcome: s[11].String, ErrorCode: s[12].String, ErrorMessage: s[13].String,
			MFAUsed: s[14].String, CredentialType: s[15].String, EventID: s[16].String, AuthWorkflowID: s[17].String,
			Story: s[18].String, RequestParameters: s[19].String, Steps: steps.Int64}
		if t.Valid {
			e.Time = t.Time.UTC()
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CountEvents counts the events the filter selects.
func CountEvents(ctx context.Context, db *sql.DB, f TimelineFilter) (int64, error) {
	uuids, err := f.eventUUIDs(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	where, args := f.where(uuids)
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+query.EventsFrom(f.Events, "event_rows")+` AS e`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// EventTime returns the time of the event with this eventID, for a window
// around it. More than one event with the id (different accounts) is an
// error that lists them.
func EventTime(ctx context.Context, db *sql.DB, eventID string) (time.Time, error) {
	uuids, err := query.KeepsEventUUIDs(ctx, db)
	if err != nil {
		return time.Time{}, err
	}
	cond, args := query.EventIDIn("", uuids, []string{eventID})
	rows, err := db.QueryContext(ctx, `SELECT event_time FROM event_rows WHERE `+cond+` AND event_time IS NOT NULL ORDER BY 1 LIMIT 2`, args...)
	if err != nil {
		return time.Time{}, err
	}
	defer rows.Close()
	var times []time.Time
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(&t); err != nil {
			return time.Time{}, err
		}
		times = append(times, t.UTC())
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, err
	}
	switch {
	case len(times) == 0:
		return time.Time{}, ErrNoEvent
	case len(times) > 1 && !times[0].Equal(times[1]):
		return times[0], fmt.Errorf("%w: the first at %s is used", ErrAmbiguousEvent, times[0].Format(time.RFC3339))
	}
	return times[0], nil
}

// Errors EventTime returns.
var (
	ErrNoEvent        = fmt.Errorf("no event with that eventID (and a time) in the store")
	ErrAmbiguousEvent = fmt.Errorf("several events have that eventID at different times")
)

// Message describes an event in one line, as Timesketch shows it: who did
// what, from where, and how it ended.
func (e EventRow) Message() string {
	var b strings.Builder
	b.WriteString(orQ(e.Actor))
	b.WriteString(" ")
	b.WriteString(orQ(e.Name))
	if src := shortSource(e.Source); src != "" {
		fmt.Fprintf(&b, " (%s)", src)
	}
	if e.SourceIP != "" {
		fmt.Fprintf(&b, " from %s", e.SourceIP)
	}
	var parts []string
	if e.Outcome != "" && (e.ErrorCode == "" || e.Outcome != "Failure") {
		parts = append(parts, e.Outcome)
	}
	if d := e.Detail(); d != "" {
		parts = append(parts, d)
	}
	if len(parts) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(parts, ", "))
	}
	return b.String()
}

// Detail says more about how an event ended than its outcome: MFA for
// console sign-ins, the credential, the error code, and the sign-in story
// of an Identity Center step.
func (e EventRow) Detail() string {
	var parts []string
	if e.MFAUsed != "" {
		parts = append(parts, "MFA "+e.MFAUsed)
	}
	if e.CredentialType != "" {
		parts = append(parts, e.CredentialType)
	}
	if e.ErrorCode != "" {
		parts = append(parts, "error "+e.ErrorCode)
	}
	if e.Story != "" {
		parts = append(parts, "sign-in: "+e.Story)
	}
	return strings.Join(parts, ", ")
}

func shortSource(s string) string { return strings.TrimSuffix(s, ".amazonaws.com") }

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
