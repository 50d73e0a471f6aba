package query

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// ruleFile is a rule with id, severity and the SELECT given.
func ruleFile(id, header, sel string) string {
	return "-- id: " + id + "\n-- title: t\n-- description: d\n" + header + sel
}

// TestBrokenFileLeavesTheOthers: a rule set with broken files loads the
// good ones and names every broken one, with why.
func TestBrokenFileLeavesTheOthers(t *testing.T) {
	rules, err := LoadRules(fstest.MapFS{
		"a-good.sql":         {Data: []byte(ruleFile("a-good", "-- severity: low\n", okSelect))},
		"b-broken.sql":       {Data: []byte(ruleFile("b-broken", "-- severity: urgent\n", okSelect))},
		"c-good.sql":         {Data: []byte(ruleFile("c-good", "-- severity: low\n", okSelect))},
		"dup/a-good.sql":     {Data: []byte(ruleFile("a-good", "-- severity: low\n", okSelect))},
		"misnamed.sql":       {Data: []byte(ruleFile("other", "-- severity: low\n", okSelect))},
		"notes/README.md":    {Data: []byte("not a rule")},
		"z-no-select.sql":    {Data: []byte(ruleFile("z-no-select", "-- severity: low\n", ""))},
		"z-param-unused.sql": {Data: []byte(ruleFile("z-param-unused", "-- severity: low\n-- param: n = 1\n", okSelect))},
	})
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"a-good", "c-good"}) {
		t.Errorf("loaded %v, want the two good rules", ids)
	}
	var failed RuleErrors
	if !errors.As(err, &failed) {
		t.Fatalf("error %v (%T), want RuleErrors", err, err)
	}
	var files []string
	for _, re := range failed {
		files = append(files, re.File)
	}
	if want := []string{"b-broken.sql", "dup/a-good.sql", "misnamed.sql", "z-no-select.sql", "z-param-unused.sql"}; !slices.Equal(files, want) {
		t.Errorf("failed files %v, want %v", files, want)
	}
	for _, want := range []string{`b-broken.sql, line 4: unknown severity "urgent"`, `dup/a-good.sql: rule id "a-good" is already used by a-good.sql`,
		"misnamed.sql: rule id \"other\" does not match", "z-no-select.sql: no SQL", "z-param-unused.sql: param n is declared but"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
}

// TestFailingRuleLeavesTheOthers: a rule that cannot run (DuckDB refuses
// it, the read-only guard refuses it, wrong columns) is named and skipped,
// and the findings of the rules around it come back.
func TestFailingRuleLeavesTheOthers(t *testing.T) {
	fsys := fstest.MapFS{}
	for id, sel := range map[string]string{
		"a-ok":          okSelect,
		"b-no-column":   "SELECT no_such_column FROM events",
		"c-writes":      "COPY (SELECT 1) TO 'x.csv'",
		"d-ok":          okSelect + ", 'it fired' AS details",
		"e-bad-columns": okSelect + ", 1 AS extra",
	} {
		fsys[id+".sql"] = &fstest.MapFile{Data: []byte(ruleFile(id, "-- severity: low\n", sel))}
	}
	rules, err := LoadRules(fsys)
	if err != nil {
		t.Fatal(err)
	}
	found, err := Detect(context.Background(), openTestStore(t).DB, rules, DetectOptions{})
	var got []string
	for _, f := range found {
		got = append(got, f.RuleID)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a-ok", "d-ok"}) {
		t.Errorf("findings of %v, want those of the two rules that run", got)
	}
	var failed RuleErrors
	if !errors.As(err, &failed) || len(failed) != 3 {
		t.Fatalf("error %v, want RuleErrors naming 3 rules", err)
	}
	for i, want := range []string{"b-no-column.sql: rule b-no-column: ", "c-writes.sql: rule c-writes: ", "e-bad-columns.sql: rule e-bad-columns: "} {
		if !strings.Contains(failed[i].Error(), want) {
			t.Errorf("failure %d is %q, want %q", i, failed[i], want)
		}
	}
	if !strings.Contains(failed[0].Error(), "no_such_column") || !strings.Contains(failed[1].Error(), "COPY") || !strings.Contains(failed[2].Error(), `unknown column "extra"`) {
		t.Errorf("failures do not say why:\n%v", err)
	}

	// A cancelled run is not a rule's failure: it stops with no findings.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	found, err = Detect(ctx, openTestStore(t).DB, rules, DetectOptions{})
	if found != nil || !errors.Is(err, context.Canceled) || errors.As(err, new(RuleErrors)) {
		t.Errorf("cancelled: %d findings, error %v", len(found), err)
	}
}

