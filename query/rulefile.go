package query

// The rule file format: one SQL file per rule, a header of metadata in SQL
// comments followed by one SELECT over the events table. Rules are embedded
// from detections/ and users can load their own directory in the same format.

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed detections/*.sql
var detectionFiles embed.FS

// Rule is one detection.
type Rule struct {
	ID             string
	Title          string
	Severity       Severity // of every finding, unless its row's severity column raises it
	EscalatesTo    Severity // the highest a severity column may raise it to; "" when it never does
	Attack         []string // MITRE ATT&CK technique ids
	Description    string
	References     []string
	FalsePositives []string
	Params         []Param
	SQL            string // the SELECT as written, with $param placeholders
	Source         string // the file the rule was read from
}

// SeverityRange is the lowest and highest severity of the rule's findings:
// its severity, and escalates_to when a row's severity column may raise it.
func (r *Rule) SeverityRange() (lowest, highest Severity) {
	if r.EscalatesTo == "" {
		return r.Severity, r.Severity
	}
	return r.Severity, r.EscalatesTo
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
// returns them sorted by id. A file that cannot be used does not stop the
// others: it is named, with the reason, in the RuleErrors returned beside
// the rules that loaded, never left out silently (a rule set that lost a
// rule reports fewer findings than it should). Only when fsys itself cannot
// be read is the error returned alone.
func LoadRules(fsys fs.FS) ([]Rule, error) {
	var rules []Rule
	var failed RuleErrors
	seen := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			failed = append(failed, &RuleError{File: p, Err: err})
			return nil // a directory that cannot be read is skipped
		}
		if d.IsDir() || !strings.HasSuffix(p, ".sql") {
			return nil
		}
		r, err := readRule(fsys, p)
		if err == nil {
			if prev, ok := seen[r.ID]; ok {
				err = &RuleError{File: p, Err: fmt.Errorf("rule id %q is already used by %s", r.ID, prev)}
			}
		}
		var re *RuleError
		switch {
		case errors.As(err, &re):
			failed = append(failed, re)
		case err != nil:
			failed = append(failed, &RuleError{File: p, Err: err})
		default:
			seen[r.ID] = p
			rules = append(rules, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	if len(failed) > 0 {
		return rules, failed
	}
	return rules, nil
}

func readRule(fsys fs.FS, p string) (Rule, error) {
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return Rule{}, err
	}
	return ParseRule(p, data)
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
	if r.EscalatesTo != "" && r.EscalatesTo.Rank() <= r.Severity.Rank() {
		return fail(0, "escalates_to %s is not above severity %s", r.EscalatesTo, r.Severity)
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
	case "escalates_to":
		s, err := ParseSeverity(val)
		if err != nil {
			return fmt.Errorf("escalates_to: %v", err)
		}
		r.EscalatesTo = s
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
		return fmt.Errorf("unknown key %q (known: id, title, severity, escalates_to, attack, description, references, false_positives, param)", key)
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
