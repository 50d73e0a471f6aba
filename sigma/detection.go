package sigma

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// detection is a rule's detection section: named searches and the
// condition over them.
type detection struct {
	searches map[string]search
	cond     expr
}

// search is a search identifier: an OR of AND-groups of field tests (a map
// is one group; a list of maps is several).
type search [][]fieldTest

// fieldTest is one `field|modifiers: values` entry.
type fieldTest struct {
	field  string
	mods   mods
	values []value
}

// value is one value of a field test as written in the rule.
type value struct {
	text string
	null bool
	num  bool // written as a YAML number
	b    bool // written as a YAML boolean
}

// mods are the modifiers of a field test.
type mods struct {
	match     string // "", contains, startswith, endswith
	all       bool
	cased     bool
	re        bool
	reFlags   string // of i, m, s
	cidr      bool
	exists    bool
	fieldref  bool
	cmp       string // gt, gte, lt, lte
	base64    bool
	b64offset bool
}

// Limits on what a rule may ask for: rules are the user's files, but one
// rule should not be able to make a query DuckDB chokes on.
const (
	maxSearches   = 256
	maxValues     = 4096
	maxCondTokens = 2048
	maxCondDepth  = 64
)

func parseDetection(n *yaml.Node) (*detection, error) {
	if n.Kind == 0 {
		return nil, fmt.Errorf("the rule has no detection")
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("detection (line %d): want a map of search identifiers and a condition", n.Line)
	}
	d := &detection{searches: map[string]search{}}
	var conds []string
	values := 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		if name == "condition" {
			switch v.Kind {
			case yaml.ScalarNode:
				conds = append(conds, v.Value)
			case yaml.SequenceNode:
				for _, c := range v.Content {
					if c.Kind != yaml.ScalarNode {
						return nil, fmt.Errorf("condition (line %d): want a string or a list of strings", c.Line)
					}
					conds = append(conds, c.Value)
				}
			default:
				return nil, fmt.Errorf("condition (line %d): want a string or a list of strings", v.Line)
			}
			continue
		}
		if name == "timeframe" {
			return nil, fmt.Errorf("detection.timeframe (line %d) belongs to the old aggregation syntax; use a correlation rule", k.Line)
		}
		if len(d.searches) >= maxSearches {
			return nil, fmt.Errorf("more than %d search identifiers", maxSearches)
		}
		s, err := parseSearch(name, v, &values)
		if err != nil {
			return nil, err
		}
		d.searches[name] = s
	}
	if len(conds) == 0 {
		return nil, fmt.Errorf("detection has no condition")
	}
	// A list of conditions matches when any of them does.
	var ors []expr
	for _, c := range conds {
		e, err := parseCondition(c, d.names())
		if err != nil {
			return nil, fmt.Errorf("condition %q: %w", c, err)
		}
		ors = append(ors, e)
	}
	d.cond = orOf(ors)
	return d, nil
}

func (d *detection) names() []string {
	var out []string
	for k := range d.searches {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func parseSearch(name string, n *yaml.Node, values *int) (search, error) {
	where := fmt.Sprintf("search %q (line %d)", name, n.Line)
	switch n.Kind {
	case yaml.MappingNode:
		g, err := parseGroup(name, n, values)
		if err != nil {
			return nil, err
		}
		return search{g}, nil
	case yaml.SequenceNode:
		var s search
		for _, c := range n.Content {
			if c.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("%s: keyword searches (values without a field) are not supported: a CloudTrail event has no message field to search; name the field", where)
			}
			g, err := parseGroup(name, c, values)
			if err != nil {
				return nil, err
			}
			s = append(s, g)
		}
		if len(s) == 0 {
			return nil, fmt.Errorf("%s: empty list", where)
		}
		return s, nil
	}
	return nil, fmt.Errorf("%s: keyword searches (values without a field) are not supported: a CloudTrail event has no message field to search; name the field", where)
}

func parseGroup(name string, n *yaml.Node, values *int) ([]fieldTest, error) {
	var g []fieldTest
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		where := fmt.Sprintf("search %q, %q (line %d)", name, k.Value, k.Line)
		parts := strings.Split(k.Value, "|")
		t := fieldTest{field: parts[0]}
		if t.field == "" {
			return nil, fmt.Errorf("%s: keyword searches (no field name) are not supported: a CloudTrail event has no message field to search", where)
		}
		if err := checkField(t.field); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		var err error
		if t.mods, err = parseMods(parts[1:]); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		var nodes []*yaml.Node
		switch v.Kind {
		case yaml.ScalarNode:
			nodes = []*yaml.Node{v}
		case yaml.SequenceNode:
			nodes = v.Content
			if len(nodes) == 0 {
				return nil, fmt.Errorf("%s: empty list of values", where)
			}
		case yaml.AliasNode:
			return nil, fmt.Errorf("%s: YAML aliases are not supported in values", where)
		default:
			return nil, fmt.Errorf("%s: want a value or a list of values, not a map", where)
		}
		for _, c := range nodes {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s: want a value or a list of values", where)
			}
			if *values++; *values > maxValues {
				return nil, fmt.Errorf("%s: more than %d values in one rule", where, maxValues)
			}
			val := value{text: c.Value}
			switch c.Tag {
			case "!!null":
				val = value{null: true}
			case "!!int", "!!float":
				val.num = true
			case "!!bool":
				val.b = true
				val.text = strings.ToLower(c.Value)
			}
			t.values = append(t.values, val)
		}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		g = append(g, t)
	}
	if len(g) == 0 {
		return nil, fmt.Errorf("search %q (line %d): empty map", name, n.Line)
	}
	return g, nil
}

