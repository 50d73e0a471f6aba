package query

// The runner: every rule's SELECT narrowed to the time range asked for,
// checked by the read-only guard, run, and its rows read as findings.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// DetectOptions narrow a detection run.
type DetectOptions struct {
	Since time.Time // only events at or after Since (zero: no limit)
	Until time.Time // only events before Until (zero: no limit)
	// Params overrides parameters: rule id → parameter name → value.
	Params map[string]map[string]string
	// Events, when set, is a SELECT of the events view's columns that the
	// window reads instead of the whole events view: Store.WindowEvents,
	// which skips the files of a Parquet dataset's other days. It must
	// hold every event of [Since, Until); the window's bounds still apply.
	Events string
	// EventsHolding, when set, is what Store.Window sets it to: the events
	// (as Events) of only the files holding an event that each of conds
	// is true of ("" for the files Events reads). stageShared stages a
	// shared relation with a Holds condition from those files only.
	EventsHolding func(ctx context.Context, conn *sql.Conn, conds []string) ([]string, error)
	// Typed, when set, is what Store.Window sets it to: the events (as
	// Events, of every day) from a copy of their columns but raw, which
	// each rule reads first (see TypedEvents), and the events when it
	// reads raw.
	Typed string
}

// Detect runs rules over the events table of db and returns their findings,
// most severe first, then by time.
//
// A rule that cannot run (the read-only guard or DuckDB refuses its SQL, or
// it returns the wrong columns) does not stop the others: their findings
// come back with a RuleErrors naming each rule that failed and why. A
// failure of the engine itself (I/O, memory, a corrupt database), a
// cancelled ctx, or parameters that no rule in the set takes stop the run:
// no findings, and that error.
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
	var queries []RuleQuery
	var failed RuleErrors
	for i := range rules {
		q, err := rules[i].Render(opts.Params[rules[i].ID])
		if err != nil {
			failed = append(failed, ruleFailed(rules[i:i+1], rules[i].Source, err))
			continue
		}
		queries = append(queries, RuleQuery{Rules: rules[i : i+1], SQL: q})
	}
	found, err := RunQueries(ctx, db, queries, opts)
	var more RuleErrors
	if err != nil && !errors.As(err, &more) {
		return nil, err
	}
	if failed = append(failed, more...); len(failed) > 0 {
		return found, failed
	}
	return found, nil
}

// RuleQuery is one SELECT for the runner and the rules whose findings it
// returns. With one rule, every row is a finding of that rule. With several
// (a rule language that tests many rules in one scan of the events, as
// Sigma does), the SELECT also returns rule_id, the id of each row's rule.
// The SQL rules run through RunQueries; the Sigma rules (package sigma)
// run their own queries, through the same read-only guard (Query), and
// read their rows with ReadFinding, so the finding columns are the same.
type RuleQuery struct {
	Rules  []Rule // id, title and severity of the findings; SQL and Params are not used
	SQL    string // a SELECT over the events table, parameters rendered
	Source string // the file named in errors; Rules[0].Source when empty
}

// RunQueries runs each query over the events of db, narrowed as opts says,
// and returns the findings sorted with SortFindings. Failures are handled as
// Detect does: a query that cannot run is skipped and named in the
// RuleErrors returned with the other findings; an engine failure or a
// cancelled ctx stops the run. opts.Params is not used: render first.
func RunQueries(ctx context.Context, db *sql.DB, queries []RuleQuery, opts DetectOptions) ([]Finding, error) {
	// One connection for the run: the staged shared relations are
	// temporary tables, which only the connection that made it sees.
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	staged, err := stageShared(ctx, conn, queries, opts)
	// Dropped even when ctx is done: the connection goes back to the pool.
	defer staged.drop(context.WithoutCancel(ctx), conn)
	if err != nil {
		return nil, err
	}
	var all []Finding
	var failed RuleErrors
	for _, q := range queries {
		found, err := runRule(ctx, conn, q, opts, staged)
		if err == nil {
			all = append(all, found...)
			continue
		}
		re := ruleFailed(q.Rules, q.Source, err)
		if ctx.Err() != nil || IsEngineError(err) {
			return nil, re
		}
		failed = append(failed, re)
	}
	SortFindings(all)
	if len(failed) > 0 {
		return all, failed
	}
	return all, nil
}

