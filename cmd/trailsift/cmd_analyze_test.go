package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/samples"
)

// findingKey identifies a finding by what a responder checks: the rule,
// who, which account and exactly which events.
func findingKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var v struct {
			RuleID    string   `json:"rule_id"`
			Actor     string   `json:"actor"`
			AccountID string   `json:"account_id"`
			EventIDs  []string `json:"event_ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		sort.Strings(v.EventIDs)
		keys = append(keys, strings.Join([]string{v.RuleID, v.Actor, v.AccountID, strings.Join(v.EventIDs, ",")}, "|"))
	}
	sort.Strings(keys)
	return keys
}

func sampleInputs() []string {
	dir := filepath.Join("..", "..", "samples")
	return []string{
		filepath.Join(dir, "s3-export.zip"), filepath.Join(dir, "event-history.json"),
		filepath.Join(dir, "lookup-events-page1.json"), filepath.Join(dir, "lookup-events-page2.json"),
		filepath.Join(dir, "lake-export.ndjson"), filepath.Join(dir, "corrupt"),
	}
}

// TestAnalyzeSamples runs the main job on the bundled samples: every
// finding of the story appears, and nothing else.
func TestAnalyzeSamples(t *testing.T) {
	out := filepath.Join(t.TempDir(), "case1")
	args := append([]string{"analyze", "-q", "--out", out}, sampleInputs()...)
	_, stderr, code := run(t, "", args...)
	// A corrupt file (3) and a log file deleted from the zip (5): integrity wins.
	if code != exitIntegrity || !strings.Contains(stderr, "integrity check failed: 1 problems") {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitIntegrity, stderr)
	}
	for _, name := range []string{"case.duckdb", "findings.jsonl", "report.html", "report.md"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s missing or empty: %v", name, err)
		}
	}
	got := findingKeys(t, filepath.Join(out, "findings.jsonl"))
	want := findingKeys(t, filepath.Join("..", "..", "samples", "expected-findings.jsonl"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings differ from samples/expected-findings.jsonl\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if n := queryOnce(t, out, "SELECT count(*) FROM events"); n != "184" {
		t.Errorf("events = %s, want 184 (179 unique + 5 kept before the truncation)", n)
	}
	if n := queryOnce(t, out, "SELECT count(*) FROM findings"); n != "16" {
		t.Errorf("findings table rows = %s", n)
	}
	// The report carries the digest check of the evidence (one log file of
	// the samples is listed in a digest but missing) and the coverage.
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Log file integrity (CloudTrail digests)", "**FAILED**: 36 digest files in 4 chains",
		"| fail | log-missing | 111111111111 | us-east-1 |", "Signatures: not checked", "## Coverage and trail tampering"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}

	// The views answer the story's questions without JSON paths.
	for q, want := range map[string]string{
		"SELECT string_agg(action || ':' || changed_by || '->' || target_user, ' ' ORDER BY event_time) FROM mfa_device_changes WHERE account_id = '111111111111'": "deactivated:alice->alice deleted:alice->alice",
		"SELECT count(*) FROM root_activity WHERE event_name = 'ConsoleLogin' AND mfa_used = 'No'":                                                                 "1",
		"SELECT count(*) FROM signins WHERE kind = 'federated' AND result = 'Success'":                                                                             queryOnce(t, out, "SELECT count(*) FROM events WHERE event_name = 'ConsoleLogin' AND user_type NOT IN ('IAMUser', 'Root') AND login_result = 'Success'"),
		"SELECT count(*) FROM signins WHERE kind = 'identity-center' AND result = 'Failure' AND credential_type LIKE '%TOTP%'":                                     "1",
	} {
		if got := queryOnce(t, out, q); got != want {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}

	// Again on the same evidence: nothing is stored twice, and the corrupt
	// file, read again, still fails the run.
	_, stderr, code = run(t, "", args...)
	// The corrupt file still fails (3), but the missing log file wins (5).
	if code != exitIntegrity {
		t.Fatalf("second run: exit %d; %s", code, stderr)
	}
	if n := queryOnce(t, out, "SELECT count(*) FROM events"); n != "184" {
		t.Errorf("events after re-run = %s", n)
	}
	if got2 := findingKeys(t, filepath.Join(out, "findings.jsonl")); strings.Join(got2, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings changed on re-run")
	}
}

// TestAnalyzeFindsPlantedIncidents checks the rules against the generator's
// ground truth: exactly the planted findings, no more, no fewer.
func TestAnalyzeFindsPlantedIncidents(t *testing.T) {
	corpus := filepath.Join(t.TempDir(), "corpus")
	if _, err := samples.Generate(samples.Options{Out: corpus, Events: 30000, Accounts: 2, Regions: 2, Days: 3,
		Start: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Seed: 7}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "case")
	_, stderr, code := run(t, "", "analyze", "-q", "--out", out, filepath.Join(corpus, "AWSLogs"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := findingKeys(t, filepath.Join(out, "findings.jsonl"))
	want := findingKeys(t, filepath.Join(corpus, "ground-truth.jsonl"))
	if len(want) < 11 {
		t.Fatalf("ground truth has only %d findings", len(want))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings differ from the ground truth\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestAnalyzeRefusesCaseInsideEvidence(t *testing.T) {
	evidence := t.TempDir()
	copyTree(t, fixture("records"), evidence)
	_, stderr, code := run(t, "", "analyze", "--out", filepath.Join(evidence, "case"), evidence)
	if code != exitUsage || !strings.Contains(stderr, "inside the evidence") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(evidence, "case")); err == nil {
		t.Error("a case folder was created inside the evidence")
	}
}

// queryOnce runs one query through the CLI on a case folder's database.
func queryOnce(t *testing.T, caseDir, q string) string {
	t.Helper()
	out, stderr, code := run(t, "", "query", "--db", filepath.Join(caseDir, "case.duckdb"), "--format", "csv", q)
	if code != 0 {
		t.Fatalf("%s: exit %d %s", q, code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// TestAnalyzeAndReportTakeRuleFlags: the user's rules (--rules) and
// parameters (--set) reach analyze's findings and report, as in detect.
func TestAnalyzeAndReportTakeRuleFlags(t *testing.T) {
	rules := t.TempDir()
	mine := `-- id: my-mfa-users
-- title: Everyone who used MFA at sign-in
-- severity: low
-- description: Lists users whose sign-ins used MFA.
-- param: min = 2  (sign-ins)
SELECT actor, account_id, list(DISTINCT source_ip) AS source_ips, list(DISTINCT user_agent) AS user_agents,
  min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS count, list(event_id) AS event_ids
FROM events WHERE mfa_used = 'Yes' GROUP BY ALL HAVING count(*) >= $min
`
	if err := os.WriteFile(filepath.Join(rules, "my-mfa-users.sql"), []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caseDir := filepath.Join(dir, "case")
	flags := []string{"--rules", rules, "--set", "my-mfa-users.min=3", "--set", "mfa-failure-burst.threshold=99"}
	args := append(append([]string{"analyze", "-q", "--out", caseDir}, flags...), sampleInputs()...)
	if _, stderr, code := run(t, "", args...); code != exitIntegrity {
		t.Fatalf("analyze: exit %d %s", code, stderr)
	}
	ruleIDs := func(keys []string) map[string]bool {
		ids := map[string]bool{}
		for _, k := range keys {
			parts := strings.SplitN(k, "|", 3) // rule|actor|...
			ids[parts[0]+"|"+parts[1]] = true
		}
		return ids
	}
	got := ruleIDs(findingKeys(t, filepath.Join(caseDir, "findings.jsonl")))
	if !got["my-mfa-users|alice"] || len(got) < 5 {
		t.Errorf("analyze --rules: the user's rule did not run with min=3: %v", got)
	}
	for k := range got {
		if strings.HasPrefix(k, "mfa-failure-burst|") || (strings.HasPrefix(k, "my-mfa-users|") && k != "my-mfa-users|alice") {
			t.Errorf("analyze --set was not applied: %s", k)
		}
	}

	db := filepath.Join(caseDir, "case.duckdb")
	md, stderr, code := run(t, "", append([]string{"report", "--db", db, "--format", "md"}, flags...)...)
	if code != exitOK || !strings.Contains(md, "my-mfa-users") || strings.Contains(md, "mfa-failure-burst") {
		t.Errorf("report --rules --set: exit %d %s", code, stderr)
	}
	if md, _, _ := run(t, "", "report", "--db", db, "--format", "md"); strings.Contains(md, "my-mfa-users") || !strings.Contains(md, "mfa-failure-burst") {
		t.Errorf("report without rule flags does not run the built-in rules alone")
	}
	if _, stderr, code := run(t, "", "report", "--db", db, "--stored-findings", "--rules", rules); code != exitUsage {
		t.Errorf("--stored-findings with --rules: exit %d %s", code, stderr)
	}

	// A mistyped --set is refused before the case folder exists.
	other := filepath.Join(dir, "other")
	_, stderr, code = run(t, "", append([]string{"analyze", "--out", other, "--set", "no-such-rule.window=1h"}, sampleInputs()...)...)
	if code != exitUsage || !strings.Contains(stderr, `no rule "no-such-rule"`) {
		t.Errorf("analyze --set no-such-rule: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("a refused analyze created its case folder")
	}
}

// TestAnalyzeBrokenUserRule: a rule of the user's that does not run is said
// and makes the exit status a usage error, but the case still gets the
// other rules' findings and its report.
func TestAnalyzeBrokenUserRule(t *testing.T) {
	rules := t.TempDir()
	broken := "-- id: broken\n-- title: x\n-- severity: low\n-- description: d\nSELECT no_such_column FROM events\n"
	if err := os.WriteFile(filepath.Join(rules, "broken.sql"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	caseDir := filepath.Join(t.TempDir(), "case")
	_, stderr, code := run(t, "", append([]string{"analyze", "-q", "--out", caseDir, "--rules", rules}, sampleInputs()...)...)
	if code != exitUsage || !strings.Contains(stderr, "broken") {
		t.Fatalf("exit %d, want %d naming the rule: %s", code, exitUsage, stderr)
	}
	if keys := findingKeys(t, filepath.Join(caseDir, "findings.jsonl")); len(keys) < 10 {
		t.Errorf("the other rules' findings were lost: %v", keys)
	}
	if _, err := os.Stat(filepath.Join(caseDir, "report.html")); err != nil {
		t.Errorf("no report: %v", err)
	}
}

// TestAnalyzeSigma: --sigma rules run in analyze too, and their findings
// reach the case's findings and its report.
func TestAnalyzeSigma(t *testing.T) {
	caseDir := filepath.Join(t.TempDir(), "case")
	_, stderr, code := run(t, "", append([]string{"analyze", "-q", "--out", caseDir, "--sigma", filepath.Join("..", "..", "samples", "sigma")}, sampleInputs()...)...)
	if code != exitIntegrity {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	keys := strings.Join(findingKeys(t, filepath.Join(caseDir, "findings.jsonl")), "\n")
	html, err := os.ReadFile(filepath.Join(caseDir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"4a1e6f0c-2b8d-4d3e-9a57-0c1f3e8b6d21", "9f3c1e7a-4b2d-4a8e-9c6f-5d0b8e2a1f47"} {
		if !strings.Contains(keys, id) || !strings.Contains(string(html), id) {
			t.Errorf("Sigma rule %s: not in findings.jsonl or the report", id)
		}
	}
}
