package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The Go tests of conditions, for writers that record them (HoldsTests)
// and keep raw for them (ConsoleRaw), are true of exactly the rows their
// SQL is true of: HoldsTests' Cond, the console_events step of the
// sessions build and ConsoleRawSQL.
func TestGoConditionsAgreeWithTheirSQL(t *testing.T) {
	text := func(vs ...string) []*string {
		out := []*string{nil}
		for _, v := range vs {
			out = append(out, &v)
		}
		return out
	}
	names := text("ConsoleLogin", "consolelogin", "CreateAccessKey", "DeleteWebAuthnDevice", "CredentialChallenge", "GetObject", "")
	workflows := text("", "wf-1")
	userTypes := text("IAMUser", "Root", "AssumedRole", "iamuser", "")
	keys := text("ASIAEXAMPLE", "ASIA", "AKIAEXAMPLE", "asiaexample", "xASIA", "")
	var insert []string
	var args []any
	i := 0
	type row struct{ name, workflow, userType, key *string }
	var rows []row
	for _, n := range names {
		for _, w := range workflows {
			for _, u := range userTypes {
				for _, k := range keys {
					rows = append(rows, row{n, w, u, k})
					insert = append(insert, fmt.Sprintf("(%d, TIMESTAMPTZ '2024-03-01 00:00:00+00' + INTERVAL %d SECOND, ?, ?, ?, ?, '{}')", i, i))
					args = append(args, n, w, u, k)
					i++
				}
			}
		}
	}
	conn := storeOf(t, "1GB", "INSERT INTO event_rows (event_key, event_time, event_name, auth_workflow_id, user_type, access_key_id, raw) VALUES "+
		strings.Join(insert, ", "), args...)
	ctx := context.Background()
	indexes := func(q string) []int {
		res, err := conn.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		var out []int
		for res.Next() {
			var k int
			if err := res.Scan(&k); err != nil {
				t.Fatal(err)
			}
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	check := func(what, q string, test func(r row) bool) {
		var want []int
		for k, r := range rows {
			if test(r) {
				want = append(want, k)
			}
		}
		if got := indexes(q); !slices.Equal(got, want) || len(want) == 0 || len(want) == len(rows) {
			t.Errorf("%s: the SQL holds for rows %v, the Go test for %v (of %d)", what, got, want, len(rows))
		}
	}
	for _, h := range HoldsTests() {
		check(h.Cond, "SELECT event_key::INT FROM event_rows WHERE coalesce(("+h.Cond+"), false)",
			func(r row) bool { return h.Test(r.name, r.workflow) })
	}
	i = slices.IndexFunc(sessionsSteps, func(s sessionsStep) bool { return s.name == "console_events" })
	if i < 0 {
		t.Fatal("no console_events step")
	}
	check("console_events", "SELECT DISTINCT epoch(event_time - TIMESTAMPTZ '2024-03-01 00:00:00+00')::INT FROM ("+sessionsSteps[i].sql+")",
		func(r row) bool { return ConsoleRaw(r.userType, r.key) })
	check("ConsoleRawSQL", "SELECT event_key::INT FROM event_rows WHERE coalesce(("+ConsoleRawSQL+"), false)",
		func(r row) bool { return ConsoleRaw(r.userType, r.key) })
}
