package sigma

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/trailsift/trailsift/query"
)

// Set is the compiled Sigma rules of a load.
type Set struct {
	rules []*Rule
	// explicit sets were picked by id: every rule in them runs, the
	// inputs of correlations too.
	explicit bool
}

// Report says what a load read: rules compiled, documents that are not
// CloudTrail rules, and rules that could not be compiled, with the reason.
type Report struct {
	Files    int       `json:"files"`
	Compiled int       `json:"compiled"`
	Skipped  int       `json:"skipped_not_cloudtrail"`
	Failed   []Problem `json:"not_compiled"`
}

// Load reads Sigma rule files: each path is a file or a folder, read
// recursively for *.yml and *.yaml. Rules that cannot be compiled are in
// the report, never silently dropped; the error is for paths that cannot
// be read at all.
func Load(paths []string) (*Set, Report, error) {
	var rep Report
	var all []*Rule
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, rep, err
		}
		var files []string
		if !fi.IsDir() {
			files = []string{root}
		} else {
			err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.Type().IsRegular() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				return nil, rep, err
			}
		}
		for _, f := range files {
			data, err := readLimited(f)
			if err != nil {
				return nil, rep, err
			}
			rep.Files++
			rules, problems, skipped := parseFile(f, data)
			all = append(all, rules...)
			rep.Failed = append(rep.Failed, problems...)
			rep.Skipped += skipped
		}
	}
	set, problems := build(all)
	rep.Failed = append(rep.Failed, problems...)
	rep.Compiled = len(set.rules)
	sort.SliceStable(rep.Failed, func(i, j int) bool {
		a, b := rep.Failed[i], rep.Failed[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Doc < b.Doc
	})
	return set, rep, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, maxRuleBytes+1)
	n, err := ioReadFull(f, buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf[:n], nil
}

// Parse compiles the rules of one file's text (for tests and fuzzing).
func Parse(name string, data []byte) (*Set, Report) {
	rules, problems, skipped := parseFile(name, data)
	set, more := build(rules)
	rep := Report{Files: 1, Compiled: len(set.rules), Skipped: skipped, Failed: append(problems, more...)}
	return set, rep
}

// build checks ids are unique and resolves correlation rules.
func build(rules []*Rule) (*Set, []Problem) {
	var problems []Problem
	fail := func(r *Rule, reason string) {
		problems = append(problems, Problem{Source: r.Source, Doc: r.Doc, ID: r.ID, Title: r.Title, Reason: reason})
	}
	byID := map[string]*Rule{}
	var kept []*Rule
	for _, r := range rules {
		if prev, ok := byID[r.ID]; ok {
			fail(r, fmt.Sprintf("id %s is already used by %s", r.ID, prev.Source))
			continue
		}
		byID[r.ID] = r
		kept = append(kept, r)
	}
	byRef := map[string]*Rule{}
	for _, r := range kept {
		if r.correlation == nil {
			byRef[r.ID] = r
			if r.Name != "" {
				byRef[r.Name] = r
			}
		}
	}
	set := &Set{}
	for _, r := range kept {
		if r.correlation != nil {
			if err := r.correlation.resolve(byRef); err != nil {
				fail(r, err.Error())
				continue
			}
			r.Where = compileCorrelation(r, "")
			// As the specification says, the rules a correlation names
			// report nothing on their own unless it says generate: true.
			if !r.correlation.generate {
				for _, b := range r.correlation.base {
					b.quiet = true
				}
			}
		}
		set.rules = append(set.rules, r)
	}
	sortRules(set.rules)
	return set, problems
}

// Rules returns the compiled rules, sorted by id.
func (s *Set) Rules() []*Rule { return s.rules }

// Only is the set of the rules with these ids (a correlation rule keeps
// the rules it names, without running them on their own).
func (s *Set) Only(ids []string) *Set {
	out := &Set{explicit: true}
	for _, r := range s.rules {
		if slices.Contains(ids, r.ID) {
			out.rules = append(out.rules, r)
		}
	}
	return out
}

// Len is the number of compiled rules.
func (s *Set) Len() int { return len(s.rules) }

// Rule finds a rule by id.
func (s *Set) Rule(id string) (*Rule, bool) {
	for _, r := range s.rules {
		if r.ID == id {
			return r, true
		}
	}
	return nil, false
}

// SQL is what the rule runs: for a detection rule, a query of its matches
// over the events view; for a correlation rule, its window query.
func (r *Rule) SQL() string {
	if r.correlation != nil {
		return r.Where
	}
	return "SELECT event_time, event_id, actor, source_ip, event_name\nFROM events\nWHERE " + r.Where + "\nORDER BY event_time"
}

