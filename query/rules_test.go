package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func openTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The contract: these ids exist, and nothing else ships unannounced.
var builtinIDs = []string{
	"console-brute-force",
	"console-login-without-mfa",
	"console-mfa-failure",
	"console-password-spray",
	"credential-change-by-other-origin",
	"credential-used-from-new-location",
	"idc-mfa-failure",
	"mfa-device-change",
	"mfa-failure-burst",
	"mfa-removed-then-login",
	"role-chain-after-weak-signin",
	"root-console-login",
	"root-console-login-without-mfa",
	"signin-after-mfa-failure",
}

// TestBuiltinRulesRunOnEmptyStore prepares and runs every embedded rule
// against the real schema, with and without a time range.
func TestBuiltinRulesRunOnEmptyStore(t *testing.T) {
	rules, err := BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.ID)
		if r.Title == "" || r.Description == "" || len(r.Attack) == 0 || len(r.References) == 0 || len(r.FalsePositives) == 0 {
			t.Errorf("%s: title, description, attack, references and false_positives are all expected: %+v", r.ID, r)
		}
	}
	if strings.Join(ids, " ") != strings.Join(builtinIDs, " ") {
		t.Fatalf("builtin rule ids\n got %v\nwant %v", ids, builtinIDs)
	}
	s := openTestStore(t)
	ctx := context.Background()
	for _, opts := range []DetectOptions{
		{},
		{Since: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2024, 3, 8, 0, 0, 0, 0, time.UTC)},
	} {
		for _, r := range rules {
			q, err := r.Query(opts)
			if err != nil {
				t.Fatalf("%s: %v", r.ID, err)
			}
			stmt, err := s.DB.PrepareContext(ctx, q)
			if err != nil {
				t.Fatalf("%s: prepare: %v\n%s", r.ID, err, q)
			}
			stmt.Close()
		}
		found, err := Detect(ctx, s.DB, rules, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 0 {
			t.Fatalf("findings on an empty store: %v", found)
		}
	}
}

