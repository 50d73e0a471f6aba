package query

// Rule parameters ($window, $threshold) are never pasted from user text:
// values are parsed into integers or durations and rendered here as SQL
// literals.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
		switch tok.kind {
		case tokPositional:
			return errors.New("positional parameters ($1) are not supported: declare a named `-- param:` and use $name")
		case tokParam:
		default:
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
	tokOther      tokKind = iota // SQL text, copied as is
	tokQuoted                    // a string, quoted identifier or comment
	tokParam                     // $name
	tokPositional                // $1: DuckDB's positional parameter
)

type sqlToken struct {
	kind tokKind
	text string
}

// scanSQL splits q into $name and $1 parameters, quoted text and comments
// (where a $ means nothing) and the rest, for Render, stripComments and
// statementText. It is not a safety check:
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
				for j < len(q) && q[j] >= '0' && q[j] <= '9' {
					j++
				}
				end, kind = j, tokPositional
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
