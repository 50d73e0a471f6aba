package sigma

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type rawCorrRule struct {
	Type      string         `yaml:"type"`
	Rules     stringList     `yaml:"rules"`
	GroupBy   stringList     `yaml:"group-by"`
	Timespan  string         `yaml:"timespan"`
	Condition map[string]any `yaml:"condition"`
	Aliases   map[string]any `yaml:"aliases"`
	Generate  bool           `yaml:"generate"`
}

// correlation is a parsed correlation rule.
type correlation struct {
	typ      string
	rules    []string // ids or names, as written
	groupBy  []string
	timespan time.Duration
	op       string // gt, gte, lt, lte, eq; "" for temporal without condition
	n        int64
	field    string // value_count: the field whose distinct values count
	generate bool   // the rules named also report their own matches

	base []*Rule // resolved rules, in the order written
}

var timespanPattern = regexp.MustCompile(`^(\d{1,9})([smhdw])$`)

func parseTimespan(s string) (time.Duration, error) {
	m := timespanPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("timespan %q: want a number and s, m, h, d or w (e.g. 15m)", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	if n == 0 || n > int64(100*365*24*time.Hour/unit) {
		return 0, fmt.Errorf("timespan %q is out of range", s)
	}
	return time.Duration(n) * unit, nil
}

func parseCorrelation(raw *rawCorrRule) (*correlation, error) {
	c := &correlation{typ: raw.Type, rules: raw.Rules, groupBy: raw.GroupBy, generate: raw.Generate}
	switch c.typ {
	case "event_count", "value_count", "temporal", "temporal_ordered":
	case "":
		return nil, fmt.Errorf("no type (event_count, value_count, temporal, temporal_ordered)")
	default:
		return nil, fmt.Errorf("unknown type %q (event_count, value_count, temporal, temporal_ordered)", c.typ)
	}
	if len(raw.Aliases) > 0 {
		return nil, fmt.Errorf("aliases (fields named differently in each rule) are not supported")
	}
	if len(c.rules) == 0 {
		return nil, fmt.Errorf("names no rules")
	}
	if (c.typ == "temporal" || c.typ == "temporal_ordered") && len(c.rules) < 2 {
		return nil, fmt.Errorf("%s needs at least two rules", c.typ)
	}
	if len(c.rules) > 16 {
		return nil, fmt.Errorf("names more than 16 rules")
	}
	for _, f := range c.groupBy {
		if err := checkField(f); err != nil {
			return nil, fmt.Errorf("group-by: %w", err)
		}
	}
	var err error
	if c.timespan, err = parseTimespan(raw.Timespan); err != nil {
		return nil, err
	}
	for k, v := range raw.Condition {
		switch k {
		case "gt", "gte", "lt", "lte", "eq":
			if c.op != "" {
				return nil, fmt.Errorf("condition: give one of gt, gte, lt, lte, eq")
			}
			n, ok := v.(int)
			if !ok || n < 0 {
				return nil, fmt.Errorf("condition %s: want a whole number, not %v", k, v)
			}
			c.op, c.n = k, int64(n)
		case "field":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("condition field: want a field name")
			}
			if err := checkField(s); err != nil {
				return nil, fmt.Errorf("condition field: %w", err)
			}
			c.field = s
		default:
			return nil, fmt.Errorf("condition: unknown key %q", k)
		}
	}
	switch {
	case c.op == "" && (c.typ == "event_count" || c.typ == "value_count"):
		return nil, fmt.Errorf("%s needs a condition (gte: N, ...)", c.typ)
	case c.typ == "value_count" && c.field == "":
		return nil, fmt.Errorf("value_count needs condition.field")
	case c.typ != "value_count" && c.field != "":
		return nil, fmt.Errorf("condition.field is for value_count only")
	}
	return c, nil
}

// resolve finds the rules a correlation names, by id or name.
func (c *correlation) resolve(byRef map[string]*Rule) error {
	for _, ref := range c.rules {
		r, ok := byRef[ref]
		if !ok {
			return fmt.Errorf("correlation names rule %q, which is not among the compiled CloudTrail rules", ref)
		}
		if r.correlation != nil {
			return fmt.Errorf("correlation names correlation rule %q: chaining correlations is not supported", ref)
		}
		c.base = append(c.base, r)
	}
	return nil
}

func sqlOp(op string) string {
	return map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "="}[op]
}