// Detect runs the set over the events of db: every detection rule in one
// query (one scan), each correlation rule in one query of its own.
// Findings come back sorted as query.SortFindings does; rule_id is the
// Sigma id.
func (s *Set) Detect(ctx context.Context, db *sql.DB, opts query.DetectOptions) ([]query.Finding, error) {
	var plain, corr []*Rule
	for _, r := range s.rules {
		switch {
		case r.correlation != nil:
			corr = append(corr, r)
		case !r.quiet || s.explicit:
			plain = append(plain, r)
		}
	}
	filter := timeFilter(opts)
	var found []query.Finding
	if len(plain) > 0 {
		q, err := detectionQuery(plain, filter)
		if err != nil {
			return nil, err
		}
		f, err := runTyped(ctx, db, q, opts, func(idx int64) *Rule { return plain[idx-1] }, nil)
		if err != nil {
			return nil, fmt.Errorf("sigma rules: %w", err)
		}
		found = append(found, f...)
	}
	for _, r := range corr {
		f, err := runTyped(ctx, db, compileCorrelation(r, filter), opts, nil, r)
		if err != nil {
			return nil, fmt.Errorf("sigma rule %s (%s): %w", r.ID, r.Source, err)
		}
		found = append(found, f...)
	}
	query.SortFindings(found)
	return found, nil
}

func timeFilter(opts query.DetectOptions) string {
	var b strings.Builder
	ts := func(t time.Time) string {
		return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
	}
	if !opts.Since.IsZero() {
		b.WriteString(" AND event_time >= " + ts(opts.Since))
	}
	if !opts.Until.IsZero() {
		b.WriteString(" AND event_time < " + ts(opts.Until))
	}
	return b.String()
}

