package reports

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/trailsift/trailsift/query"
)

// SigninRow summarises one principal's sign-ins: the responder's first
// question, "who signed in, how, and from where".
//
// A console sign-in is one ConsoleLogin event. An IAM Identity Center
// sign-in is one AuthWorkflowID: it succeeded when its UserAuthentication
// step did (or, with no such step logged, when no step failed), used MFA
// when a TOTP or WebAuthn verification succeeded, and each failed TOTP or
// WebAuthn verification is an MFA failure. For a console sign-in, MFA
// failures are failed logins with MFAUsed=Yes (the password was right).
// Federated console sign-ins (roles, SAML, SSO) log MFAUsed=No because MFA
// happens at the identity provider.
type SigninRow struct {
	Actor, Kind, UserType, Account string
	Successes, Failures            int64
	WithMFA, WithoutMFA            int64 // successes with and without MFA
	MFAFailures                    int64
	IPs, Agents                    int64 // distinct source IPs and user agents
	First, Last                    time.Time
}

// SigninTotals adds up every principal's sign-ins, for the outcomes chart.
type SigninTotals struct {
	Principals                       int64
	WithMFA, WithoutMFA              int64
	Failures, MFAFailures            int64
	FederatedSuccesses, IdCSuccesses int64
}

// signinAttempts has one row per sign-in attempt, per the rules above.
// The sign-ins of the window are read once (signin_rows): every CTE after
// it reads them from memory, not the events again (on a Parquet dataset
// of a bucket's 1,440 partitions each read of the events cost a third of
// a second). The window's condition is %[1]s.
const signinAttempts = `signin_rows AS MATERIALIZED (
  SELECT * FROM signins WHERE %[1]s),
attempts AS (
  SELECT coalesce(actor, '?') AS actor, kind, coalesce(user_type, '') AS user_type, coalesce(account_id, '') AS account_id,
    result = 'Success' AS ok, coalesce(mfa_used, '') = 'Yes' AS mfa,
    CASE WHEN result = 'Failure' AND mfa_used = 'Yes' THEN 1 ELSE 0 END AS mfa_failures,
    event_time AS t0, event_time AS t1
  FROM signin_rows WHERE step = 'ConsoleLogin'
  UNION ALL
  SELECT coalesce(any_value(actor), '?'), 'identity-center', coalesce(any_value(user_type), ''), coalesce(any_value(account_id), ''),
    bool_or(step = 'UserAuthentication' AND result = 'Success')
      OR (NOT bool_or(step = 'UserAuthentication') AND NOT bool_or(result = 'Failure') AND bool_or(step = 'CredentialVerification')),
    bool_or(step = 'CredentialVerification' AND result = 'Success' AND (credential_type LIKE '%%TOTP%%' OR credential_type LIKE '%%WEBAUTHN%%')),
    count(*) FILTER (WHERE step = 'CredentialVerification' AND result = 'Failure' AND (credential_type LIKE '%%TOTP%%' OR credential_type LIKE '%%WEBAUTHN%%')),
    min(event_time), max(event_time)
  FROM signin_rows WHERE kind = 'identity-center'
  GROUP BY coalesce(auth_workflow_id, event_id)),
seen AS (
  SELECT coalesce(actor, '?') AS actor, kind, coalesce(account_id, '') AS account_id,
    count(DISTINCT source_ip) AS ips, count(DISTINCT user_agent) AS agents
  FROM signin_rows GROUP BY ALL),
principals AS (
  SELECT a.actor, a.kind, any_value(a.user_type) AS user_type, a.account_id,
    count(*) FILTER (WHERE ok) AS successes, count(*) FILTER (WHERE NOT ok) AS failures,
    count(*) FILTER (WHERE ok AND mfa) AS with_mfa, count(*) FILTER (WHERE ok AND NOT mfa) AS without_mfa,
    sum(mfa_failures)::BIGINT AS mfa_failures, min(t0) AS first, max(t1) AS last
  FROM attempts a GROUP BY a.actor, a.kind, a.account_id)`

// SigninFilter narrows the sign-in summary to a time window.
type SigninFilter struct {
	Since, Until time.Time
	// Events, when set, is a SELECT of the events view's columns that
	// holds every event of the window (query.Store.WindowEvents: a Parquet
	// dataset's parts of the window's days), read instead of the events
	// view; the window's bounds still apply.
	Events string
}

func (f SigninFilter) where() (string, []any) {
	cond, args := "true", []any{}
	if !f.Since.IsZero() {
		cond += " AND event_time >= ?::TIMESTAMPTZ"
		args = append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		cond += " AND event_time < ?::TIMESTAMPTZ"
		args = append(args, f.Until.UTC())
	}
	return cond, args
}

// Signins summarises sign-ins per principal, most failures first, at most
// limit rows (0: all); total is how many principals there are.
func Signins(ctx context.Context, db *sql.DB, f SigninFilter, limit int) (rows []SigninRow, total SigninTotals, err error) {
	cond, args := f.where()
	q := "WITH "
	if f.Events != "" {
		// The signins view would read the whole events view.
		q += "signins AS (" + query.SigninsOver(query.EventsFrom(f.Events, "events")) + "),\n"
	}
	// The totals are window sums over every principal, so that one query
	// (one read of the events) gives them beside the first limit rows.
	q += fmt.Sprintf(signinAttempts, cond) + `
SELECT p.actor, p.kind, p.user_type, p.account_id, successes, failures, with_mfa, without_mfa, mfa_failures,
  coalesce(s.ips, 0), coalesce(s.agents, 0), first, last,
  count(*) OVER (), sum(with_mfa) OVER ()::BIGINT, coalesce(sum(without_mfa) FILTER (WHERE kind = 'iam') OVER (), 0)::BIGINT,
  sum(failures) OVER ()::BIGINT, sum(mfa_failures) OVER ()::BIGINT,
  coalesce(sum(without_mfa) FILTER (WHERE kind = 'federated') OVER (), 0)::BIGINT,
  coalesce(sum(without_mfa) FILTER (WHERE kind = 'identity-center') OVER (), 0)::BIGINT
FROM principals p LEFT JOIN seen s USING (actor, kind, account_id)
ORDER BY failures DESC, mfa_failures DESC, (kind = 'iam' AND without_mfa > 0) DESC, successes DESC, p.actor, p.kind, p.account_id`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	res, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, total, fmt.Errorf("sign-in summary: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var s SigninRow
		var first, last sql.NullTime
		if err := res.Scan(&s.Actor, &s.Kind, &s.UserType, &s.Account, &s.Successes, &s.Failures, &s.WithMFA, &s.WithoutMFA,
			&s.MFAFailures, &s.IPs, &s.Agents, &first, &last,
			&total.Principals, &total.WithMFA, &total.WithoutMFA, &total.Failures, &total.MFAFailures,
			&total.FederatedSuccesses, &total.IdCSuccesses); err != nil {
			return nil, total, err
		}
		s.First, s.Last = first.Time.UTC(), last.Time.UTC()
		rows = append(rows, s)
	}
	return rows, total, res.Err()
}