func TestParseRuleHeader(t *testing.T) {
	src := `-- id: my-rule
-- title: A rule
--   over two lines
-- severity: HIGH
-- attack: T1621, T1110.003
-- description: First line
--   continues here.
--
--   Second paragraph.
-- references:
--   - https://example.com/a
--   - https://example.com/b
-- false_positives:
--   - Someone
--     typing badly.
-- param: threshold = 3  (how many)
-- param: window = 90s

-- a free comment after the header
SELECT 'it''s $not_a_param' AS actor, NULL AS account_id, [] AS source_ips, [] AS user_agents,
  now() AS first_seen, now() - $window AS last_seen, $threshold AS count, [] AS event_ids -- $nor_this
;`
	r, err := ParseRule("dir/my-rule.sql", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Rule{
		ID: "my-rule", Title: "A rule over two lines", Severity: High, Attack: []string{"T1621", "T1110.003"},
		Description:    "First line continues here.\n\nSecond paragraph.",
		References:     []string{"https://example.com/a", "https://example.com/b"},
		FalsePositives: []string{"Someone typing badly."},
		Params:         []Param{{"threshold", "3", "how many", Integer}, {"window", "90s", "", Duration}},
	}
	if r.ID != want.ID || r.Title != want.Title || r.Severity != want.Severity || r.Description != want.Description ||
		strings.Join(r.Attack, "|") != strings.Join(want.Attack, "|") ||
		strings.Join(r.References, "|") != strings.Join(want.References, "|") ||
		strings.Join(r.FalsePositives, "|") != strings.Join(want.FalsePositives, "|") ||
		len(r.Params) != 2 || r.Params[0] != want.Params[0] || r.Params[1] != want.Params[1] {
		t.Fatalf("parsed\n%#v\nwant\n%#v", r, want)
	}
	if !strings.HasPrefix(r.SQL, "-- a free comment") || strings.HasSuffix(r.SQL, ";") {
		t.Errorf("SQL body: %q", r.SQL)
	}
	q, err := r.Render(map[string]string{"window": "2h"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"now() - (INTERVAL '7200' SECOND)", "(3) AS count", "'it''s $not_a_param'", "-- $nor_this"} {
		if !strings.Contains(q, s) {
			t.Errorf("rendered SQL lacks %q:\n%s", s, q)
		}
	}
	found, err := Detect(context.Background(), openTestStore(t).DB, []Rule{r}, DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Actor != "it's $not_a_param" || found[0].Count != 3 || found[0].Severity != High {
		t.Fatalf("findings: %+v", found)
	}
}

const okHeader = "-- id: r\n-- title: t\n-- severity: low\n-- description: d\n"
const okSelect = "SELECT 'a' AS actor, 'b' AS account_id, [] AS source_ips, [] AS user_agents, now() AS first_seen, now() AS last_seen, 1 AS count, ['e'] AS event_ids"

// TestBrokenRuleFiles: every problem is reported with the file name and
// what is wrong. (Whether the SQL is one SELECT is the read-only guard's
// call, when the rule runs: TestHostileRuleFiles.)
func TestBrokenRuleFiles(t *testing.T) {
	tests := []struct {
		name, file, src, want string
	}{
		{"unknown key", "r.sql", okHeader + "-- severty: high\n" + okSelect, "r.sql, line 5: unknown key \"severty\""},
		{"bad severity", "r.sql", "-- id: r\n-- title: t\n-- severity: urgent\n-- description: d\n" + okSelect, "line 3: unknown severity \"urgent\""},
		{"missing title", "r.sql", "-- id: r\n-- severity: low\n-- description: d\n" + okSelect, "r.sql: the header has no \"title\""},
		{"id vs file name", "other.sql", okHeader + okSelect, "rule id \"r\" does not match the file name"},
		{"bad id", "R x.sql", "-- id: R x\n" + okSelect, "id \"R x\" must be lower-case"},
		{"no sql", "r.sql", okHeader, "no SQL after the header"},
		{"only comments", "r.sql", okHeader + "\n-- nothing\n;", "no SQL after the header"},
		{"undeclared param", "r.sql", okHeader + okSelect + " WHERE 1 < $n", "uses $n but the header declares no"},
		{"unused param", "r.sql", okHeader + "-- param: n = 3\n" + okSelect, "param n is declared but the SQL never uses $n"},
		{"bad param default", "r.sql", okHeader + "-- param: n = lots\n" + okSelect, "default \"lots\" is neither an integer nor a duration"},
		{"bad param line", "r.sql", okHeader + "-- param: n\n" + okSelect, "want `name = default (description)`"},
		{"positional param", "r.sql", okHeader + okSelect + " WHERE 1 < $1", "positional parameters"},
		{"bad attack", "r.sql", okHeader + "-- attack: credential access\n" + okSelect, "not an ATT&CK technique id"},
		{"stray header line", "r.sql", okHeader + "--nonsense here\n" + okSelect, "line 5: expected `-- key: value`"},
		{"unclosed string", "r.sql", okHeader + okSelect + " WHERE actor = 'x", "not closed"},
		{"twice", "r.sql", okHeader + "-- title: again\n" + okSelect, "title is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadRules(fstest.MapFS{"rules/" + tt.file: {Data: []byte(tt.src)}})
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T), want a *RuleError", err, err)
			}
			if !strings.Contains(err.Error(), "rules/"+tt.file) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nwant the file name and %q", err, tt.want)
			}
		})
	}
	t.Run("duplicate id", func(t *testing.T) {
		_, err := LoadRules(fstest.MapFS{
			"a/r.sql": {Data: []byte(okHeader + okSelect)},
			"b/r.sql": {Data: []byte(okHeader + okSelect)},
		})
		if err == nil || !strings.Contains(err.Error(), `rule id "r" is already used by a/r.sql`) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("only .sql files", func(t *testing.T) {
		rules, err := LoadRules(fstest.MapFS{"r.sql": {Data: []byte(okHeader + okSelect)}, "README.md": {Data: []byte("hi")}})
		if err != nil || len(rules) != 1 {
			t.Fatalf("rules %v, err %v", rules, err)
		}
	})
}

// TestRuleResultColumns: a rule returning the wrong columns fails with its
// name, when run.
func TestRuleResultColumns(t *testing.T) {
	db := openTestStore(t).DB
	for _, tt := range []struct{ sql, want string }{
		{"SELECT 'a' AS actor", `no "account_id" column`},
		{okSelect + ", 1 AS extra", `unknown column "extra"`},
		{okSelect + ", 'urgent' AS severity", `severity column: unknown severity "urgent"`},
		{"SELECT * FROM no_such_table", "no_such_table"},
	} {
		rules, err := LoadRules(fstest.MapFS{"r.sql": {Data: []byte(okHeader + tt.sql)}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Detect(context.Background(), db, rules, DetectOptions{})
		var re *RuleError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "rule file r.sql: rule r: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.sql, err, tt.want)
		}
	}
}

func TestParamValues(t *testing.T) {
	rules, err := LoadRules(fstest.MapFS{"r.sql": {Data: []byte(okHeader +
		"-- param: n = 5\n-- param: w = 15m\n" + okSelect + " WHERE $n > 0 AND now() - $w < now()")}})
	if err != nil {
		t.Fatal(err)
	}
	r := rules[0]
	for _, tt := range []struct {
		vals map[string]string
		want string // in the SQL, or in the error
		ok   bool
	}{
		{map[string]string{"n": "7"}, "(7) > 0 AND now() - (INTERVAL '900' SECOND)", true},
		{map[string]string{"n": "-1"}, "(-1) > 0", true},
		{map[string]string{"w": "7d"}, "(INTERVAL '604800' SECOND)", true},
		{map[string]string{"w": "1h30m"}, "(INTERVAL '5400' SECOND)", true},
		{map[string]string{"n": "1; DROP TABLE events"}, `n: "1; DROP TABLE events" is not an integer`, false},
		{map[string]string{"w": "1' SECOND); DROP TABLE events; --"}, "invalid duration", false},
		{map[string]string{"w": "1.5s"}, "whole number of seconds", false},
		{map[string]string{"w": "0s"}, "positive", false},
		{map[string]string{"w": "5"}, "invalid duration", false},
		{map[string]string{"x": "5"}, `rule r has no parameter "x" (it has n, w)`, false},
	} {
		q, err := r.Render(tt.vals)
		switch {
		case tt.ok && err != nil:
			t.Errorf("%v: %v", tt.vals, err)
		case tt.ok && !strings.Contains(q, tt.want):
			t.Errorf("%v: SQL lacks %q:\n%s", tt.vals, tt.want, q)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: error %v, want %q", tt.vals, err, tt.want)
		}
	}
	_, err = Detect(context.Background(), openTestStore(t).DB, rules, DetectOptions{Params: map[string]map[string]string{"nope": {"n": "1"}}})
	if err == nil || !strings.Contains(err.Error(), `rule "nope"`) {
		t.Errorf("params for an unknown rule: %v", err)
	}
}

func TestSeverity(t *testing.T) {
	if Critical.Rank() <= High.Rank() || High.Rank() <= Medium.Rank() || Low.Rank() <= Info.Rank() || Severity("x").Rank() != 0 {
		t.Fatal("severity ranks out of order")
	}
	if s, err := ParseSeverity(" Critical "); err != nil || s != Critical {
		t.Fatal(s, err)
	}
}

func ExampleLoadRules() {
	rule := `-- id: many-regions
-- title: A user active in many regions
-- severity: low
-- description: More than $regions regions in a day.
-- param: regions = 5  (distinct regions)
SELECT actor, account_id, list(DISTINCT source_ip) AS source_ips, list(DISTINCT user_agent) AS user_agents,
  min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS count, list(event_id) AS event_ids
FROM events
GROUP BY actor, account_id, date_trunc('day', event_time)
HAVING count(DISTINCT aws_region) > $regions`
	rules, err := LoadRules(fstest.MapFS{"my-rules/many-regions.sql": {Data: []byte(rule)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := rules[0]
	fmt.Println(r.ID, r.Severity, r.Params[0].Name, r.Params[0].Kind, r.Params[0].Default)
	q, _ := r.Render(map[string]string{"regions": "8"})
	fmt.Println(q[strings.LastIndex(q, "HAVING"):])
	// Output:
	// many-regions low regions integer 5
	// HAVING count(DISTINCT aws_region) > (8)
}
