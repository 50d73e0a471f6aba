package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/query"
)

func detectionFixture(rule string) string {
	return filepath.Join("..", "..", "query", "testdata", "detections", rule)
}

// detectCase ingests the root sign-in fixtures and a sign-in whose
// attacker-controlled fields try formula and terminal injection.
func detectCase(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	evil := `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEVIL","accountId":"111122223333","accessKeyId":"","userName":"=HYPERLINK(\"http://x\")"},` +
		`"eventTime":"2024-03-05T10:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1",` +
		`"sourceIPAddress":"203.0.113.5","userAgent":"\u001b[31mred\u001b[0m","errorMessage":"Failed authentication","requestParameters":null,` +
		`"responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"MFAUsed":"Yes"},"eventID":"evil-mfa-failure-0001",` +
		`"eventType":"AwsConsoleSignIn","recipientAccountId":"111122223333"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "evil.ndjson"), []byte(evil), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "case.duckdb")
	if _, stderr, code := run(t, "", "ingest", "-q", "--db", db, detectionFixture("root-console-login"), dir); code != 0 {
		t.Fatalf("ingest: exit %d %s", code, stderr)
	}
	return db
}

func decodeJSONL(t *testing.T, out string) []query.Finding {
	t.Helper()
	var found []query.Finding
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var f query.Finding
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("not JSON lines: %v\n%s", err, out)
		}
		found = append(found, f)
	}
	return found
}

func TestDetectCLI(t *testing.T) {
	db := detectCase(t)
	stdout, stderr, code := run(t, "", "detect", "--db", db, "--format", "jsonl")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	found := decodeJSONL(t, stdout)
	var got []string
	for _, f := range found {
		got = append(got, string(f.Severity)+" "+f.RuleID+" "+strings.Join(f.EventIDs, ","))
	}
	want := []string{
		"critical root-console-login-without-mfa root-success-mfa-no",
		"critical root-console-login-without-mfa root-success-mfa-absent",
		"high root-console-login root-success-mfa-yes",
		"high root-console-login root-success-mfa-YES",
		"high root-console-login root-success-mfa-no",
		"high root-console-login root-success-mfa-absent",
		"medium console-mfa-failure root-neg-failure-mfa-yes",
		"medium console-login-without-mfa root-neg-iam-user-named-root",
		"medium console-login-without-mfa root-neg-iam-user-alice",
		"medium console-mfa-failure evil-mfa-failure-0001",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings, in order:\n got %q\nwant %q", got, want)
	}
	f := found[0]
	if f.Title == "" || f.Actor != "root" || f.AccountID != "111122223333" || f.Count != 1 ||
		!f.FirstSeen.Equal(time.Date(2024, 3, 4, 11, 0, 0, 0, time.UTC)) || len(f.SourceIPs) != 1 || len(f.UserAgents) != 1 {
		t.Errorf("first finding = %+v", f)
	}
	if !strings.Contains(stderr, "10 findings: 2 critical, 4 high, 4 medium from 14 rules") {
		t.Errorf("summary on stderr: %q", stderr)
	}

	// --rule, --since/--until (a date is the whole day), --fail-on.
	stdout, stderr, code = run(t, "", "detect", "--db", db, "--format", "jsonl", "--rule", "root-console-login,console-mfa-failure",
		"--since", "2024-03-04T10:30:00Z", "--until", "2024-03-04", "--fail-on", "high")
	if code != exitFindings || !strings.Contains(stderr, "3 finding(s) at or above high") {
		t.Fatalf("--fail-on high: exit %d, stderr %q", code, stderr)
	}
	got = nil
	for _, f := range decodeJSONL(t, stdout) {
		got = append(got, f.RuleID+" "+strings.Join(f.EventIDs, ","))
	}
	want = []string{"root-console-login root-success-mfa-YES", "root-console-login root-success-mfa-no",
		"root-console-login root-success-mfa-absent", "console-mfa-failure root-neg-failure-mfa-yes"}
	if !slices.Equal(got, want) {
		t.Errorf("--rule/--since/--until:\n got %q\nwant %q", got, want)
	}
	if _, _, code := run(t, "", "detect", "--db", db, "-q", "--rule", "console-mfa-failure", "--fail-on", "high"); code != exitOK {
		t.Errorf("a medium finding with --fail-on high: exit %d, want 0", code)
	}

	// JSON is one array; an empty result is [] and exits 0.
	stdout, _, code = run(t, "", "detect", "--db", db, "-q", "--format", "json", "--since", "2030-01-01", "--fail-on", "info")
	if code != exitOK || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("no findings: exit %d, %q", code, stdout)
	}
}

func TestDetectOutputIsSafe(t *testing.T) {
	db := detectCase(t)
	stdout, _, code := run(t, "", "detect", "--db", db, "-q", "--format", "csv", "--rule", "console-mfa-failure", "--since", "2024-03-05")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv: %v\n%s", err, stdout)
	}
	row := map[string]string{}
	for i, h := range recs[0] {
		row[h] = recs[1][i]
	}
	if row["actor"] != `'=HYPERLINK("http://x")` || !strings.HasPrefix(row["details"], `'=HYPERLINK`) {
		t.Errorf("formula not neutralised: actor %q details %q", row["actor"], row["details"])
	}
	if row["event_ids"] != `["evil-mfa-failure-0001"]` || row["first_seen"] != "2024-03-05T10:00:00Z" || row["count"] != "1" {
		t.Errorf("csv row = %v", row)
	}

	stdout, _, _ = run(t, "", "detect", "--db", db, "-q", "--rule", "console-mfa-failure")
	if strings.ContainsRune(stdout, 0x1b) || !strings.Contains(stdout, "SEVERITY") || !strings.Contains(stdout, "console-mfa-failure") {
		t.Errorf("table:\n%s", stdout)
	}
	stdout, _, _ = run(t, "", "detect", "--db", db, "-q", "--format", "json", "--rule", "console-mfa-failure", "--since", "2024-03-05")
	var found []query.Finding
	if err := json.Unmarshal([]byte(stdout), &found); err != nil || len(found) != 1 || found[0].UserAgents[0] != "\x1b[31mred\x1b[0m" {
		t.Errorf("json keeps the text as logged, escaped: %v %q", err, stdout)
	}
}

func TestDetectParamsAndUserRules(t *testing.T) {
	db := filepath.Join(t.TempDir(), "case.duckdb")
	if _, stderr, code := run(t, "", "ingest", "-q", "--db", db, detectionFixture("mfa-failure-burst")); code != 0 {
		t.Fatalf("ingest: %s", stderr)
	}
	ids := func(args ...string) []string {
		t.Helper()
		stdout, stderr, code := run(t, "", append([]string{"detect", "--db", db, "-q", "--format", "jsonl"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, stderr)
		}
		var out []string
		for _, f := range decodeJSONL(t, stdout) {
			out = append(out, f.RuleID+":"+f.Actor)
		}
		slices.Sort(out)
		return out
	}
	got := ids("--rule", "mfa-failure-burst", "--set", "mfa-failure-burst.threshold=3", "--set", "mfa-failure-burst.window=30m")
	if !slices.Equal(got, []string{"mfa-failure-burst:alice"}) {
		t.Errorf("threshold 3: %v", got)
	}
	got = ids("--rule", "mfa-failure-burst", "--set", "mfa-failure-burst.window=30m")
	if !slices.Equal(got, []string{"mfa-failure-burst:Dave", "mfa-failure-burst:alice", "mfa-failure-burst:bob", "mfa-failure-burst:carol"}) {
		t.Errorf("window 30m: %v", got)
	}

	// A user's rule directory: a new rule, and one replacing a built-in.
	rules := t.TempDir()
	mine := `-- id: my-mfa-users
-- title: Everyone who used MFA at sign-in
-- severity: low
-- description: Lists users whose failed sign-ins used MFA.
-- param: min = 2  (sign-ins)
SELECT actor, account_id, list(DISTINCT source_ip) AS source_ips, list(DISTINCT user_agent) AS user_agents,
  min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS count, list(event_id) AS event_ids
FROM events WHERE mfa_used = 'Yes' GROUP BY ALL HAVING count(*) >= $min
`
	os.WriteFile(filepath.Join(rules, "my-mfa-users.sql"), []byte(mine), 0o644)
	got = ids("--rules", rules, "--rule", "my-mfa-users", "--set", "my-mfa-users.min=3")
	if !slices.Equal(got, []string{"my-mfa-users:alice"}) {
		t.Errorf("user rule: %v", got)
	}
	stdout, _, code := run(t, "", "rules", "--rules", rules)
	if code != 0 || !strings.Contains(stdout, "my-mfa-users") || !strings.Contains(stdout, "mfa-failure-burst") {
		t.Errorf("rules --rules:\n%s", stdout)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "mfa-failure-burst.window=soon"}, `invalid duration "soon"`},
		{[]string{"--set", "mfa-failure-burst.threshold=1;DROP"}, "is not an integer"},
		{[]string{"--set", "mfa-failure-burst.depth=3"}, `has no parameter "depth"`},
		{[]string{"--set", "no-such-rule.window=1h"}, `no rule "no-such-rule"`},
		{[]string{"--set", "window=1h"}, "want RULE-ID.PARAM=VALUE"},
		{[]string{"--rule", "no-such-rule"}, `no rule "no-such-rule"`},
		{[]string{"--format", "xml"}, `--format "xml"`},
		{[]string{"--fail-on", "urgent"}, "--fail-on"},
		{[]string{"--since", "yesterday"}, `--since "yesterday"`},
		{[]string{"--since", "2024-03-02", "--until", "2024-03-01"}, "is not before"},
		{[]string{"--rules", filepath.Join(rules, "nope")}, "--rules"},
		{[]string{"--db", filepath.Join(t.TempDir(), "none.duckdb")}, "no trailsift database"},
	} {
		_, stderr, code := run(t, "", append([]string{"detect", "--db", db}, tt.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}

	// A rule of the user's that fails when run is a usage error too.
	os.WriteFile(filepath.Join(rules, "bad-column.sql"), []byte("-- id: bad-column\n-- title: x\n-- severity: low\n-- description: d\nSELECT no_such_column FROM events"), 0o644)
	_, stderr, code := run(t, "", "detect", "--db", db, "--rules", rules, "--rule", "bad-column")
	if code != exitUsage || !strings.Contains(stderr, "bad-column.sql: rule bad-column: ") || !strings.Contains(stderr, "no_such_column") {
		t.Errorf("failing user rule: exit %d, %q", code, stderr)
	}
	os.Remove(filepath.Join(rules, "bad-column.sql"))

	// A broken rule file is named, with the problem.
	os.WriteFile(filepath.Join(rules, "broken.sql"), []byte("-- id: broken\n-- title: x\n-- severity: bad\n-- description: d\nSELECT 1"), 0o644)
	_, stderr, code = run(t, "", "detect", "--db", db, "--rules", rules)
	if code != exitUsage || !strings.Contains(stderr, "broken.sql, line 3: unknown severity") {
		t.Errorf("broken rule: exit %d, %q", code, stderr)
	}
}

func TestRulesCLI(t *testing.T) {
	stdout, _, code := run(t, "", "rules")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range []string{"ID", "SEVERITY", "ATT&CK", "console-login-without-mfa", "critical", "T1621"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("rules lacks %q:\n%s", s, stdout)
		}
	}
	stdout, _, code = run(t, "", "rules", "show", "mfa-failure-burst")
	for _, s := range []string{"mfa-failure-burst: Repeated MFA failures", "severity:  high", "threshold = 2", "window = 15m",
		"Known false positives:", "References:", "SQL:", "WHERE size >= $threshold"} {
		if code != 0 || !strings.Contains(stdout, s) {
			t.Errorf("rules show lacks %q:\n%s", s, stdout)
		}
	}
	stdout, _, code = run(t, "", "rules", "--format", "json")
	var rules []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rules); err != nil || code != 0 || len(rules) != 14 {
		t.Errorf("rules --format json: %v, %d rules", err, len(rules))
	}
	if _, stderr, code := run(t, "", "rules", "show", "nope"); code != exitUsage || !strings.Contains(stderr, `no rule "nope"`) {
		t.Errorf("rules show nope: exit %d %q", code, stderr)
	}
	for _, args := range [][]string{{"detect", "--help"}, {"rules", "--help"}, {"rules", "show", "--help"}} {
		stdout, _, code := run(t, "", args...)
		if code != 0 || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "Exit status:") {
			t.Errorf("%v: exit %d\n%s", args, code, stdout)
		}
	}
}

// userRule is a rule file of the user's: id, severity and a SELECT.
func userRule(id, severity, sel string) string {
	return "-- id: " + id + "\n-- title: " + id + "\n-- severity: " + severity + "\n-- description: a test rule.\n" + sel + "\n"
}

// TestBrokenUserRulesDoNotStopTheOthers: a rule folder with a file that
// does not load and a rule that does not run: each is named with why, the
// other rules (built-in and the user's) run and print their findings, and
// the exit status is a usage error, whatever --fail-on says.
func TestBrokenUserRulesDoNotStopTheOthers(t *testing.T) {
	db := samplesCase(t)
	dir := t.TempDir()
	const sel = "SELECT actor, account_id, list(DISTINCT source_ip) AS source_ips, list(DISTINCT user_agent) AS user_agents,\n" +
		"  min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS count, list(event_id) AS event_ids\n" +
		"FROM events WHERE event_name = 'ListUsers' GROUP BY ALL"
	for name, src := range map[string]string{
		"list-users.sql":       userRule("list-users", "low", sel),
		"bad-severity.sql":     userRule("bad-severity", "urgent", sel),
		"sub/bad-column.sql":   userRule("bad-column", "low", "SELECT no_such_column FROM events"),
		"sub/raises-high.sql":  userRule("raises-high", "low", strings.Replace(sel, " AS event_ids", " AS event_ids, 'high' AS severity", 1)),
		"notes/not-a-rule.txt": "ignored",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, code := run(t, "", "detect", "--db", db, "--format", "jsonl", "--rules", dir+string(os.PathSeparator), "--fail-on", "info")
	if code != exitUsage {
		t.Errorf("exit %d, want %d (a rule of the user's failed)\n%s", code, exitUsage, stderr)
	}
	rules := map[string]int{}
	for _, f := range decodeJSONL(t, stdout) {
		rules[f.RuleID]++
	}
	if rules["list-users"] != 1 || rules["mfa-device-change"] != 2 || rules["console-brute-force"] != 1 || len(rules) != 15 {
		t.Errorf("findings by rule: %v; want the built-in ones and list-users", rules)
	}
	for _, want := range []string{
		filepath.Join(dir, "bad-severity.sql") + `, line 3: unknown severity "urgent"`,
		filepath.Join(dir, "sub", "bad-column.sql") + ": rule bad-column: ",
		"no_such_column",
		filepath.Join(dir, "sub", "raises-high.sql") + ": rule raises-high: severity column: high is outside the rule's low to low",
		"3 rule(s) could not be loaded or run (said above); the other rules ran",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, string(os.PathSeparator)+string(os.PathSeparator)) {
		t.Errorf("a doubled separator in a path:\n%s", stderr)
	}

	// rules lists the rules that loaded, names the one that did not.
	stdout, stderr, code = run(t, "", "rules", "--rules", dir)
	if code != exitUsage || !strings.Contains(stdout, "list-users") || !strings.Contains(stdout, "mfa-device-change") ||
		strings.Contains(stdout, "bad-severity") || !strings.Contains(stderr, `bad-severity.sql, line 3: unknown severity`) {
		t.Errorf("rules: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// One good rule picked still says that a file beside it is broken;
	// without --rules, the built-in rules exit 0.
	if _, stderr, code := run(t, "", "detect", "--db", db, "-q", "--rules", dir, "--rule", "list-users"); code != exitUsage || !strings.Contains(stderr, "could not be loaded") {
		t.Errorf("--rule list-users with a broken file beside it: exit %d %q", code, stderr)
	}
	if _, stderr, code := run(t, "", "detect", "--db", db, "-q"); code != exitOK {
		t.Errorf("built-in rules: exit %d %q", code, stderr)
	}
}

// TestRulesShowEscalation: a rule whose findings can be raised lists its
// range, in the table, in JSON and in rules show.
func TestRulesShowEscalation(t *testing.T) {
	stdout, _, _ := run(t, "", "rules")
	lines := map[string]string{}
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.Fields(l); len(f) > 2 {
			lines[f[0]] = f[1]
		}
	}
	for id, want := range map[string]string{"mfa-device-change": "medium→high", "console-brute-force": "medium→high",
		"console-mfa-failure": "medium", "root-console-login-without-mfa": "critical"} {
		if lines[id] != want {
			t.Errorf("rules lists %s as %q, want %q", id, lines[id], want)
		}
	}
	stdout, _, _ = run(t, "", "rules", "--format", "json")
	var rules []ruleJSON
	if err := json.Unmarshal([]byte(stdout), &rules); err != nil {
		t.Fatal(err)
	}
	escalates := map[string]string{}
	for _, r := range rules {
		escalates[r.ID] = r.Severity + "→" + r.EscalatesTo
	}
	if escalates["mfa-device-change"] != "medium→high" || escalates["mfa-failure-burst"] != "high→" {
		t.Errorf("rules --format json: severity→escalates_to %v", escalates)
	}
	stdout, _, _ = run(t, "", "rules", "show", "mfa-device-change")
	if !strings.Contains(stdout, "severity:  medium→high\n") {
		t.Errorf("rules show:\n%s", stdout)
	}
}
