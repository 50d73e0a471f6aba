package sigma

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// namer turns the SQL expression of a field into what a rule's condition
// reads: inline gives the expression itself; the set's one query computes
// each expression once per event in a column and gives the column's name.
type namer func(sqlExpr string) string

func inline(e string) string { return e }

// typedColumns are the Sigma fields that a column of the events view holds
// exactly as logged (an empty string is stored as NULL there, so tests that
// could accept an empty value read the JSON instead). userIdentity.userName
// is not here: user_name also takes additionalEventData.UserName.
var typedColumns = map[string]string{
	"eventName":                "event_name",
	"eventSource":              "event_source",
	"eventType":                "event_type",
	"eventCategory":            "event_category",
	"eventVersion":             "event_version",
	"awsRegion":                "aws_region",
	"sourceIPAddress":          "source_ip",
	"userAgent":                "user_agent",
	"errorCode":                "error_code",
	"errorMessage":             "error_message",
	"recipientAccountId":       "recipient_account_id",
	"eventID":                  "event_id",
	"userIdentity.type":        "user_type",
	"userIdentity.arn":         "user_arn",
	"userIdentity.principalId": "principal_id",
	"userIdentity.accessKeyId": "access_key_id",
	"userIdentity.invokedBy":   "invoked_by",
	"userIdentity.sessionContext.sessionIssuer.arn":      "session_issuer_arn",
	"userIdentity.sessionContext.sessionIssuer.userName": "session_issuer_name",
}

// rawPath reads a dotted field from the stored event as text: a JSON
// Pointer (RFC 6901) in a SQL literal, so no key can leave the path.
// Strings come back unescaped, numbers and booleans as written, objects
// and arrays as JSON, and a missing key or null as NULL.
func rawPath(field string) string {
	var b strings.Builder
	for _, p := range strings.Split(field, ".") {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}
	return "json_extract_string(raw, " + sqlString(b.String()) + ")"
}

// sqlString quotes s as a DuckDB string literal. Rules are the user's
// files, but their text never leaves the literal: a quote is doubled, and
// DuckDB gives backslashes no meaning in '...'.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

type compiler struct {
	name     namer
	searches map[string]search
	// eventName, when not empty, is the lower-cased eventName of every
	// event the condition will be tested on: plain tests of eventName are
	// then known, and written as true or false.
	eventName string
}

func compileDetection(d *detection, name namer) (string, error) {
	c := &compiler{name: name, searches: d.searches}
	return c.expr(d.cond)
}

// compileForName compiles d for events whose lower-cased eventName is
// eventName (the events of one group of the set's query).
func compileForName(d *detection, name namer, eventName string) (string, error) {
	c := &compiler{name: name, searches: d.searches, eventName: eventName}
	return c.expr(d.cond)
}

// knownEventName says whether t is a plain, case-insensitive test of
// eventName by literal values, and if so whether eventName n passes it.
func knownEventName(t fieldTest, n string) (known, pass bool) {
	if t.field != "eventName" || (t.mods != mods{} && t.mods != mods{all: true}) {
		return false, false
	}
	hits := 0
	for _, v := range t.values {
		p := parsePattern(v.text)
		if v.null || len(p) != 1 || p[0].lit == "" {
			return false, false
		}
		if strings.ToLower(p[0].lit) == n {
			hits++
		}
	}
	if t.mods.all {
		return true, hits == len(t.values)
	}
	return true, hits > 0
}

