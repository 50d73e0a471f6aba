package query_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/trailsift/trailsift/query"
)

// A rule runs over DetectOptions.Typed (a copy of the events' columns but
// raw) when it reads no raw, and over the events when it does: a copy of
// the same rows finds the same; a copy whose actors are changed changes
// the findings of the rules that read the events' typed columns only, and
// not those of rules reading raw or a column computed from it (however
// they read it), which read the events.
func TestRulesReadTheTypedCopyUnlessTheyReadRaw(t *testing.T) {
	inputs, err := filepath.Glob("testdata/detections/*/events.ndjson")
	if err != nil || len(inputs) < 10 {
		t.Fatalf("test events: %v, %v", inputs, err)
	}
	s := loadEvents(t, append(inputs, signinEventsLog(t))...)
	ctx := context.Background()
	builtin, err := query.BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	rule := func(id, from, where string) query.Rule {
		r, err := query.ParseRule(id+".sql", []byte("-- id: "+id+"\n-- title: t\n-- severity: low\n-- description: d\n"+
			"SELECT actor, account_id, [source_ip] AS source_ips, [user_agent] AS user_agents, event_time AS first_seen, "+
			"event_time AS last_seen, 1 AS count, [event_id] AS event_ids FROM "+from+" WHERE "+where+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	readRaw := []query.Rule{
		rule("reads-raw", "events", "raw LIKE '%ConsoleLogin%'"),
		rule("reads-a-part", "events", "additional_event_data->>'MFAUsed' = 'No'"),
		rule("reads-every-column", "(SELECT *, to_json(e) AS j FROM events e) e", "j::VARCHAR LIKE '%MFAUsed%'"),
		rule("reads-an-id", "events", "request_id IS NOT NULL OR event_name = 'ConsoleLogin'"),
	}
	findings := func(rules []query.Rule, typed string) map[string]string {
		found, err := query.Detect(ctx, s.DB, rules, query.DetectOptions{Typed: typed})
		if err != nil {
			t.Fatal(err)
		}
		by := map[string]string{}
		for _, r := range rules {
			by[r.ID] = "[]"
		}
		for _, f := range found {
			b, _ := json.Marshal(f)
			by[f.RuleID] = by[f.RuleID][:len(by[f.RuleID])-1] + string(b) + ",]"
		}
		return by
	}
	readTyped := []query.Rule{rule("reads-typed-columns", "events", "event_name = 'ConsoleLogin'")}
	all := append(append(builtin, readRaw...), readTyped...)
	want := findings(all, "")
	same := findings(all, query.TypedEvents("SELECT * FROM main.event_rows"))
	changedCopy := findings(all, query.TypedEvents("SELECT * REPLACE ('copy-' || actor AS actor) FROM main.event_rows"))
	changed := map[string]bool{}
	for _, r := range all {
		if same[r.ID] != want[r.ID] {
			t.Errorf("%s: over a copy of the rows:\n%s\nover the events:\n%s", r.ID, same[r.ID], want[r.ID])
		}
		changed[r.ID] = changedCopy[r.ID] != want[r.ID]
	}
	for _, r := range readRaw {
		if want[r.ID] == "[]" || changed[r.ID] {
			t.Errorf("%s reads raw, so the events, not the copy:\n%.300s\nwith the actors of the copy changed:\n%.300s", r.ID, want[r.ID], changedCopy[r.ID])
		}
	}
	// The built-in rule that reads the events themselves (not through a
	// shared relation, staged from the events), and one reading their
	// typed columns only.
	for _, id := range []string{"credential-used-from-new-location", "reads-typed-columns"} {
		if want[id] == "[]" || !changed[id] {
			t.Errorf("%s: the same findings with the copy's actors changed: it did not read the copy", id)
		}
	}
}