func parseMods(names []string) (mods, error) {
	var m mods
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			return m, fmt.Errorf("modifier %s is given twice", name)
		}
		seen[name] = true
		switch name {
		case "contains", "startswith", "endswith":
			if m.match != "" {
				return m, fmt.Errorf("modifiers %s and %s cannot be combined", m.match, name)
			}
			m.match = name
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "re":
			m.re = true
		case "i", "m", "s":
			if !m.re {
				return m, fmt.Errorf("modifier %s only follows re", name)
			}
			m.reFlags += name
		case "cidr":
			m.cidr = true
		case "exists":
			m.exists = true
		case "fieldref":
			m.fieldref = true
		case "gt", "gte", "lt", "lte":
			if m.cmp != "" {
				return m, fmt.Errorf("modifiers %s and %s cannot be combined", m.cmp, name)
			}
			m.cmp = name
		case "base64":
			m.base64 = true
		case "base64offset":
			m.b64offset = true
		case "expand":
			return m, fmt.Errorf("modifier expand needs placeholders from a processing pipeline, which trailsift does not have")
		case "wide", "utf16", "utf16le", "utf16be", "windash":
			return m, fmt.Errorf("modifier %s is for Windows command lines and encodings; CloudTrail events are UTF-8 JSON", name)
		default:
			return m, fmt.Errorf("unknown modifier %q", name)
		}
	}
	// Modifiers that replace value matching combine with little else.
	special := 0
	for _, b := range []bool{m.re, m.cidr, m.exists, m.fieldref, m.cmp != ""} {
		if b {
			special++
		}
	}
	if special > 1 || special == 1 && (m.match != "" && !m.fieldref || m.base64 || m.b64offset) {
		return m, fmt.Errorf("modifiers %s cannot be combined", strings.Join(names, "|"))
	}
	if m.base64 && m.b64offset {
		return m, fmt.Errorf("modifiers base64 and base64offset cannot be combined")
	}
	if m.fieldref && m.match != "" {
		return m, fmt.Errorf("fieldref with %s is not supported (only equality)", m.match)
	}
	return m, nil
}

// check verifies the values suit the modifiers.
func (t *fieldTest) check() error {
	m := t.mods
	for _, v := range t.values {
		switch {
		case v.null && (m.match != "" || m.re || m.cidr || m.exists || m.fieldref || m.cmp != "" || m.base64 || m.b64offset):
			return fmt.Errorf("null cannot take modifiers")
		case m.exists && !v.b:
			return fmt.Errorf("exists takes true or false, not %q", v.text)
		case m.cmp != "":
			if _, err := strconv.ParseFloat(v.text, 64); err != nil {
				return fmt.Errorf("%s takes a number, not %q", m.cmp, v.text)
			}
		case m.fieldref:
			if err := checkField(v.text); err != nil {
				return fmt.Errorf("fieldref: %w", err)
			}
		case m.cidr:
			if _, err := parseCIDR(v.text); err != nil {
				return err
			}
		case m.re:
			if err := checkRegexp(v.text, m.reFlags); err != nil {
				return err
			}
		}
		if strings.ContainsRune(v.text, 0) {
			return fmt.Errorf("a value holds a NUL byte")
		}
	}
	if m.exists && len(t.values) != 1 {
		return fmt.Errorf("exists takes one value, true or false")
	}
	return nil
}

// cloudTrailKeys are the top-level keys of CloudTrail events: a field must
// start with one, else no event could ever have it (a typo, or a rule for
// another log source).
var cloudTrailKeys = map[string]bool{
	"eventVersion": true, "userIdentity": true, "eventTime": true, "eventSource": true, "eventName": true,
	"awsRegion": true, "sourceIPAddress": true, "userAgent": true, "requestParameters": true,
	"responseElements": true, "additionalEventData": true, "requestID": true, "eventID": true,
	"readOnly": true, "resources": true, "eventType": true, "apiVersion": true, "managementEvent": true,
	"recipientAccountId": true, "sharedEventID": true, "serviceEventDetails": true, "vpcEndpointId": true,
	"vpcEndpointAccountId": true, "eventCategory": true, "tlsDetails": true, "sessionCredentialFromConsole": true,
	"errorCode": true, "errorMessage": true, "insightDetails": true, "addendum": true, "edgeDeviceDetails": true,
}