// runRule runs q over opts.Typed when set, and over the events when q
// reads raw (or opts.Typed is not set): see TypedFirst.
func runRule(ctx context.Context, conn *sql.Conn, q RuleQuery, opts DetectOptions, staged staging) ([]Finding, error) {
	return TypedFirst(opts, func(events string) ([]Finding, error) {
		return runQuery(ctx, conn, q, narrowFrom(q.SQL, opts, staged, events))
	})
}

// RuleErrors are the rules that could not be loaded or run; the others
// were. errors.As finds each *RuleError in it.
type RuleErrors []*RuleError

func (e RuleErrors) Error() string {
	lines := make([]string, len(e))
	for i, re := range e {
		lines[i] = re.Error()
	}
	return strings.Join(lines, "\n")
}

func (e RuleErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, re := range e {
		out[i] = re
	}
	return out
}

// ruleFailed names the rules of a query that failed, and the file.
func ruleFailed(rules []Rule, source string, err error) *RuleError {
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	if source == "" && len(rules) > 0 {
		source = rules[0].Source
	}
	what := "rule " + strings.Join(ids, ", ")
	if len(ids) != 1 {
		what = fmt.Sprintf("%d rules (%s)", len(ids), strings.Join(ids, ", "))
	}
	return &RuleError{File: source, Err: fmt.Errorf("%s: %w", what, err)}
}

// Query returns the statement Detect runs for r: the rendered rule, with
// the events table narrowed to [since, until) when either is set.
func (r *Rule) Query(opts DetectOptions) (string, error) {
	q, err := r.Render(opts.Params[r.ID])
	if err != nil {
		return "", err
	}
	return narrow(q, opts), nil
}

// narrow wraps a rule's SELECT so that the events table it reads holds only
// the events in [since, until), and the shared relations it reads
// (sharedRelations) are there.
func narrow(q string, opts DetectOptions) string { return narrowWith(q, opts, nil) }

// narrowWith is narrow, with the shared relations that staged names read
// from their tables (see stageShared).
func narrowWith(q string, opts DetectOptions, staged staging) string {
	return narrowFrom(q, opts, staged, "")
}

// narrowFrom is narrowWith, reading the events from events (a SELECT of
// the events view's columns) instead of opts.Events when it is set, with a
// window or without.
func narrowFrom(q string, opts DetectOptions, staged staging, events string) string {
	if events != "" {
		opts.Events = events
	}
	var conds []string
	if !opts.Since.IsZero() {
		conds = append(conds, "event_time >= "+timestampLiteral(opts.Since))
	}
	if !opts.Until.IsZero() {
		conds = append(conds, "event_time < "+timestampLiteral(opts.Until))
	}
	var ctes []string
	if len(conds) > 0 || events != "" {
		// The CTE shadows the events table inside the rule; NOT MATERIALIZED
		// keeps it a filter pushed into each scan rather than a copy.
		where := ""
		if len(conds) > 0 {
			where = " WHERE " + strings.Join(conds, " AND ")
		}
		ctes = append(ctes, "events AS NOT MATERIALIZED (SELECT * FROM "+EventsFrom(opts.Events, "main.events")+" AS window_events"+where+")")
	}
	ctes = append(ctes, sharedCTEs(q, staged)...)
	if len(ctes) == 0 {
		return q
	}
	return "WITH " + strings.Join(ctes, ",\n") + "\nSELECT * FROM (\n" + q + "\n)"
}

// EventsFrom is what a window's events are read from: events (a SELECT
// from Store.WindowEvents) when set, else table.
func EventsFrom(events, table string) string {
	if events == "" {
		return table
	}
	return "(" + events + ")"
}

// WithWindowEvents makes the events table q reads opts.Events, when set:
// for queries that apply the window's bounds themselves (Sigma's).
func WithWindowEvents(q string, opts DetectOptions) string {
	if opts.Events == "" {
		return q
	}
	return "WITH events AS NOT MATERIALIZED (" + opts.Events + ")\nSELECT * FROM (\n" + q + "\n)"
}