func (c *compiler) expr(e expr) (string, error) {
	switch x := e.(type) {
	case identExpr:
		return c.search(c.searches[x.name])
	case notExpr:
		s, err := c.expr(x.x)
		if err != nil {
			return "", err
		}
		// Every search is true or false, never NULL, so NOT is exact.
		return "(NOT " + s + ")", nil
	case andExpr, orExpr:
		xs, op := []expr(nil), " AND "
		if a, ok := x.(andExpr); ok {
			xs = a.xs
		} else {
			xs, op = x.(orExpr).xs, " OR "
		}
		var parts []string
		for _, y := range xs {
			s, err := c.expr(y)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return "(" + strings.Join(parts, op) + ")", nil
	}
	return "", fmt.Errorf("internal: unknown condition node %T", e)
}

func (c *compiler) search(s search) (string, error) {
	var ors []string
	for _, g := range s {
		var ands []string
		for _, t := range g {
			sql, err := c.fieldTest(t)
			if err != nil {
				return "", err
			}
			ands = append(ands, sql)
		}
		ors = append(ors, strings.Join(ands, " AND "))
	}
	if len(ors) == 1 {
		return "(" + ors[0] + ")", nil
	}
	return "((" + strings.Join(ors, ") OR (") + "))", nil
}

// field is the SQL text of a field, as the condition reads it: its typed
// column when it has one and typed is allowed, else its JSON path.
func (c *compiler) field(f string, typed, lower bool) string {
	return c.name(fieldSQL(f, typed, lower))
}

// fieldSQL is the full expression of a field, before naming.
func fieldSQL(f string, typed, lower bool) string {
	e := rawPath(f)
	if col, ok := typedColumns[f]; ok && typed {
		e = col
	}
	if lower {
		e = "lower(" + e + ")"
	}
	return e
}

// fieldTest compiles one `field|mods: values`. The result is never NULL:
// a field that is missing or null matches nothing (so `not` over it is
// true), which coalesce makes explicit against SQL's three-valued logic.
func (c *compiler) fieldTest(t fieldTest) (string, error) {
	if c.eventName != "" {
		if known, pass := knownEventName(t, c.eventName); known {
			return strconv.FormatBool(pass), nil
		}
	}
	m := t.mods
	if m.exists {
		op := " IS NOT NULL"
		if t.values[0].text == "false" {
			op = " IS NULL"
		}
		return "(" + c.field(t.field, false, false) + op + ")", nil
	}
	typed := true
	for _, v := range t.values {
		if v.null || m.fieldref || valueMatchesEmpty(v, m) {
			typed = false
		}
	}
	var parts []string
	for _, v := range t.values {
		p, err := c.value(t.field, typed, m, v)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	join := " OR "
	if m.all {
		join = " AND "
	}
	if len(parts) == 1 {
		return "coalesce(" + parts[0] + ", false)", nil
	}
	return "coalesce((" + strings.Join(parts, join) + "), false)", nil
}

func (c *compiler) value(f string, typed bool, m mods, v value) (string, error) {
	switch {
	case v.null:
		return "(" + c.field(f, false, false) + " IS NULL)", nil
	case m.fieldref:
		lower := !m.cased
		return "(" + c.field(f, false, lower) + " = " + c.field(v.text, false, lower) + ")", nil
	case m.cmp != "":
		n, _ := strconv.ParseFloat(v.text, 64)
		op := map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[m.cmp]
		return fmt.Sprintf("(TRY_CAST(%s AS DOUBLE) %s %s)", c.field(f, typed, false), op, floatLiteral(n)), nil
	case m.re:
		return fmt.Sprintf("regexp_matches(%s, %s)", c.field(f, typed, false), sqlString(regexpText(v.text, m.reFlags))), nil
	case m.cidr:
		p, _ := parseCIDR(v.text)
		return c.cidr(f, typed, p), nil
	case m.base64 || m.b64offset:
		var alts []string
		for _, enc := range base64Variants(v.text, m.b64offset) {
			alts = append(alts, stringMatch(c.field(f, typed, false), withMatch(literalPattern(enc), m.match)))
		}
		if len(alts) == 1 {
			return alts[0], nil
		}
		return "(" + strings.Join(alts, " OR ") + ")", nil
	}
	pat := withMatch(parsePattern(v.text), m.match)
	if m.cased {
		return stringMatch(c.field(f, typed, false), pat), nil
	}
	return stringMatch(c.field(f, typed, true), pat.lower()), nil
}

func floatLiteral(n float64) string {
	return "CAST(" + sqlString(strconv.FormatFloat(n, 'g', -1, 64)) + " AS DOUBLE)"
}

func regexpText(re, flags string) string {
	if flags == "" {
		return re
	}
	return "(?" + flags + ")" + re
}

func checkRegexp(re, flags string) error {
	if _, err := regexp.Compile(regexpText(re, flags)); err != nil {
		return fmt.Errorf("re %q: %v (DuckDB and trailsift use RE2: no lookaround or backreferences)", re, err)
	}
	return nil
}

// valueMatchesEmpty reports whether v would match an empty string, which
// a typed column cannot tell from a missing field.
func valueMatchesEmpty(v value, m mods) bool {
	switch {
	case m.re:
		re, err := regexp.Compile(regexpText(v.text, m.reFlags))
		return err == nil && re.MatchString("")
	case m.cmp != "" || m.cidr:
		return false
	case m.base64 || m.b64offset:
		return v.text == "" || m.match != ""
	}
	return withMatch(parsePattern(v.text), m.match).matchesEmpty()
}

// pattern is a Sigma string value: literal runs and wildcards.
type pattern []patTok

type patTok struct {
	lit  string
	star bool // *
	one  bool // ?
}

// parsePattern reads a Sigma string: * and ? are wildcards, \* \? and \\
// are the characters themselves, and any other backslash is literal.
func parsePattern(s string) pattern {
	var p pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p = append(p, patTok{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && strings.IndexByte(`*?\`, s[i+1]) >= 0:
			lit.WriteByte(s[i+1])
			i++
		case c == '*':
			flush()
			if len(p) == 0 || !p[len(p)-1].star {
				p = append(p, patTok{star: true})
			}
		case c == '?':
			flush()
			p = append(p, patTok{one: true})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

func literalPattern(s string) pattern {
	if s == "" {
		return nil
	}
	return pattern{{lit: s}}
}

// withMatch adds the wildcards of contains, startswith, endswith.
func withMatch(p pattern, match string) pattern {
	star := patTok{star: true}
	if match == "contains" || match == "endswith" {
		if len(p) == 0 || !p[0].star {
			p = append(pattern{star}, p...)
		}
	}
	if match == "contains" || match == "startswith" {
		if len(p) == 0 || !p[len(p)-1].star {
			p = append(append(pattern{}, p...), star)
		}
	}
	return p
}

func (p pattern) lower() pattern {
	out := make(pattern, len(p))
	for i, t := range p {
		t.lit = strings.ToLower(t.lit)
		out[i] = t
	}
	return out
}

func (p pattern) matchesEmpty() bool {
	for _, t := range p {
		if !t.star {
			return false
		}
	}
	return true
}

// stringMatch compiles a pattern over the SQL text e, using the cheapest
// DuckDB function that says the same.
func stringMatch(e string, p pattern) string {
	lits, stars, ones := 0, 0, 0
	for _, t := range p {
		switch {
		case t.star:
			stars++
		case t.one:
			ones++
		default:
			lits++
		}
	}
	switch {
	case len(p) == 0:
		return "(" + e + " = '')"
	case len(p) == 1 && lits == 1:
		return "(" + e + " = " + sqlString(p[0].lit) + ")"
	case len(p) == 1 && stars == 1:
		return "(" + e + " IS NOT NULL)"
	case len(p) == 2 && lits == 1 && p[1].star:
		return "starts_with(" + e + ", " + sqlString(p[0].lit) + ")"
	case len(p) == 2 && lits == 1 && p[0].star:
		return "ends_with(" + e + ", " + sqlString(p[1].lit) + ")"
	case len(p) == 3 && lits == 1 && p[0].star && p[2].star:
		return "contains(" + e + ", " + sqlString(p[1].lit) + ")"
	case ones == 0:
		// LIKE: % for *; the escape character keeps the literal's own %
		// and _ (and backslashes) literal.
		var b strings.Builder
		for _, t := range p {
			if t.star {
				b.WriteByte('%')
				continue
			}
			b.WriteString(strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(t.lit))
		}
		return "(" + e + " LIKE " + sqlString(b.String()) + " ESCAPE '\\')"
	}
	// ? is one character (not one byte): RE2 counts characters.
	var b strings.Builder
	b.WriteString("(?s)")
	for _, t := range p {
		switch {
		case t.star:
			b.WriteString(".*")
		case t.one:
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(t.lit))
		}
	}
	return "regexp_full_match(" + e + ", " + sqlString(b.String()) + ")"
}

// base64Variants encodes s as base64 modifiers do: base64 gives the
// encoding; base64offset the three encodings of s at offsets 0, 1 and 2 of
// a longer base64 text, trimmed of the characters that depend on what is
// around it.
func base64Variants(s string, offset bool) []string {
	if !offset {
		return []string{base64.StdEncoding.EncodeToString([]byte(s))}
	}
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString(append([]byte(strings.Repeat(" ", i)), s...))
		start := []int{0, 2, 3}[i]
		end := len(enc) - []int{0, 3, 2}[(len(s)+i)%3]
		if start > end {
			start = end
		}
		out = append(out, enc[start:end])
	}
	return out
}

func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if a, err2 := netip.ParseAddr(s); err2 == nil {
			return netip.PrefixFrom(a, a.BitLen()), nil
		}
		return p, fmt.Errorf("cidr %q: %v", s, err)
	}
	if p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return p, fmt.Errorf("cidr %q: zones and IPv4-mapped prefixes are not supported", s)
	}
	return p.Masked(), nil
}

const octet = `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])`

// cidr tests that a field holds an address in p. IPv4 addresses become a
// number; IPv6 addresses are expanded to 32 hex digits, which sort as the
// numbers do. Text that is not an address (a service name in
// sourceIPAddress) matches no prefix.
func (c *compiler) cidr(f string, typed bool, p netip.Prefix) string {
	e := fieldSQL(f, typed, false)
	if p.Addr().Is4() {
		num := c.name(fmt.Sprintf("CASE WHEN regexp_full_match(%s, '%s\\.%s\\.%s\\.%s') THEN "+
			"CAST(split_part(%[1]s, '.', 1) AS BIGINT) * 16777216 + CAST(split_part(%[1]s, '.', 2) AS BIGINT) * 65536 + "+
			"CAST(split_part(%[1]s, '.', 3) AS BIGINT) * 256 + CAST(split_part(%[1]s, '.', 4) AS BIGINT) END",
			e, octet, octet, octet, octet))
		lo, hi := prefixRange(p)
		return fmt.Sprintf("(%s BETWEEN %s AND %s)", num, lo.String(), hi.String())
	}
	s := "lower(" + e + ")"
	// Fill in :: with the zero groups it stands for, then pad each group.
	filled := "(" + fmt.Sprintf("CASE WHEN length(%[1]s) - length(replace(%[1]s, '::', '')) > 2 THEN NULL "+
		"WHEN contains(%[1]s, '::') THEN replace(CASE WHEN starts_with(%[1]s, '::') THEN '0' ELSE '' END || %[1]s || CASE WHEN ends_with(%[1]s, '::') THEN '0' ELSE '' END, "+
		"'::', ':' || repeat('0:', greatest(0, 8 - (length(%[1]s) - length(replace(%[1]s, ':', '')))))) ELSE %[1]s END", s) + ")"
	var groups []string
	for i := 1; i <= 8; i++ {
		groups = append(groups, fmt.Sprintf("lpad(split_part(%s, ':', %d), 4, '0')", filled, i))
	}
	hex := c.name(fmt.Sprintf("CASE WHEN regexp_full_match(%s, '[0-9a-f]{1,4}(:[0-9a-f]{1,4}){7}') THEN %s END", filled, strings.Join(groups, " || ")))
	lo, hi := prefixRange(p)
	return fmt.Sprintf("(%s BETWEEN '%032x' AND '%032x')", hex, lo, hi)
}

// prefixRange is the first and last address of p, as numbers.
func prefixRange(p netip.Prefix) (lo, hi *big.Int) {
	lo = new(big.Int).SetBytes(p.Masked().Addr().AsSlice())
	bits := p.Addr().BitLen() - p.Bits()
	span := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1))
	return lo, new(big.Int).Add(lo, span)
}
