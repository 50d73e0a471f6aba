package query

// The runner: every rule's SELECT narrowed to the time range asked for,
// checked by the read-only guard, run, and its rows read as findings.

import (
	"context"
	"database/sql"
	_ "embed" // signin_attempts.sql
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"
)

// signinAttemptsSQL classifies every sign-in attempt; rules that read
// signin_attempts get it as a CTE over the events they see.
//
//go:embed detections/shared/signin_attempts.sql
var signinAttemptsSQL string

var readsSigninAttempts = regexp.MustCompile(`(?i)\bsignin_attempts\b`)

// SigninAttemptsSQL is the query behind signin_attempts, which rules may
// read as a table.
func SigninAttemptsSQL() string { return signinAttemptsSQL }

// ReadsSigninAttempts reports whether the rule's SQL reads signin_attempts.
func (r *Rule) ReadsSigninAttempts() bool {
	return readsSigninAttempts.MatchString(stripComments(r.SQL))
}

// DetectOptions narrow a detection run.
type DetectOptions struct {
	Since time.Time // only events at or after Since (zero: no limit)
	Until time.Time // only events before Until (zero: no limit)
	// Params overrides parameters: rule id → parameter name → value.
	Params map[string]map[string]string
}

// Detect runs rules over the events table of db and returns their findings,
// most severe first, then by time. A rule that fails stops the run with a
// RuleError naming it.
func Detect(ctx context.Context, db *sql.DB, rules []Rule, opts DetectOptions) ([]Finding, error) {
	for id, vals := range opts.Params {
		i := slices.IndexFunc(rules, func(r Rule) bool { return r.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("parameters given for rule %q, which is not in the rule set", id)
		}
		if err := rules[i].CheckParams(vals); err != nil {
			return nil, err
		}
	}
	// Every rule passes the read-only guard before any runs, so a hostile
	// rule file stops the run before it starts.
	for i := range rules {
		q, err := rules[i].Query(opts)
		if err == nil {
			err = CheckReadOnly(ctx, db, q)
		}
		if err != nil {
			return nil, &RuleError{File: rules[i].Source, Err: fmt.Errorf("rule %s: %w", rules[i].ID, err)}
		}
	}
	var all []Finding
	for i := range rules {
		found, err := runRule(ctx, db, &rules[i], opts)
		if err != nil {
			return nil, err
		}
		all = append(all, found...)
	}
	SortFindings(all)
	return all, nil
}

// Query returns the statement Detect runs for r: the rendered rule, with
// the events table narrowed to [since, until) when either is set.
func (r *Rule) Query(opts DetectOptions) (string, error) {
	q, err := r.Render(opts.Params[r.ID])
	if err != nil {
		return "", err
	}
	var conds []string
	if !opts.Since.IsZero() {
		conds = append(conds, "event_time >= "+timestampLiteral(opts.Since))
	}
	if !opts.Until.IsZero() {
		conds = append(conds, "event_time < "+timestampLiteral(opts.Until))
	}
	var ctes []string
	if len(conds) > 0 {
		// The CTE shadows the events table inside the rule; NOT MATERIALIZED
		// keeps it a filter pushed into each scan rather than a copy.
		ctes = append(ctes, "events AS NOT MATERIALIZED (SELECT * FROM main.events WHERE "+strings.Join(conds, " AND ")+")")
	}
	if readsSigninAttempts.MatchString(stripComments(q)) {
		ctes = append(ctes, "signin_attempts AS (\n"+signinAttemptsSQL+")")
	}
	if len(ctes) == 0 {
		return q, nil
	}
	return "WITH " + strings.Join(ctes, ",\n") + "\nSELECT * FROM (\n" + q + "\n)", nil
}

// stripComments drops -- comments, so a rule that only mentions a name in
// its description does not pull it in.
func stripComments(q string) string {
	var b strings.Builder
	for _, l := range strings.Split(q, "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func timestampLiteral(t time.Time) string {
	return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
}

func runRule(ctx context.Context, db *sql.DB, r *Rule, opts DetectOptions) ([]Finding, error) {
	fail := func(err error) ([]Finding, error) {
		return nil, &RuleError{File: r.Source, Err: fmt.Errorf("rule %s: %w", r.ID, err)}
	}
	q, err := r.Query(opts)
	if err != nil {
		return fail(err)
	}
	rows, err := Query(ctx, db, q)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fail(err)
	}
	idx := map[string]int{}
	for i, c := range cols {
		c = strings.ToLower(c)
		if !slices.ContainsFunc(FindingColumns, func(fc Column) bool { return fc.Name == c }) {
			return fail(fmt.Errorf("the SELECT returns an unknown column %q; a rule returns exactly: %s", cols[i], findingColumnNames()))
		}
		idx[c] = i
	}
	for _, fc := range FindingColumns {
		if _, ok := idx[fc.Name]; !ok && fc.Name != "details" && fc.Name != "severity" {
			return fail(fmt.Errorf("the SELECT has no %q column; a rule returns: %s", fc.Name, findingColumnNames()))
		}
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []Finding
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fail(err)
		}
		get := func(name string) any {
			if i, ok := idx[name]; ok {
				return vals[i]
			}
			return nil
		}
		f := Finding{
			RuleID:     r.ID,
			Title:      r.Title,
			Severity:   r.Severity,
			Actor:      asString(get("actor")),
			AccountID:  asString(get("account_id")),
			SourceIPs:  sortedSet(asStrings(get("source_ips"))),
			UserAgents: sortedSet(asStrings(get("user_agents"))),
			EventIDs:   uniq(asStrings(get("event_ids"))),
			Details:    asString(get("details")),
		}
		if f.FirstSeen, err = asTime(get("first_seen")); err != nil {
			return fail(fmt.Errorf("first_seen: %w", err))
		}
		if f.LastSeen, err = asTime(get("last_seen")); err != nil {
			return fail(fmt.Errorf("last_seen: %w", err))
		}
		if f.Count, err = asInt(get("count")); err != nil {
			return fail(fmt.Errorf("count: %w", err))
		}
		if f.Count == 0 {
			f.Count = int64(len(f.EventIDs))
		}
		if s := asString(get("severity")); s != "" {
			if f.Severity, err = ParseSeverity(s); err != nil {
				return fail(fmt.Errorf("severity column: %w", err))
			}
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}

func findingColumnNames() string {
	var names []string
	for _, c := range FindingColumns {
		n := c.Name
		if n == "details" || n == "severity" {
			n += " (optional)"
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// asStrings reads a list column (or a single value) as strings, dropping
// NULLs and empty strings.
func asStrings(v any) []string {
	var out []string
	add := func(x any) {
		if s := asString(x); s != "" {
			out = append(out, s)
		}
	}
	if l, ok := v.([]any); ok {
		for _, x := range l {
			add(x)
		}
	} else {
		add(v)
	}
	return out
}

func sortedSet(s []string) []string {
	s = append([]string{}, s...)
	slices.Sort(s)
	return slices.Compact(s)
}

// uniq drops repeats, keeping the first of each.
func uniq(s []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func asTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("want a TIMESTAMPTZ, got %T", v)
}

func asInt(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint64:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case *big.Int:
		return x.Int64(), nil
	case float64:
		return int64(x), nil
	}
	return 0, fmt.Errorf("want an integer, got %T", v)
}