// TestQueryForSeveralRules: a language that runs many rules in one scan
// (Sigma) returns rule_id; each row becomes a finding of its rule.
func TestQueryForSeveralRules(t *testing.T) {
	db := openTestStore(t).DB
	rules := []Rule{
		{ID: "one", Title: "One", Severity: Low, Source: "set.yml"},
		{ID: "two", Title: "Two", Severity: High, Source: "set.yml"},
	}
	sel := func(id string) string {
		return "SELECT '" + id + "' AS rule_id, " + strings.TrimPrefix(okSelect, "SELECT ")
	}
	found, err := RunQueries(context.Background(), db, []RuleQuery{
		{Rules: rules, SQL: sel("two") + " UNION ALL " + sel("one")},
		{Rules: rules, SQL: sel("three"), Source: "more.yml"},
		{Rules: rules, SQL: okSelect},
	}, DetectOptions{})
	var got []string
	for _, f := range found {
		got = append(got, f.RuleID+" "+f.Title+" "+string(f.Severity))
	}
	if !slices.Equal(got, []string{"two Two high", "one One low"}) {
		t.Errorf("findings %q", got)
	}
	var failed RuleErrors
	if !errors.As(err, &failed) || len(failed) != 2 ||
		!strings.Contains(failed[0].Error(), `rule file more.yml: 2 rules (one, two): rule_id "three" is not a rule of this query`) ||
		!strings.Contains(failed[1].Error(), "rule file set.yml: 2 rules (one, two): a query for several rules returns rule_id") {
		t.Errorf("error %v", err)
	}
}

// TestEscalation: a rule whose severity column raises its findings says
// how far in the header, and findings keep to what the header says.
func TestEscalation(t *testing.T) {
	parse := func(header, sel string) (Rule, error) { return ParseRule("r.sql", []byte(ruleFile("r", header, sel))) }
	r, err := parse("-- severity: medium\n-- escalates_to: high\n", okSelect)
	if lo, hi := r.SeverityRange(); err != nil || lo != Medium || hi != High {
		t.Fatalf("range %s-%s, %v", lo, hi, err)
	}
	for _, tt := range []struct{ header, want string }{
		{"-- severity: high\n-- escalates_to: medium\n", "escalates_to medium is not above severity high"},
		{"-- severity: high\n-- escalates_to: high\n", "escalates_to high is not above severity high"},
		{"-- severity: low\n-- escalates_to: max\n", `line 5: escalates_to: unknown severity "max"`},
	} {
		if _, err := parse(tt.header, okSelect); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.header, err, tt.want)
		}
	}

	db := openTestStore(t).DB
	for _, tt := range []struct{ header, severity, want string }{
		{"-- severity: medium\n-- escalates_to: high\n", "high", ""},
		{"-- severity: medium\n-- escalates_to: high\n", "medium", ""},
		{"-- severity: medium\n-- escalates_to: high\n", "critical", "severity column: critical is outside the rule's medium to high"},
		{"-- severity: medium\n-- escalates_to: high\n", "low", "severity column: low is outside the rule's medium to high"},
		{"-- severity: medium\n", "high", "severity column: high is outside the rule's medium to medium"},
	} {
		r, err := parse(tt.header, okSelect+", '"+tt.severity+"' AS severity")
		if err != nil {
			t.Fatal(err)
		}
		found, err := Detect(context.Background(), db, []Rule{r}, DetectOptions{})
		switch {
		case tt.want == "" && (err != nil || len(found) != 1 || string(found[0].Severity) != tt.severity):
			t.Errorf("%q %s: %v %v", tt.header, tt.severity, found, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q %s: error %v, want %q", tt.header, tt.severity, err, tt.want)
		}
	}
}

