package sigma

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/trailsift/trailsift/query"
)

// countingProbe is a SQL function that is always true and counts the
// values it was called on. It is not volatile, so DuckDB plans it as it
// plans the functions it stands in for.
type countingProbe struct{ calls *atomic.Int64 }

func (p countingProbe) Config() duckdb.ScalarFuncConfig {
	varchar, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	boolean, _ := duckdb.NewTypeInfo(duckdb.TYPE_BOOLEAN)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{varchar}, ResultTypeInfo: boolean}
}

func (p countingProbe) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func([]driver.Value) (any, error) {
		p.calls.Add(1)
		return true, nil
	}}
}

// TestDetectionTestsEachRuleOnce: the one detection query tests each rule
// once per event. A filter on the text of the matched rules was pushed
// below the projection that computes it, and every rule was tested twice.
func TestDetectionTestsEachRuleOnce(t *testing.T) {
	const events = 40
	var lines []string
	for i := range events {
		b, _ := json.Marshal(map[string]any{
			"eventVersion": "1.08", "eventTime": fmt.Sprintf("2024-03-05T10:00:%02dZ", i), "eventSource": "iam.amazonaws.com",
			"eventName": []string{"CreateUser", "ListUsers"}[i%2], "eventID": fmt.Sprintf("ev-%d", i), "awsRegion": "us-east-1",
			"userAgent": "needle", "recipientAccountId": "111111111111",
		})
		lines = append(lines, string(b))
	}
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := storeOf(t, path)
	set, rep := Parse("probe.yml", []byte(`title: by name
id: probe-named
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: CreateUser
    userAgent|contains: probe-named
  condition: sel
---
title: on every event
id: probe-always
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    userAgent|contains: probe-always
  condition: sel
`))
	if len(rep.Failed) > 0 || set.Len() != 2 {
		t.Fatalf("%+v", rep)
	}
	q, err := detectionQuery(set.rules, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := store.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, tt := range []struct {
		rule  string
		tests int64
	}{{"probe-named", events / 2}, {"probe-always", events}} {
		var calls atomic.Int64
		fn := "probe_" + strings.ReplaceAll(tt.rule, "-", "_")
		if err := duckdb.RegisterScalarUDF(conn, fn, countingProbe{&calls}); err != nil {
			t.Fatal(err)
		}
		probed := regexp.MustCompile(`contains\((f\d+), '`+tt.rule+`'\)`).ReplaceAllString(q, fn+"($1)")
		if probed == q {
			t.Fatalf("no test of %s in the query:\n%s", tt.rule, q)
		}
		rows, err := conn.QueryContext(ctx, probed)
		if err != nil {
			t.Fatal(err)
		}
		matched := 0
		for rows.Next() {
			matched++
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if matched == 0 {
			t.Fatalf("%s: no finding", tt.rule)
		}
		if n := calls.Load(); n != tt.tests {
			t.Errorf("%s: tested %d times, want %d (once per event it can match)", tt.rule, n, tt.tests)
		}
	}
}

// TestFindingEventsInOrder: a finding lists its events by time, then id,
// whatever order they were stored in (the list is sorted after the
// aggregation, so DuckDB can aggregate on every core).
func TestFindingEventsInOrder(t *testing.T) {
	var lines []string
	for _, ev := range []struct{ id, time string }{
		{"ev-c", "2024-03-05T10:00:02Z"}, {"ev-b", "2024-03-05T10:00:01Z"},
		{"ev-z", "2024-03-05T10:00:00Z"}, {"ev-a", "2024-03-05T10:00:01Z"},
	} {
		b, _ := json.Marshal(map[string]any{
			"eventVersion": "1.08", "eventTime": ev.time, "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
			"eventID": ev.id, "awsRegion": "us-east-1", "recipientAccountId": "111111111111",
			"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice", "userName": "alice"},
		})
		lines = append(lines, string(b))
	}
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := storeOf(t, path)
	set, rep := Parse("order.yml", []byte("title: t\nid: order\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: CreateUser\n  condition: sel\n"))
	if len(rep.Failed) > 0 {
		t.Fatalf("%+v", rep)
	}
	found, err := set.Detect(context.Background(), store.DB, query.DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || !slices.Equal(found[0].EventIDs, []string{"ev-z", "ev-a", "ev-b", "ev-c"}) {
		t.Fatalf("findings %+v, want one with ev-z, ev-a, ev-b, ev-c", found)
	}
}

// writeEvents writes n CreateUser or ListUsers events of alice, one a
// second from 10:00, in reverse time order, and returns the path.
func writeEvents(t *testing.T, n int, name func(i int) string) string {
	t.Helper()
	base := time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC)
	var lines []string
	for i := n - 1; i >= 0; i-- {
		b, _ := json.Marshal(map[string]any{
			"eventVersion": "1.08", "eventTime": base.Add(time.Duration(i) * time.Second).Format(time.RFC3339), "eventSource": "iam.amazonaws.com",
			"eventName": name(i), "eventID": fmt.Sprintf("ev-%05d", i), "awsRegion": "us-east-1", "recipientAccountId": "111111111111",
			"userAgent":         "needle",
			"requestParameters": map[string]any{"userName": fmt.Sprintf("u%d", i)},
			"userIdentity":      map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice", "userName": "alice"},
		})
		lines = append(lines, string(b))
	}
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFindingKeepsFirstEventIDs: a rule that matches more events than a
// finding keeps ids of counts them all and keeps the ids of the first
// query.MaxFindingEventIDs, by time; so does a correlation rule.
func TestFindingKeepsFirstEventIDs(t *testing.T) {
	n := query.MaxFindingEventIDs + 200
	store := storeOf(t, writeEvents(t, n, func(int) string { return "CreateUser" }))
	set, rep := Parse("many.yml", []byte(`title: every CreateUser
id: many
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: CreateUser
  condition: sel
---
title: many CreateUser
id: many-corr
correlation:
  type: event_count
  rules: [many]
  timespan: 1d
  condition: {gte: 5}
`))
	if len(rep.Failed) > 0 || set.Len() != 2 {
		t.Fatalf("%+v", rep)
	}
	found, err := set.Only([]string{"many", "many-corr"}).Detect(context.Background(), store.DB, query.DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range query.MaxFindingEventIDs {
		want = append(want, fmt.Sprintf("ev-%05d", i))
	}
	if len(found) != 2 {
		t.Fatalf("%d findings, want 2", len(found))
	}
	for _, f := range found {
		if f.Count != int64(n) || !slices.Equal(f.EventIDs, want) {
			t.Errorf("%s: count %d with %d ids (%v...), want %d with the first %d", f.RuleID, f.Count, len(f.EventIDs), f.EventIDs[:3], n, len(want))
		}
	}
	// A window reads the events it is given (query.DetectOptions.Events),
	// the rules' and the correlation's.
	since := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for events, want := range map[string]int{"SELECT * FROM main.events": 2, "SELECT * FROM main.events WHERE false": 0} {
		found, err := set.Only([]string{"many", "many-corr"}).Detect(context.Background(), store.DB, query.DetectOptions{Since: since, Events: events})
		if err != nil || len(found) != want {
			t.Errorf("window over %q: %d findings, want %d (%v)", events, len(found), want, err)
		}
	}
}

// rawProbe is a SQL function that returns its text and counts the values
// it was called on.
type rawProbe struct{ calls *atomic.Int64 }

func (p rawProbe) Config() duckdb.ScalarFuncConfig {
	varchar, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{varchar}, ResultTypeInfo: varchar}
}

func (p rawProbe) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(v []driver.Value) (any, error) {
		p.calls.Add(1)
		return v[0], nil
	}}
}