// detectionQuery is the one query of all detection rules. Each field
// expression the rules read is computed once per event. Rules that can only
// match some eventNames are grouped by name, and a hash join gives each
// event its name's group: only that group's rules are tried on the event
// (a CASE tree finds the group in a few comparisons), with the rules no
// eventName narrows, which are tried on every event. In a group the
// eventName is known, so the rules' tests of it are constants. The stored
// event is read and parsed only for the events whose rules read JSON paths.
// The numbers of the rules that matched come out as one text per event,
// unnested, and grouped by rule, actor and account into findings.
func detectionQuery(rules []*Rule, filter string) (string, error) {
	cols := map[string]string{}
	var order []string
	readsJSON := false // whether the rule being compiled reads a JSON path
	name := func(e string) string {
		if rawPathRef.MatchString(e) {
			readsJSON = true
		}
		if c, ok := cols[e]; ok {
			return c
		}
		c := fmt.Sprintf("f%d", len(cols))
		cols[e] = c
		order = append(order, e)
		return c
	}
	eventName := name("lower(event_name)")
	groupOf := map[string]int{}
	var groups [][]string // per group: its rules' tests
	var names []string
	var jsonNames []string // the groups whose rules read JSON paths
	var always []string
	alwaysJSON := false
	for i, r := range rules {
		req, ok := requiredNames(r.detection, r.detection.cond)
		if !ok {
			readsJSON = false
			where, err := compileDetection(r.detection, name)
			if err != nil {
				return "", fmt.Errorf("sigma rule %s: %w", r.ID, err)
			}
			always = append(always, fmt.Sprintf("CASE WHEN %s THEN '%d' END", where, i+1))
			alwaysJSON = alwaysJSON || readsJSON
			continue
		}
		for _, n := range req {
			readsJSON = false
			where, err := compileForName(r.detection, name, n)
			if err != nil {
				return "", fmt.Errorf("sigma rule %s: %w", r.ID, err)
			}
			g, ok := groupOf[n]
			if !ok {
				g = len(groups)
				groupOf[n] = g
				groups = append(groups, nil)
				names = append(names, n)
			}
			if readsJSON && !slices.Contains(jsonNames, n) {
				jsonNames = append(jsonNames, n)
			}
			groups[g] = append(groups[g], fmt.Sprintf("CASE WHEN %s THEN '%d' END", where, i+1))
		}
	}
	// The stored event is parsed once per event for all the JSON paths the
	// rules read, not once per path.
	var paths []string
	for _, e := range order {
		for _, m := range rawPathRef.FindAllStringSubmatch(e, -1) {
			if !slices.Contains(paths, m[1]) {
				paths = append(paths, m[1])
			}
		}
	}
	var proj []string
	for _, e := range order {
		col := cols[e]
		e = rawPathRef.ReplaceAllStringFunc(e, func(ref string) string {
			return fmt.Sprintf("rawx[%d]", slices.Index(paths, rawPathRef.FindStringSubmatch(ref)[1])+1)
		})
		proj = append(proj, e+" AS "+col)
	}
	var b strings.Builder
	const eventCols = `event_time, event_id, actor, account_id, source_ip, user_agent, event_name, event_source, event_type, event_category, event_version,
  aws_region, error_code, error_message, recipient_account_id, user_type, user_arn, principal_id, access_key_id, invoked_by, session_issuer_arn, session_issuer_name`
	raws := "json_extract_string(raw, [" + strings.Join(paths, ", ") + "])"
	// x0 is not materialized: writing every event out and reading it back
	// costs more than it saves. Its projection computes rawx once per event
	// all the same, below the projection of x that reads rawx's items.
	switch {
	case len(paths) == 0:
		fmt.Fprintf(&b, "WITH x0 AS NOT MATERIALIZED (SELECT %s,\n  NULL AS rawx FROM events WHERE true%s),\n", eventCols, filter)
	case alwaysJSON:
		fmt.Fprintf(&b, "WITH x0 AS NOT MATERIALIZED (SELECT %s,\n  %s AS rawx FROM events WHERE true%s),\n", eventCols, raws, filter)
	default:
		// Only the events of the groups that read JSON paths need raw: a
		// filter on event_name alone is pushed into the scan, which then
		// reads raw for the events that pass it only. The other events are
		// a second scan that does not read raw.
		slices.Sort(jsonNames)
		var quoted []string
		for _, n := range jsonNames {
			quoted = append(quoted, sqlString(n))
		}
		in := "lower(event_name) IN (" + strings.Join(quoted, ", ") + ")"
		fmt.Fprintf(&b, "WITH x0 AS NOT MATERIALIZED (SELECT %s,\n  %s AS rawx FROM events WHERE %s%s\n", eventCols, raws, in, filter)
		fmt.Fprintf(&b, "UNION ALL SELECT %s,\n  NULL AS rawx FROM events WHERE NOT coalesce(%s, false)%s),\n", eventCols, in, filter)
	}
	fmt.Fprintf(&b, "x AS (SELECT event_time, event_id, actor, account_id, source_ip, user_agent,\n  %s\n  FROM x0),\n", strings.Join(proj, ",\n  "))
	tests := always
	from := "x"
	if len(groups) > 0 {
		var vals []string
		for g, n := range names {
			vals = append(vals, fmt.Sprintf("(%s, %d)", sqlString(n), g))
		}
		fmt.Fprintf(&b, "d AS (SELECT * FROM (VALUES %s) v(n, g)),\n", strings.Join(vals, ", "))
		from = "x LEFT JOIN d ON x." + eventName + " = d.n"
		tests = append([]string{"nullif(" + groupTree(groups, 0, len(groups)) + ", '')"}, always...)
	}
	// The rules are tested once per event: a filter on rs would be pushed
	// below the projection that computes it and test them all twice. The
	// empty text of an event no rule matches becomes one NULL r instead,
	// dropped after the unnest, where no filter can be pushed further down.
	fmt.Fprintf(&b, "m AS (SELECT event_time, event_id, actor, account_id, source_ip, user_agent, concat_ws(',', %s) AS rs FROM %s),\n", strings.Join(tests, ",\n  "), from)
	b.WriteString("u AS (SELECT * EXCLUDE (rs), TRY_CAST(unnest(string_split(rs, ',')) AS INTEGER) AS r FROM m),\n")
	b.WriteString("hits AS (SELECT *, row_number() OVER (PARTITION BY r, actor, account_id ORDER BY event_time, event_id) AS k FROM u WHERE r IS NOT NULL)\n")
	b.WriteString(`SELECT r, actor, account_id,
  list(DISTINCT source_ip) AS source_ips, list(DISTINCT user_agent) AS user_agents,
  min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS count,
  ` + firstIDs("event_time", "event_id", false) + ` AS event_ids, NULL AS details
FROM hits
GROUP BY r, actor, account_id`)
	return b.String(), nil
}