// TestBuiltinEscalationsDeclared: a built-in rule that returns a severity
// column declares escalates_to, and one that does not, does not.
func TestBuiltinEscalationsDeclared(t *testing.T) {
	rules, err := BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	column := regexp.MustCompile(`(?i)\bAS\s+severity\b`)
	for _, r := range rules {
		if has := column.MatchString(stripComments(r.SQL)); has != (r.EscalatesTo != "") {
			t.Errorf("%s: returns a severity column: %v, declares escalates_to: %q", r.ID, has, r.EscalatesTo)
		}
	}
}

// TestFindingEventIDsAreBounded: a finding of any rule carries at most
// MaxFindingEventIDs event ids, the first its rule lists, while count
// keeps the whole number (given, or counted from the ids).
func TestFindingEventIDsAreBounded(t *testing.T) {
	n := MaxFindingEventIDs + 500
	ids := fmt.Sprintf("list('e' || lpad(i::VARCHAR, 5, '0') ORDER BY i) AS event_ids FROM range(%d) t(i)", n)
	var rules []Rule
	for _, c := range []struct{ id, count string }{{"counted", fmt.Sprint(n)}, {"uncounted", "0"}} {
		r, err := ParseRule(c.id+".sql", []byte(ruleFile(c.id, "-- severity: low\n",
			"SELECT 'a' AS actor, 'b' AS account_id, [] AS source_ips, [] AS user_agents, now() AS first_seen, now() AS last_seen, "+
				c.count+" AS count, "+ids)))
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	found, err := Detect(context.Background(), openTestStore(t).DB, rules, DetectOptions{})
	if err != nil || len(found) != 2 {
		t.Fatalf("%d findings, %v; want 2", len(found), err)
	}
	for _, f := range found {
		if len(f.EventIDs) != MaxFindingEventIDs || f.EventIDs[0] != "e00000" || f.EventIDs[MaxFindingEventIDs-1] != fmt.Sprintf("e%05d", MaxFindingEventIDs-1) {
			t.Errorf("%s: %d event ids from %v, want the first %d", f.RuleID, len(f.EventIDs), f.EventIDs[:1], MaxFindingEventIDs)
		}
		if f.Count != int64(n) {
			t.Errorf("%s: count %d, want %d", f.RuleID, f.Count, n)
		}
	}
}

// TestStagedSigninAttempts: a run whose queries read signin_attempts more
// than once computes it, and signin_events it reads, into staged tables,
// which hold exactly the rows the CTEs give over the same window (Since and
// Until both).
func TestStagedSigninAttempts(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	// A sign-in attempt every hour for three days, failed every third.
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO event_rows (event_key, event_time, event_source, event_name,
    event_id_text, user_type, user_name, actor, account_id, source_ip, outcome, mfa_used, raw, file_id, record_index)
  SELECT i, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_hours(i), 'signin.amazonaws.com', 'ConsoleLogin',
    'ev-' || i, 'IAMUser', 'user' || (i % 4), 'user' || (i % 4), '111122223333', '198.51.100.' || (i % 7),
    CASE WHEN i % 3 = 0 THEN 'Failure' ELSE 'Success' END, CASE WHEN i % 2 = 0 THEN 'Yes' ELSE 'No' END,
    '{}', 1, i
  FROM range(72) t(i)`); err != nil {
		t.Fatal(err)
	}
	reads := RuleQuery{SQL: "SELECT * FROM signin_attempts"}
	readsEvents := RuleQuery{SQL: "SELECT * FROM signin_events"}
	opts := DetectOptions{Since: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC), Until: time.Date(2024, 3, 2, 12, 0, 0, 0, time.UTC)}
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, tt := range []struct {
		queries []RuleQuery
		want    string // the relations staged
	}{
		{[]RuleQuery{reads}, ""},
		{[]RuleQuery{readsEvents}, ""},
		// signin_attempts computed by one query reads signin_events once.
		{[]RuleQuery{reads, readsEvents}, "signin_events"},
		{[]RuleQuery{readsEvents, readsEvents}, "signin_events"},
		// Staged, signin_attempts reads signin_events once.
		{[]RuleQuery{reads, reads}, "signin_attempts"},
		{[]RuleQuery{reads, reads, readsEvents}, "signin_attempts signin_events"},
		{[]RuleQuery{{SQL: "SELECT * FROM credential_events"}, {SQL: "SELECT * FROM credential_events -- and signin_events"}}, "credential_events"},
	} {
		staged, err := stageShared(ctx, conn, tt.queries, opts)
		if got := strings.Join(slices.Sorted(maps.Keys(staged)), " "); got != tt.want || err != nil {
			t.Errorf("%d queries (%s...): staged %q (%v), want %q", len(tt.queries), tt.queries[0].SQL, got, err, tt.want)
		}
		staged.drop(ctx, conn)
	}
	staged, err := stageShared(ctx, conn, []RuleQuery{reads, reads}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer staged.drop(ctx, conn)
	name := staged["signin_attempts"]
	if name != "temp.main."+stagedTable("signin_attempts") {
		t.Fatalf("signin_attempts staged as %q", name)
	}
	if text := narrowWith("SELECT * FROM signin_attempts", opts, staged); strings.Contains(text, "FROM signin_events") || !strings.Contains(text, name) {
		t.Errorf("a query of the staged signin_attempts computes it again:\n%s", text)
	}
	var rows, cte, differ int
	q := func(sql string, dest *int) {
		t.Helper()
		if err := conn.QueryRowContext(ctx, sql).Scan(dest); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	window := "(" + narrow("SELECT * FROM signin_attempts", opts) + ")"
	q("SELECT count(*) FROM "+name, &rows)
	q("SELECT count(*) FROM "+window, &cte)
	q("SELECT count(*) FROM ((SELECT * FROM "+name+" EXCEPT ALL SELECT * FROM "+window+
		") UNION ALL (SELECT * FROM "+window+" EXCEPT ALL SELECT * FROM "+name+"))", &differ)
	if rows != 24 || cte != 24 || differ != 0 {
		t.Errorf("staged %d rows, the CTE %d, %d differ: want the window's 24 attempts in both", rows, cte, differ)
	}
}

// TestStripComments: names in comments and strings are not reads; names
// after a string holding "--", and quoted identifiers, are.
func TestStripComments(t *testing.T) {
	for _, tt := range []struct{ q, want string }{
		{"SELECT 1 -- from signin_events\nFROM x", "SELECT 1 \nFROM x"},
		{"SELECT '--' AS a FROM signin_events", "SELECT '' AS a FROM signin_events"},
		{"SELECT * FROM e WHERE ua NOT LIKE '%--%' AND id IN (SELECT id FROM signin_events)", "SELECT * FROM e WHERE ua NOT LIKE '' AND id IN (SELECT id FROM signin_events)"},
		{"SELECT 'it''s signin_events' /* credential_events */ FROM \"signin_events\"", "SELECT ''   FROM \"signin_events\""},
		{"SELECT $$signin_events$$ FROM t", "SELECT '' FROM t"},
		{"SELECT 'unclosed -- x\nFROM signin_events", "SELECT 'unclosed \nFROM signin_events\n"},
	} {
		if got := stripComments(tt.q); got != tt.want {
			t.Errorf("stripComments(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
}