// TestDetectionParsesOnlyEventsThatNeedIt: the stored event is parsed for
// the events of the eventNames whose rules read JSON paths only, and the
// rules of a group do not test its eventName again. Every event was parsed
// when one rule read a JSON path.
func TestDetectionParsesOnlyEventsThatNeedIt(t *testing.T) {
	const events = 30
	store := storeOf(t, writeEvents(t, events, func(i int) string { return []string{"CreateUser", "ListUsers", "GetUser"}[i%3] }))
	set, rep := Parse("json.yml", []byte(`title: reads a JSON path
id: json-named
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventSource: iam.amazonaws.com
    eventName: CreateUser
    requestParameters.userName|startswith: u
  condition: sel
---
title: no JSON path
id: plain-named
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: [ListUsers, CreateUser]
    userAgent: needle
  condition: sel
`))
	if len(rep.Failed) > 0 || set.Len() != 2 {
		t.Fatalf("%+v", rep)
	}
	q, err := detectionQuery(set.rules, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(q, "(f0 = ") {
		t.Errorf("a group's rules test its eventName again:\n%s", q)
	}
	ctx := context.Background()
	conn, err := store.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var calls atomic.Int64
	if err := duckdb.RegisterScalarUDF(conn, "probe_raw", rawProbe{&calls}); err != nil {
		t.Fatal(err)
	}
	probed := strings.ReplaceAll(q, "json_extract_string(raw, [", "json_extract_string(probe_raw(raw), [")
	if probed == q {
		t.Fatalf("no JSON path in the query:\n%s", q)
	}
	rows, err := conn.QueryContext(ctx, probed)
	if err != nil {
		t.Fatal(err)
	}
	findings := 0
	for rows.Next() {
		findings++
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if findings != 2 {
		t.Errorf("%d findings, want 2", findings)
	}
	if n := calls.Load(); n != events/3 {
		t.Errorf("parsed %d events, want %d (the CreateUser ones)", n, events/3)
	}
}
