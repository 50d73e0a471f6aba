package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
)

func ExampleDetect() {
	ctx := context.Background()
	store, _ := query.Open(ctx, "", false) // in memory; use query.Open(ctx, path, true) on a case
	defer store.Close()
	// As `trailsift ingest` loads it.
	_, _ = lake.IngestStore(ctx, store, []string{"testdata/detections/root-console-login/events.ndjson"}, ingest.Options{}, nil)

	rules, _ := query.BuiltinRules()
	found, err := query.Detect(ctx, store.DB, rules, query.DetectOptions{
		Since:  time.Date(2024, 3, 4, 11, 0, 0, 0, time.UTC),
		Params: map[string]map[string]string{"console-brute-force": {"threshold": "3"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range found {
		fmt.Println(f.Severity, f.RuleID, f.Actor, f.EventIDs)
	}
	// Output:
	// critical root-console-login-without-mfa root [root-success-mfa-no]
	// critical root-console-login-without-mfa root [root-success-mfa-absent]
	// high root-console-login root [root-success-mfa-no]
	// high root-console-login root [root-success-mfa-absent]
	// medium console-mfa-failure root [root-neg-failure-mfa-yes]
	// medium console-login-without-mfa root [root-neg-iam-user-named-root]
	// medium console-login-without-mfa alice [root-neg-iam-user-alice]
}

// TestSigninAttemptsSeeTheWindow checks that signin_attempts, shared by the
// sessionised rules, reads the events narrowed by Since and Until like the
// rule does: alice's six failed passwords from 10:00 make a burst, the four
// from 10:03 on do not, nor the three before 10:05. Alone, the rule reads
// signin_attempts as a CTE; beside another rule that reads it, from the
// table the run stages once.
func TestSigninAttemptsSeeTheWindow(t *testing.T) {
	s := loadEvents(t, "testdata/detections/console-brute-force/events.ndjson")
	ctx := context.Background()
	// One connection, so that the check for a table left behind below
	// sees the one every run used.
	s.DB.SetMaxOpenConns(1)
	r, err := findBuiltin("console-brute-force")
	if err != nil {
		t.Fatal(err)
	}
	other, err := findBuiltin("mfa-failure-burst")
	if err != nil {
		t.Fatal(err)
	}
	for _, rules := range [][]query.Rule{{r}, {r, other}} {
		alice := func(opts query.DetectOptions) []string {
			found, err := query.Detect(ctx, s.DB, rules, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range found {
				if f.Actor == "alice" && f.RuleID == r.ID {
					return f.EventIDs
				}
			}
			return nil
		}
		if ids := alice(query.DetectOptions{}); len(ids) != 6 {
			t.Fatalf("%d rules: without a window alice's burst has %v", len(rules), ids)
		}
		if ids := alice(query.DetectOptions{Since: time.Date(2024, 3, 4, 10, 3, 0, 0, time.UTC)}); ids != nil {
			t.Errorf("%d rules: from 10:03 alice has 4 failures, under the threshold, but fired with %v", len(rules), ids)
		}
		if ids := alice(query.DetectOptions{Until: time.Date(2024, 3, 4, 10, 5, 0, 0, time.UTC)}); ids != nil {
			t.Errorf("%d rules: before 10:05 alice has 3 failures, under the threshold, but fired with %v", len(rules), ids)
		}
	}
	// The staged table is the run's own: gone when Detect returns.
	var left int
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_tables() WHERE temporary").Scan(&left); err != nil || left != 0 {
		t.Errorf("temporary tables left after detect: %d (%v)", left, err)
	}
}

func findBuiltin(id string) (query.Rule, error) {
	rules, err := query.BuiltinRules()
	if err != nil {
		return query.Rule{}, err
	}
	for _, r := range rules {
		if r.ID == id {
			return r, nil
		}
	}
	return query.Rule{}, fmt.Errorf("no rule %s", id)
}

// TestWindowReadsItsEvents: a window's rules read the events of
// DetectOptions.Events, both a rule alone and the staged signin_attempts,
// and without a window Events is not read.
func TestWindowReadsItsEvents(t *testing.T) {
	s := loadEvents(t, "testdata/detections/console-brute-force/events.ndjson")
	ctx := context.Background()
	var rules []query.Rule
	for _, id := range []string{"console-brute-force", "mfa-failure-burst", "console-mfa-failure"} {
		r, err := findBuiltin(id)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	since := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	for _, set := range [][]query.Rule{rules[:1], rules[2:], rules} { // alone (the CTE), staged, both
		all, err := query.Detect(ctx, s.DB, set, query.DetectOptions{Since: since})
		if err != nil || len(all) == 0 {
			t.Fatalf("%d rules over the window: %d findings, %v", len(set), len(all), err)
		}
		same, err := query.Detect(ctx, s.DB, set, query.DetectOptions{Since: since, Events: "SELECT * FROM main.events"})
		if err != nil || len(same) != len(all) {
			t.Errorf("%d rules over the window's events given: %d findings, want %d (%v)", len(set), len(same), len(all), err)
		}
		none, err := query.Detect(ctx, s.DB, set, query.DetectOptions{Since: since, Events: "SELECT * FROM main.events WHERE false"})
		if err != nil || len(none) != 0 {
			t.Errorf("%d rules over no events: %d findings, %v", len(set), len(none), err)
		}
		unwindowed, err := query.Detect(ctx, s.DB, set, query.DetectOptions{Events: "SELECT * FROM main.events WHERE false"})
		if err != nil || len(unwindowed) == 0 {
			t.Errorf("%d rules without a window read the window's events: %d findings, %v", len(set), len(unwindowed), err)
		}
	}
}

// signinEventsLog writes a log of sign-in events, in a sign-in workflow
// and not, and one other event, and returns its path.
func signinEventsLog(t *testing.T) string {
	t.Helper()
	event := func(id, name, workflow string) string {
		ev := map[string]any{"eventVersion": "1.09", "eventID": id, "eventTime": "2024-03-04T10:00:00Z",
			"eventSource": "signin.amazonaws.com", "eventName": name, "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
			"userIdentity": map[string]any{"type": "IAMUser", "userName": "alice", "accountId": "111122223333"}}
		if workflow != "" {
			ev["additionalEventData"] = map[string]any{"AuthWorkflowID": workflow}
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	lines := []string{
		event("login-in-workflow", "ConsoleLogin", "wf-1"),
		event("login", "ConsoleLogin", ""),
		event("challenge", "CredentialChallenge", ""),
		event("step-in-workflow", "GetRoleCredentials", "wf-1"),
		event("other", "DescribeInstances", ""),
	}
	path := filepath.Join(t.TempDir(), "signins.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSigninEventsHoldEachSignInOnce: signin_events reads the sign-in
// events by name and the other events of a sign-in workflow in two reads;
// an event both read (a ConsoleLogin in a workflow) is in it once, and
// other events are not.
func TestSigninEventsHoldEachSignInOnce(t *testing.T) {
	s := loadEvents(t, signinEventsLog(t))
	shared := query.SharedRelations("signin_events")
	if len(shared) != 1 {
		t.Fatalf("shared relations read by signin_events: %v", shared)
	}
	rows, err := s.DB.QueryContext(context.Background(), "WITH signin_events AS ("+shared[0].SQL+
		") SELECT event_id, count(*) FROM signin_events GROUP BY event_id ORDER BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s x%d", id, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := "challenge x1, login x1, login-in-workflow x1, step-in-workflow x1"
	if strings.Join(got, ", ") != want {
		t.Errorf("signin_events holds %s, want %s", strings.Join(got, ", "), want)
	}
}

// TestSharedRelationsHoldTheirEvents: each shared relation with a Holds
// condition is the same over only the events the condition is true of as
// over every event, so staging it from only the dataset files holding such
// events loses none of its rows. The condition repeats the names of the
// relation's SQL; a condition narrower than the SQL (a name left out)
// fails here.
func TestSharedRelationsHoldTheirEvents(t *testing.T) {
	inputs, err := filepath.Glob("testdata/detections/*/events.ndjson")
	if err != nil || len(inputs) < 10 {
		t.Fatalf("test events: %v, %v", inputs, err)
	}
	s := loadEvents(t, append(inputs, signinEventsLog(t))...)
	ctx := context.Background()
	// over is the rows of relation r over the events where holds (every
	// event when ""), computing the relations it reads as CTEs.
	over := func(r query.SharedRelation, holds string) string {
		events := "SELECT * FROM main.events"
		if holds != "" {
			events += " WHERE coalesce((" + holds + "), false)"
		}
		ctes := []string{"events AS (" + events + ")"}
		for _, read := range query.SharedRelations(r.Name) {
			ctes = append(ctes, read.Name+" AS (\n"+read.SQL+")")
		}
		return "WITH " + strings.Join(ctes, ",\n") + "\nSELECT * FROM " + r.Name
	}
	// differ counts the rows in one of the relation's two versions only.
	differ := func(r query.SharedRelation, holds string) (rows, diff int64) {
		all, some := over(r, ""), over(r, holds)
		minus := func(a, b string) string { return "(SELECT * FROM (" + a + ") EXCEPT ALL SELECT * FROM (" + b + "))" }
		q := "SELECT (SELECT count(*) FROM (" + all + ")), (SELECT count(*) FROM (" + minus(all, some) + " UNION ALL " + minus(some, all) + "))"
		if err := s.DB.QueryRowContext(ctx, q).Scan(&rows, &diff); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		return rows, diff
	}
	relations := query.SharedRelations("signin_events, credential_events, signin_attempts")
	if len(relations) != 3 {
		t.Fatalf("shared relations: %v", relations)
	}
	for _, r := range relations {
		if r.Holds == "" {
			t.Errorf("%s has no Holds condition", r.Name)
			continue
		}
		var outside int64
		if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE NOT coalesce(("+r.Holds+"), false)").Scan(&outside); err != nil || outside == 0 {
			t.Fatalf("%s: %d events outside its condition, %v", r.Name, outside, err)
		}
		if rows, diff := differ(r, r.Holds); rows == 0 || diff != 0 {
			t.Errorf("%s: %d rows, %d of them not the same over the events of its condition", r.Name, rows, diff)
		}
	}
	// The check can fail: a narrower condition loses rows.
	for _, narrower := range []string{
		// no Identity Center step outside a workflow
		"event_name = 'ConsoleLogin' OR auth_workflow_id IS NOT NULL",
		// no workflow's other events
		"list_contains(['ConsoleLogin', 'UserAuthentication', 'Authenticate', 'CredentialVerification', 'CredentialChallenge'], event_name)",
	} {
		if _, diff := differ(relations[0], narrower); diff == 0 {
			t.Errorf("signin_events is the same over the events of %s", narrower)
		}
	}
	if _, diff := differ(relations[1], "event_name = 'CreateAccessKey'"); diff == 0 {
		t.Error("credential_events is the same over the access keys' events only")
	}
}