// compileCorrelation builds the correlation's query: the events its rules
// match, windows of timespan over the whole history per group, and for each
// group the window that best meets the condition (most events, then
// earliest), with its events. Columns are those of query.Finding.
func compileCorrelation(r *Rule, timeFilter string) string {
	c := r.correlation
	span := fmt.Sprintf("INTERVAL '%d' SECOND", int64(c.timespan/time.Second))
	var gcols, gsel []string
	for i, f := range c.groupBy {
		gcols = append(gcols, fmt.Sprintf("g%d", i))
		gsel = append(gsel, fmt.Sprintf("%s AS g%d", rawPath(f), i))
	}
	partition := ""
	if len(gcols) > 0 {
		partition = "PARTITION BY " + strings.Join(gcols, ", ") + " "
	}
	var matches []string
	for i, b := range c.base {
		sel := []string{"event_time AS t", "event_key", "event_id", "actor", "account_id", "source_ip", "user_agent", fmt.Sprintf("%d AS r", i+1)}
		sel = append(sel, gsel...)
		if c.field != "" {
			sel = append(sel, rawPath(c.field)+" AS v")
		}
		matches = append(matches, "SELECT "+strings.Join(sel, ", ")+" FROM events WHERE event_time IS NOT NULL"+timeFilter+" AND "+b.Where)
	}
	var q strings.Builder
	q.WriteString("WITH m AS (\n  " + strings.Join(matches, "\n  UNION ALL\n  ") + "\n),\n")
	// An event two of the rules match counts once where rules do not matter.
	eventsOnce := "(SELECT * EXCLUDE (r) FROM m QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY r) = 1)"
	frame := "OVER (" + partition + "ORDER BY t RANGE BETWEEN " + span + " PRECEDING AND CURRENT ROW)"
	cond := func(n string) string {
		if c.op == "" {
			return fmt.Sprintf("%s = %d", n, len(c.base))
		}
		return fmt.Sprintf("%s %s %d", n, sqlOp(c.op), c.n)
	}
	switch c.typ {
	case "event_count":
		fmt.Fprintf(&q, "w AS (SELECT *, t - %s AS start, t AS stop, count(*) %s AS n FROM %s),\n", span, frame, eventsOnce)
	case "value_count":
		fmt.Fprintf(&q, "w AS (SELECT *, t - %s AS start, t AS stop, count(DISTINCT v) %s AS n FROM %s),\n", span, frame, eventsOnce)
	case "temporal":
		fmt.Fprintf(&q, "w AS (SELECT *, t - %s AS start, t AS stop, count(DISTINCT r) %s AS n FROM m),\n", span, frame)
	case "temporal_ordered":
		// chain k: for each event of rule k, the latest time a chain of
		// rules 1..k in order could have started, kept within timespan.
		fmt.Fprintf(&q, "c1 AS (SELECT %s t AS start, t FROM m WHERE r = 1),\n", prefix(gcols))
		for k := 2; k <= len(c.base); k++ {
			fmt.Fprintf(&q, "c%d AS (SELECT * EXCLUDE (step) FROM (SELECT %s t, step, max(start) OVER (%sORDER BY t, step ROWS UNBOUNDED PRECEDING) AS start FROM "+
				"(SELECT %s t, start, 0 AS step FROM c%d UNION ALL SELECT %s t, NULL, 1 FROM m WHERE r = %d)) WHERE step = 1 AND start >= t - %s),\n",
				k, prefix(gcols), partition, prefix(gcols), k-1, prefix(gcols), k, span)
		}
		// The chain's events are reported with those around them, as the
		// other types report their whole window.
		fmt.Fprintf(&q, "w AS (SELECT %s t - %s AS start, t AS stop, %d AS n FROM c%d),\n", prefix(gcols), span, len(c.base), len(c.base))
	}
	fmt.Fprintf(&q, "best AS (SELECT %s start, stop, n FROM w WHERE %s QUALIFY row_number() OVER (%sORDER BY n DESC, stop) = 1),\n", prefix(gcols), cond("n"), partition)
	var on []string
	for _, g := range gcols {
		on = append(on, fmt.Sprintf("m.%s IS NOT DISTINCT FROM best.%s", g, g))
	}
	on = append(on, "m.t BETWEEN best.start AND best.stop")
	var groupDesc []string
	for i, f := range c.groupBy {
		groupDesc = append(groupDesc, fmt.Sprintf("%s || '=' || coalesce(b_g%d, '(none)')", sqlString(f), i))
	}
	what := map[string]string{"event_count": "events", "value_count": "distinct " + c.field + " values", "temporal": "of the rules", "temporal_ordered": "rules in order"}[c.typ]
	details := fmt.Sprintf("%s || ' %s within %s'", "CAST(any_value(b_n) AS VARCHAR)", strings.ReplaceAll(what, "'", "''"), c.timespanText())
	if len(groupDesc) > 0 {
		details += " || ' for ' || " + strings.Join(groupDesc, " || ', ' || ")
	}
	// k numbers the events of a finding by time (an event two rules match
	// has one number), so the finding keeps the ids of its first ones.
	bcols := append([]string{"start", "stop"}, gcols...)
	fmt.Fprintf(&q, "j AS (SELECT m.*, %s, best.n AS b_n, dense_rank() OVER (PARTITION BY %s ORDER BY m.t, m.event_id) AS k\n  FROM m JOIN best ON %s)\n",
		strings.Join(aliased("best.", "b_", bcols), ", "), strings.Join(prefixed("best.", bcols), ", "), strings.Join(on, " AND "))
	fmt.Fprintf(&q, `SELECT array_to_string(list_sort(list(DISTINCT actor)), ', ') AS actor,
  min(account_id) AS account_id,
  list(DISTINCT source_ip) AS source_ips,
  list(DISTINCT user_agent) AS user_agents,
  min(t) AS first_seen, max(t) AS last_seen,
  count(DISTINCT event_key) AS count,
  `+firstIDs("t", "event_id", true)+` AS event_ids,
  %s AS details
FROM j
GROUP BY %s`, details, strings.Join(prefixed("b_", bcols), ", "))
	return q.String()
}

func (c *correlation) timespanText() string {
	d := c.timespan
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{7 * 24 * time.Hour, "w"}, {24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.name)
		}
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func prefix(cols []string) string {
	if len(cols) == 0 {
		return ""
	}
	return strings.Join(cols, ", ") + ", "
}

// aliased is the columns p+c AS a+c.
func aliased(p, a string, cols []string) []string {
	var out []string
	for _, c := range cols {
		out = append(out, p+c+" AS "+a+c)
	}
	return out
}

func prefixed(p string, cols []string) []string {
	var out []string
	for _, c := range cols {
		out = append(out, p+c)
	}
	return out
}