// firstIDs is the aggregate of the ids of a finding's first events, by
// time and then id: at most query.MaxFindingEventIDs of them, however many
// events the finding counts. k numbers the events of each finding in that
// order (a window, which DuckDB runs on every core and can spill; min(x, n)
// reserves n values for every finding and ran out of memory). The list is
// sorted after aggregating: list(id ORDER BY t, id), next to the DISTINCT
// lists of the same GROUP BY, made DuckDB aggregate on one thread.
// distinct is for rows that may repeat an event.
func firstIDs(t, id string, distinct bool) string {
	d := ""
	if distinct {
		d = "DISTINCT "
	}
	return fmt.Sprintf("list_transform(list_sort(list(%sstruct_pack(t := %s, id := %s)) FILTER (WHERE k <= %d)), lambda e: e.id)", d, t, id, query.MaxFindingEventIDs)
}

// rawPathRef finds the JSON paths that rawPath writes.
var rawPathRef = regexp.MustCompile(`json_extract_string\(raw, ('(?:[^']|'')*')\)`)

// groupTree gives, for the event's group g, the numbers of its rules that
// match, by halving the range of groups: a flat CASE would compare g with
// every group before its own.
func groupTree(groups [][]string, lo, hi int) string {
	if hi-lo <= 4 {
		var b strings.Builder
		b.WriteString("CASE g")
		for g := lo; g < hi; g++ {
			fmt.Fprintf(&b, " WHEN %d THEN concat_ws(',', %s)", g, strings.Join(groups[g], ", "))
		}
		b.WriteString(" END")
		return b.String()
	}
	mid := (lo + hi) / 2
	return fmt.Sprintf("CASE WHEN g < %d THEN %s\n ELSE %s END", mid, groupTree(groups, lo, mid), groupTree(groups, mid, hi))
}

// requiredNames returns lower-cased eventNames of which an event must have
// one for e to match, when there is such a list: a prefilter only, the
// rule's whole condition is still checked.
func requiredNames(d *detection, e expr) ([]string, bool) {
	switch x := e.(type) {
	case identExpr:
		var all []string
		for _, g := range d.searches[x.name] {
			names, ok := groupNames(g)
			if !ok {
				return nil, false
			}
			all = append(all, names...)
		}
		return all, true
	case andExpr:
		var best []string
		found := false
		for _, y := range x.xs {
			if n, ok := requiredNames(d, y); ok && (!found || len(n) < len(best)) {
				best, found = n, true
			}
		}
		return best, found
	case orExpr:
		var all []string
		for _, y := range x.xs {
			n, ok := requiredNames(d, y)
			if !ok {
				return nil, false
			}
			all = append(all, n...)
		}
		return all, true
	}
	return nil, false
}

func groupNames(g []fieldTest) ([]string, bool) {
	for _, t := range g {
		m := t.mods
		if t.field != "eventName" || m.match != "" || m.re || m.cidr || m.exists || m.fieldref || m.cmp != "" || m.base64 || m.b64offset {
			continue
		}
		var names []string
		ok := true
		for _, v := range t.values {
			p := parsePattern(v.text)
			if v.null || len(p) != 1 || p[0].lit == "" {
				ok = false
				break
			}
			names = append(names, strings.ToLower(p[0].lit))
		}
		if ok {
			slices.Sort(names)
			return slices.Compact(names), true
		}
	}
	return nil, false
}

// run runs a findings query. Detection queries give the rule as column r
// (ruleOf); a correlation query is all one rule.
// runTyped runs q (with its window's bounds) as run does, over
// opts.Typed when set (a copy of the events' columns but raw: see
// query.TypedEvents), and over the window's events when q reads raw or
// opts.Typed is not set (query.TypedFirst).
func runTyped(ctx context.Context, db *sql.DB, q string, opts query.DetectOptions, ruleOf func(int64) *Rule, rule *Rule) ([]query.Finding, error) {
	return query.TypedFirst(opts, func(events string) ([]query.Finding, error) {
		o := opts
		if events != "" {
			o.Events = events
		}
		return run(ctx, db, query.WithWindowEvents(q, o), ruleOf, rule)
	})
}

func run(ctx context.Context, db *sql.DB, q string, ruleOf func(int64) *Rule, rule *Rule) ([]query.Finding, error) {
	rows, err := query.QueryInMemory(ctx, db, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []query.Finding
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		get := map[string]any{}
		for i, c := range cols {
			get[c] = vals[i]
		}
		r := rule
		if ruleOf != nil {
			idx, _ := get["r"].(int32)
			r = ruleOf(int64(idx))
		}
		f, err := query.ReadFinding(&query.Rule{ID: r.ID, Title: r.Title, Severity: r.Severity}, func(c string) any { return get[c] })
		if err != nil {
			return nil, fmt.Errorf("sigma rule %s: %w", r.ID, err)
		}
		if f.Details == "" {
			f.Details = "Sigma: " + r.Title
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func ioReadFull(f *os.File, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
	}
	return n, nil
}