func checkField(f string) error {
	if f == "" {
		return fmt.Errorf("empty field name")
	}
	parts := strings.Split(f, ".")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("field %q has an empty part", f)
		}
	}
	if !cloudTrailKeys[parts[0]] {
		return fmt.Errorf("field %q: no CloudTrail event has a top-level key %q (fields are CloudTrail's own paths, such as eventName or requestParameters.userName)", f, parts[0])
	}
	return nil
}

// The condition.

type expr interface{ isExpr() }

type (
	identExpr struct{ name string }
	notExpr   struct{ x expr }
	andExpr   struct{ xs []expr }
	orExpr    struct{ xs []expr }
)

func (identExpr) isExpr() {}
func (notExpr) isExpr()   {}
func (andExpr) isExpr()   {}
func (orExpr) isExpr()    {}

func orOf(xs []expr) expr {
	if len(xs) == 1 {
		return xs[0]
	}
	return orExpr{xs}
}

func andOf(xs []expr) expr {
	if len(xs) == 1 {
		return xs[0]
	}
	return andExpr{xs}
}

type condParser struct {
	toks  []string
	pos   int
	names []string
	depth int
}

// parseCondition parses a condition over the search identifiers names.
// Precedence: not, then and, then or; `1 of X` / `all of X` take an
// identifier, a pattern with *, or `them`.
func parseCondition(s string, names []string) (expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	p := &condParser{toks: toks, names: names}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		if p.toks[p.pos] == "|" {
			return nil, fmt.Errorf("aggregations after | (count() by ...) are the old syntax; use a correlation rule")
		}
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return e, nil
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '|':
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
		if len(toks) > maxCondTokens {
			return nil, fmt.Errorf("more than %d words", maxCondTokens)
		}
	}
	return toks, nil
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) or() (expr, error) {
	var xs []expr
	for {
		x, err := p.and()
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
		if !strings.EqualFold(p.peek(), "or") {
			return orOf(xs), nil
		}
		p.pos++
	}
}

func (p *condParser) and() (expr, error) {
	var xs []expr
	for {
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
		if !strings.EqualFold(p.peek(), "and") {
			return andOf(xs), nil
		}
		p.pos++
	}
}

func (p *condParser) not() (expr, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		if p.depth++; p.depth > maxCondDepth {
			return nil, fmt.Errorf("nested more than %d deep", maxCondDepth)
		}
		x, err := p.not()
		p.depth--
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (expr, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("ends too soon")
	case t == "(":
		p.pos++
		if p.depth++; p.depth > maxCondDepth {
			return nil, fmt.Errorf("nested more than %d deep", maxCondDepth)
		}
		x, err := p.or()
		p.depth--
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("a ( is not closed")
		}
		p.pos++
		return x, nil
	case t == ")" || t == "|":
		return nil, fmt.Errorf("unexpected %q", t)
	case isKeyword(t):
		return nil, fmt.Errorf("unexpected %q", t)
	case (t == "1" || strings.EqualFold(t, "all") || strings.EqualFold(t, "any")) && p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of"):
		if p.pos+2 >= len(p.toks) {
			return nil, fmt.Errorf("want `%s of IDENTIFIER`", t)
		}
		pat := p.toks[p.pos+2]
		p.pos += 3
		names, err := p.match(pat)
		if err != nil {
			return nil, err
		}
		var xs []expr
		for _, n := range names {
			xs = append(xs, identExpr{n})
		}
		if strings.EqualFold(t, "all") {
			return andOf(xs), nil
		}
		return orOf(xs), nil
	}
	p.pos++
	if _, err := p.match(t); err != nil || strings.ContainsAny(t, "*?") {
		return nil, fmt.Errorf("unknown search identifier %q", t)
	}
	return identExpr{t}, nil
}

func isKeyword(t string) bool {
	switch strings.ToLower(t) {
	case "and", "or", "not", "of", "them":
		return true
	}
	return false
}

// match resolves `them` or an identifier pattern to the identifiers it
// names; `them` leaves out those starting with _ as the spec says.
func (p *condParser) match(pat string) ([]string, error) {
	var out []string
	for _, n := range p.names {
		if strings.EqualFold(pat, "them") {
			if !strings.HasPrefix(n, "_") {
				out = append(out, n)
			}
			continue
		}
		if ok, _ := path.Match(pat, n); ok && !strings.ContainsAny(pat, "[\\") {
			out = append(out, n)
		} else if n == pat {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q names no search identifier", pat)
	}
	return out, nil
}
