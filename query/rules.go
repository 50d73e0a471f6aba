package query

// Detection rules: one SQL file per rule, a header of metadata in SQL
// comments followed by one SELECT over the events table. Rules are embedded
// from detections/ and users can load their own directory in the same format.
//
// Parameters ($window, $threshold) are never pasted from user text: values are
// parsed into integers or durations and rendered by this file as SQL literals.

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed detections/*.sql
var detectionFiles embed.FS

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

// Severity ranks a finding. The zero value is not a valid severity.
type Severity string

// Severities, lowest first.
const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Severities lists the valid severities, lowest first.
var Severities = []Severity{Info, Low, Medium, High, Critical}

// Rank orders severities: 1 for info up to 5 for critical, 0 when invalid.
func (s Severity) Rank() int { return slices.Index(Severities, s) + 1 }

// ParseSeverity reads a severity name, in any case.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	if v.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q (want one of info, low, medium, high, critical)", s)
	}
	return v, nil
}

// ParamKind is the type of a rule parameter, taken from its default value.
type ParamKind int

// Parameter kinds.
const (
	Integer  ParamKind = iota // a whole number, e.g. 5
	Duration                  // 90s, 15m, 1h, 2h30m, 7d
)

func (k ParamKind) String() string {
	if k == Duration {
		return "duration"
	}
	return "integer"
}

// Param is a tunable value of a rule, referenced in its SQL as $name.
type Param struct {
	Name    string
	Default string
	Doc     string
	Kind    ParamKind
}

// Rule is one detection.
type Rule struct {
	ID             string
	Title          string
	Severity       Severity // default severity; a row's severity column overrides it
	Attack         []string // MITRE ATT&CK technique ids
	Description    string
	References     []string
	FalsePositives []string
	Params         []Param
	SQL            string // the SELECT as written, with $param placeholders
	Source         string // the file the rule was read from
}

// RuleError is a rule file that cannot be used.
type RuleError struct {
	File string
	Line int // 0 when the problem is not on one line
	Err  error
}

func (e *RuleError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("rule file %s, line %d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("rule file %s: %v", e.File, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// BuiltinRules returns the embedded detections, sorted by id.
func BuiltinRules() ([]Rule, error) {
	sub, err := fs.Sub(detectionFiles, "detections")
	if err != nil {
		return nil, err
	}
	return LoadRules(sub)
}

// LoadRules reads every *.sql file under fsys (recursively) as a rule and
// returns them sorted by id. Any broken file fails the whole load with a
// RuleError naming the file: a rule set that silently lost a rule would
// report fewer findings than it should.
func LoadRules(fsys fs.FS) ([]Rule, error) {
	var rules []Rule
	seen := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".sql") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		r, err := ParseRule(p, data)
		if err != nil {
			return err
		}
		if prev, ok := seen[r.ID]; ok {
			return &RuleError{File: p, Err: fmt.Errorf("rule id %q is already used by %s", r.ID, prev)}
		}
		seen[r.ID] = p
		rules = append(rules, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules, nil
}

var (
	idPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	keyPattern    = regexp.MustCompile(`^([a-z_]+):\s*(.*)$`)
	paramPattern  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S+)\s*(.*)$`)
	attackPattern = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
)

// ParseRule parses one rule file. name is used in errors and must be
// <id>.sql.
func ParseRule(name string, data []byte) (Rule, error) {
	fail := func(line int, format string, args ...any) (Rule, error) {
		return Rule{}, &RuleError{File: name, Line: line, Err: fmt.Errorf(format, args...)}
	}
	r := Rule{Source: name}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	var key string // the key being read, for continuation lines
	seenKeys := map[string]bool{}
	body := len(lines)
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "--") {
			body = i
			break
		}
		text := strings.TrimPrefix(t, "--")
		text = strings.TrimPrefix(text, " ")
		n := i + 1
		switch m := keyPattern.FindStringSubmatch(text); {
		case strings.TrimSpace(text) == "":
			if key == "description" && r.Description != "" && !strings.HasSuffix(r.Description, "\n\n") {
				r.Description += "\n\n"
			}
		case m != nil:
			key = m[1]
			val := strings.TrimSpace(m[2])
			if seenKeys[key] && !listKey(key) {
				return fail(n, "%s is given twice", key)
			}
			seenKeys[key] = true
			if err := r.set(key, val); err != nil {
				return fail(n, "%v", err)
			}
		case key != "" && (text[0] == ' ' || text[0] == '\t'):
			item := strings.TrimSpace(text)
			if listKey(key) && strings.HasPrefix(item, "- ") {
				if err := r.set(key, strings.TrimSpace(item[2:])); err != nil {
					return fail(n, "%v", err)
				}
			} else if err := r.extend(key, item); err != nil {
				return fail(n, "%v", err)
			}
		default:
			return fail(n, "expected `-- key: value` or an indented continuation line, got %q", t)
		}
	}
	for _, k := range []string{"id", "title", "severity", "description"} {
		if !seenKeys[k] {
			return fail(0, "the header has no %q (every rule needs id, title, severity and description)", k)
		}
	}
	if want := strings.TrimSuffix(path.Base(name), ".sql"); r.ID != want {
		return fail(0, "rule id %q does not match the file name: name the file %s.sql", r.ID, r.ID)
	}
	r.Description = strings.TrimSpace(r.Description)
	r.SQL = strings.TrimSpace(strings.Join(lines[body:], "\n"))
	r.SQL = strings.TrimSpace(strings.TrimSuffix(r.SQL, ";"))
	if strings.TrimSpace(stripComments(r.SQL)) == "" {
		return fail(0, "no SQL after the header")
	}
	// Whether the SQL is one read-only SELECT is DuckDB's parser's call,
	// made by the read-only guard before the rule runs (see Detect).
	if _, err := r.Render(nil); err != nil {
		return fail(0, "%v", err)
	}
	return r, nil
}

func listKey(k string) bool {
	switch k {
	case "attack", "references", "false_positives", "param":
		return true
	}
	return false
}

// set applies `key: value`. List keys append; an empty value starts a list.
func (r *Rule) set(key, val string) error {
	switch key {
	case "id":
		if !idPattern.MatchString(val) {
			return fmt.Errorf("id %q must be lower-case letters, digits and dashes", val)
		}
		r.ID = val
	case "title":
		r.Title = val
	case "severity":
		s, err := ParseSeverity(val)
		if err != nil {
			return err
		}
		r.Severity = s
	case "description":
		r.Description = val
	case "attack":
		for _, a := range strings.Split(val, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			if !attackPattern.MatchString(a) {
				return fmt.Errorf("attack %q is not an ATT&CK technique id like T1621 or T1110.003", a)
			}
			r.Attack = append(r.Attack, a)
		}
	case "references":
		if val != "" {
			r.References = append(r.References, val)
		}
	case "false_positives":
		if val != "" {
			r.FalsePositives = append(r.FalsePositives, val)
		}
	case "param":
		if val == "" {
			return nil
		}
		p, err := parseParam(val)
		if err != nil {
			return err
		}
		for _, q := range r.Params {
			if q.Name == p.Name {
				return fmt.Errorf("param %s is declared twice", p.Name)
			}
		}
		r.Params = append(r.Params, p)
	default:
		return fmt.Errorf("unknown key %q (known: id, title, severity, attack, description, references, false_positives, param)", key)
	}
	return nil
}

// extend continues the value of key with one more line.
func (r *Rule) extend(key, text string) error {
	join := func(s string) string {
		if s == "" || strings.HasSuffix(s, "\n") {
			return s + text
		}
		return s + " " + text
	}
	switch key {
	case "title":
		r.Title = join(r.Title)
	case "description":
		r.Description = join(r.Description)
	case "references", "false_positives":
		l := &r.References
		if key == "false_positives" {
			l = &r.FalsePositives
		}
		if len(*l) == 0 {
			*l = append(*l, text)
		} else {
			(*l)[len(*l)-1] = join((*l)[len(*l)-1])
		}
	case "attack":
		return r.set(key, text)
	case "param":
		if len(r.Params) == 0 {
			return fmt.Errorf("a param line needs `name = default (description)`")
		}
		p := &r.Params[len(r.Params)-1]
		p.Doc = join(p.Doc)
	default:
		return fmt.Errorf("%s takes one line", key)
	}
	return nil
}

func parseParam(s string) (Param, error) {
	m := paramPattern.FindStringSubmatch(s)
	if m == nil {
		return Param{}, fmt.Errorf("param %q: want `name = default (description)`", s)
	}
	doc := strings.TrimSpace(m[3])
	if strings.HasPrefix(doc, "(") && strings.HasSuffix(doc, ")") {
		doc = strings.TrimSpace(doc[1 : len(doc)-1])
	}
	p := Param{Name: m[1], Default: m[2], Doc: doc}
	if _, err := strconv.ParseInt(p.Default, 10, 64); err == nil {
		p.Kind = Integer
	} else if _, err := ParseDuration(p.Default); err == nil {
		p.Kind = Duration
	} else {
		return Param{}, fmt.Errorf("param %s: default %q is neither an integer nor a duration like 90s, 15m, 1h, 7d", p.Name, p.Default)
	}
	return p, nil
}

// ParseDuration reads a duration as Go writes them (90s, 15m, 1h30m) or a
// number of days (7d). It must be a positive whole number of seconds.
func ParseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > 100_000 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("invalid duration %q (use 90s, 15m, 1h, 7d)", s)
		}
	}
	if d <= 0 || d%time.Second != 0 {
		return 0, fmt.Errorf("invalid duration %q: it must be a positive whole number of seconds", s)
	}
	return d, nil
}

// literal parses a parameter value and renders it as a SQL literal. Only
// the parsed number reaches the SQL text, never the value as given.
func (p Param) literal(value string) (string, error) {
	switch p.Kind {
	case Duration:
		d, err := ParseDuration(value)
		if err != nil {
			return "", fmt.Errorf("%s: %v", p.Name, err)
		}
		return fmt.Sprintf("(INTERVAL '%d' SECOND)", int64(d/time.Second)), nil
	default:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%s: %q is not an integer", p.Name, value)
		}
		return fmt.Sprintf("(%d)", n), nil
	}
}

// Param returns the parameter called name.
func (r *Rule) Param(name string) (Param, bool) {
	for _, p := range r.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// CheckParams verifies that values (param name → value) name parameters of
// the rule and parse as their kinds.
func (r *Rule) CheckParams(values map[string]string) error {
	for name, v := range values {
		p, ok := r.Param(name)
		if !ok {
			return fmt.Errorf("rule %s has no parameter %q%s", r.ID, name, r.paramList())
		}
		if _, err := p.literal(v); err != nil {
			return fmt.Errorf("rule %s: %v", r.ID, err)
		}
	}
	return nil
}

func (r *Rule) paramList() string {
	if len(r.Params) == 0 {
		return " (it has none)"
	}
	var names []string
	for _, p := range r.Params {
		names = append(names, p.Name)
	}
	return " (it has " + strings.Join(names, ", ") + ")"
}

// Render returns the rule's SQL with every $param replaced by a literal of
// its value: values[name] when set, else the default.
func (r *Rule) Render(values map[string]string) (string, error) {
	if err := r.CheckParams(values); err != nil {
		return "", err
	}
	lits := map[string]string{}
	for _, p := range r.Params {
		v, ok := values[p.Name]
		if !ok {
			v = p.Default
		}
		lit, err := p.literal(v)
		if err != nil {
			return "", err
		}
		lits[p.Name] = lit
	}
	used := map[string]bool{}
	var b strings.Builder
	err := scanSQL(r.SQL, func(tok sqlToken) error {
		if tok.kind != tokParam {
			b.WriteString(tok.text)
			return nil
		}
		name := tok.text[1:]
		lit, ok := lits[name]
		if !ok {
			return fmt.Errorf("the SQL uses $%s but the header declares no `-- param: %s = ...`", name, name)
		}
		used[name] = true
		b.WriteString(lit)
		return nil
	})
	if err != nil {
		return "", err
	}
	for _, p := range r.Params {
		if !used[p.Name] {
			return "", fmt.Errorf("param %s is declared but the SQL never uses $%s", p.Name, p.Name)
		}
	}
	return b.String(), nil
}

type tokKind int

const (
	tokOther  tokKind = iota // SQL text, copied as is
	tokQuoted                // a string, quoted identifier or comment
	tokParam                 // $name
)

type sqlToken struct {
	kind tokKind
	text string
}

// scanSQL splits q into $name parameters, quoted text and comments (where
// a $ means nothing) and the rest, for Render. It is not a safety check:
// whatever it makes of the text, the rendered SQL goes through DuckDB's
// parser in the read-only guard before it runs.
func scanSQL(q string, emit func(sqlToken) error) error {
	start := 0
	flush := func(i int) error {
		if i > start {
			if err := emit(sqlToken{tokOther, q[start:i]}); err != nil {
				return err
			}
		}
		start = i
		return nil
	}
	for i := 0; i < len(q); {
		c := q[i]
		end := -1
		kind := tokQuoted
		switch {
		case c == '\'' || c == '"':
			end = closingQuote(q, i)
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
				end = i + j
			} else {
				end = len(q)
			}
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return errors.New("a /* comment is not closed")
			}
			end = i + 2 + j + 2
		case c == '$':
			j := i + 1
			for j < len(q) && (isIdent(q[j]) || j > i+1 && q[j] >= '0' && q[j] <= '9') {
				j++
			}
			switch {
			case j < len(q) && q[j] == '$': // $$...$$ or $tag$...$tag$
				tag := q[i : j+1]
				k := strings.Index(q[j+1:], tag)
				if k < 0 {
					return fmt.Errorf("a %s quoted string is not closed", tag)
				}
				end = j + 1 + k + len(tag)
			case j > i+1:
				end, kind = j, tokParam
			case j < len(q) && q[j] >= '0' && q[j] <= '9':
				return errors.New("positional parameters ($1) are not supported: declare a named `-- param:` and use $name")
			}
		}
		if end < 0 {
			i++
			continue
		}
		if end > len(q) {
			return errors.New("a quoted string or identifier is not closed")
		}
		if err := flush(i); err != nil {
			return err
		}
		if err := emit(sqlToken{kind, q[i:end]}); err != nil {
			return err
		}
		i, start = end, end
	}
	return flush(len(q))
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// closingQuote returns the index after the quote that closes the one at i;
// a doubled quote is an escaped one. len(q)+1 when it is not closed.
func closingQuote(q string, i int) int {
	c := q[i]
	for j := i + 1; j < len(q); j++ {
		if q[j] == c {
			if j+1 < len(q) && q[j+1] == c {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(q) + 1
}

// Finding is one detection result: a group of events a rule flagged.
type Finding struct {
	RuleID     string    `json:"rule_id"`
	Title      string    `json:"title"`
	Severity   Severity  `json:"severity"`
	Actor      string    `json:"actor"`
	AccountID  string    `json:"account_id"`
	SourceIPs  []string  `json:"source_ips"`
	UserAgents []string  `json:"user_agents"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Count      int64     `json:"count"`
	EventIDs   []string  `json:"event_ids"`
	Details    string    `json:"details"`
}

// FindingColumns are the columns a rule's SELECT returns, in any order.
// details and severity may be left out.
var FindingColumns = []Column{
	{"actor", "VARCHAR", "who acted: user name, Identity Center user, role session, root"},
	{"account_id", "VARCHAR", "the AWS account"},
	{"source_ips", "VARCHAR[]", "source IP addresses of the events"},
	{"user_agents", "VARCHAR[]", "user agents of the events"},
	{"first_seen", "TIMESTAMPTZ", "time of the first event"},
	{"last_seen", "TIMESTAMPTZ", "time of the last event"},
	{"count", "BIGINT", "number of events (attempts, for thresholds)"},
	{"event_ids", "VARCHAR[]", "eventIDs of all the events, in time order"},
	{"details", "VARCHAR", "optional: one line saying what happened"},
	{"severity", "VARCHAR", "optional: overrides the rule's severity for this finding"},
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

// SortFindings orders findings most severe first, then by first_seen, rule
// and first event, so output is stable.
func SortFindings(found []Finding) {
	sort.SliceStable(found, func(i, j int) bool {
		a, b := &found[i], &found[j]
		if ra, rb := a.Severity.Rank(), b.Severity.Rank(); ra != rb {
			return ra > rb
		}
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.Before(b.FirstSeen)
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		if a.Actor != b.Actor {
			return a.Actor < b.Actor
		}
		return strings.Join(a.EventIDs, ",") < strings.Join(b.EventIDs, ",")
	})
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