// stripComments drops comments and the text of string literals, so that a
// rule that only mentions a name in its description or in a string (a
// LIKE '%--%' cut the line there) does not pull it in, and one that reads
// it after such a string does. Quoted identifiers stay: "signin_events"
// names the table. SQL it cannot scan (an unclosed quote, which DuckDB
// refuses anyway) loses its -- comments only.
func stripComments(q string) string {
	var b strings.Builder
	err := scanSQL(q, func(t sqlToken) error {
		switch {
		case t.kind != tokQuoted, t.text[0] == '"':
			b.WriteString(t.text)
		case t.text[0] == '-':
			// The comment's line end is the next token's.
		case t.text[0] == '/':
			b.WriteByte(' ')
		default:
			b.WriteString("''")
		}
		return nil
	})
	if err == nil {
		return b.String()
	}
	b.Reset()
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

// runQuery runs one query, text (q.SQL narrowed), and reads its rows as
// findings; errors do not name the rule yet (RunQueries does).
func runQuery(ctx context.Context, conn *sql.Conn, q RuleQuery, text string) ([]Finding, error) {
	if len(q.Rules) == 0 {
		return nil, errors.New("a query with no rule")
	}
	byID := map[string]*Rule{}
	for i := range q.Rules {
		byID[q.Rules[i].ID] = &q.Rules[i]
	}
	rows, err := queryOn(ctx, conn, text)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, c := range cols {
		c = strings.ToLower(c)
		if !slices.ContainsFunc(FindingColumns, func(fc Column) bool { return fc.Name == c }) && c != "rule_id" {
			return nil, fmt.Errorf("the SELECT returns an unknown column %q; a rule returns exactly: %s", cols[i], findingColumnNames())
		}
		idx[c] = i
	}
	for _, fc := range FindingColumns {
		if _, ok := idx[fc.Name]; !ok && fc.Name != "details" && fc.Name != "severity" {
			return nil, fmt.Errorf("the SELECT has no %q column; a rule returns: %s", fc.Name, findingColumnNames())
		}
	}
	if _, ok := idx["rule_id"]; !ok && len(q.Rules) > 1 {
		return nil, errors.New("a query for several rules returns rule_id, the rule of each row")
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []Finding
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		get := func(name string) any {
			if i, ok := idx[name]; ok {
				return vals[i]
			}
			return nil
		}
		r := &q.Rules[0]
		if _, ok := idx["rule_id"]; ok {
			id := asString(get("rule_id"))
			if r = byID[id]; r == nil {
				return nil, fmt.Errorf("rule_id %q is not a rule of this query", id)
			}
		}
		f, err := ReadFinding(r, get)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// ReadFinding makes one row of rule r, read through get, a finding: the
// one reading of FindingColumns that every rule language shares.
func ReadFinding(r *Rule, get func(column string) any) (Finding, error) {
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
	var err error
	if f.FirstSeen, err = asTime(get("first_seen")); err != nil {
		return f, fmt.Errorf("first_seen: %w", err)
	}
	if f.LastSeen, err = asTime(get("last_seen")); err != nil {
		return f, fmt.Errorf("last_seen: %w", err)
	}
	if f.Count, err = asInt(get("count")); err != nil {
		return f, fmt.Errorf("count: %w", err)
	}
	if f.Count == 0 {
		f.Count = int64(len(f.EventIDs))
	}
	if len(f.EventIDs) > MaxFindingEventIDs {
		// The first ones, in the rule's order (time, for the built-in
		// rules); count keeps the whole number.
		f.EventIDs = slices.Clip(f.EventIDs[:MaxFindingEventIDs])
	}
	if s := asString(get("severity")); s != "" {
		if f.Severity, err = ParseSeverity(s); err != nil {
			return f, fmt.Errorf("severity column: %w", err)
		}
		// `rules` lists the range from the header: findings keep to it.
		if lo, hi := r.SeverityRange(); f.Severity.Rank() < lo.Rank() || f.Severity.Rank() > hi.Rank() {
			return f, fmt.Errorf("severity column: %s is outside the rule's %s to %s (the header's severity, up to its escalates_to if any)", f.Severity, lo, hi)
		}
	}
	return f, nil
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
