package sigma

// A small evaluator of parsed Sigma detections over one event, written
// independently of the SQL compiler, for the tests to check it against.

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

func decodeEvent(line string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var ev map[string]any
	err := dec.Decode(&ev)
	return ev, err
}

// lookup reads a dotted field as DuckDB's json_extract_string does: text
// for strings, numbers and booleans as written, JSON for containers; ok is
// false when missing or null.
func lookup(ev map[string]any, field string) (string, bool) {
	var cur any = ev
	for _, part := range strings.Split(field, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return "", false
			}
			cur = c[i]
		default:
			return "", false
		}
	}
	switch v := cur.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	b, _ := json.Marshal(cur)
	return string(b), true
}

func evalDetection(d *detection, ev map[string]any) bool { return evalExpr(d, d.cond, ev) }

func evalExpr(d *detection, e expr, ev map[string]any) bool {
	switch x := e.(type) {
	case identExpr:
		for _, g := range d.searches[x.name] {
			all := true
			for _, t := range g {
				if !evalTest(t, ev) {
					all = false
					break
				}
			}
			if all {
				return true
			}
		}
		return false
	case notExpr:
		return !evalExpr(d, x.x, ev)
	case andExpr:
		for _, y := range x.xs {
			if !evalExpr(d, y, ev) {
				return false
			}
		}
		return true
	case orExpr:
		for _, y := range x.xs {
			if evalExpr(d, y, ev) {
				return true
			}
		}
		return false
	}
	panic("unknown node")
}

func evalTest(t fieldTest, ev map[string]any) bool {
	val, ok := lookup(ev, t.field)
	if t.mods.exists {
		return ok == (t.values[0].text == "true")
	}
	for _, v := range t.values {
		m := evalValue(t.mods, v, val, ok, ev)
		if t.mods.all && !m {
			return false
		}
		if !t.mods.all && m {
			return true
		}
	}
	return t.mods.all
}

func evalValue(m mods, v value, val string, ok bool, ev map[string]any) bool {
	if v.null {
		return !ok
	}
	if !ok {
		return false
	}
	switch {
	case m.fieldref:
		other, ok := lookup(ev, v.text)
		if !m.cased {
			val, other = strings.ToLower(val), strings.ToLower(other)
		}
		return ok && val == other
	case m.cmp != "":
		a, err := strconv.ParseFloat(val, 64)
		b, _ := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return false
		}
		switch m.cmp {
		case "gt":
			return a > b
		case "gte":
			return a >= b
		case "lt":
			return a < b
		}
		return a <= b
	case m.re:
		return regexp.MustCompile(regexpText(v.text, m.reFlags)).MatchString(val)
	case m.cidr:
		p, _ := parseCIDR(v.text)
		a, err := netip.ParseAddr(val)
		if err != nil || a.Zone() != "" || a.Is6() && strings.Contains(val, ".") {
			return false
		}
		return p.Contains(a)
	case m.base64 || m.b64offset:
		for _, enc := range base64Variants(v.text, m.b64offset) {
			if globMatch(affix(globQuote(enc), m.match), val) {
				return true
			}
		}
		return false
	}
	pat := affix(v.text, m.match)
	if !m.cased {
		pat, val = strings.ToLower(pat), strings.ToLower(val)
	}
	return globMatch(pat, val)
}

func globQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(s)
}

func affix(p, match string) string {
	switch match {
	case "contains":
		return "*" + p + "*"
	case "startswith":
		return p + "*"
	case "endswith":
		return "*" + p
	}
	return p
}

// globMatch matches s against a Sigma wildcard string, by backtracking over
// runes.
func globMatch(p, s string) bool {
	pr, sr := []rune(p), []rune(s)
	var rec func(i, j int) bool
	memo := map[[2]int]bool{}
	rec = func(i, j int) bool {
		if r, ok := memo[[2]int{i, j}]; ok {
			return r
		}
		var res bool
		switch {
		case i == len(pr):
			res = j == len(sr)
		case pr[i] == '*':
			res = rec(i+1, j) || j < len(sr) && rec(i, j+1)
		case pr[i] == '?':
			res = j < len(sr) && rec(i+1, j+1)
		case pr[i] == '\\' && i+1 < len(pr) && strings.ContainsRune(`*?\`, pr[i+1]):
			res = j < len(sr) && sr[j] == pr[i+1] && rec(i+2, j+1)
		default:
			res = j < len(sr) && sr[j] == pr[i] && rec(i+1, j+1)
		}
		memo[[2]int{i, j}] = res
		return res
	}
	return rec(0, 0)
}
