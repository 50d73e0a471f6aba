package sigma

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/trailsift/trailsift/query"
)

// The property: on generated events, the rules the SQL says match each event
// are the rules the in-Go evaluator says match it, for generated rules.

var propValues = map[string][]string{
	"eventName":                     {"CreateUser", "createuser", "DeleteUser", "Get_User", "Get%User", "GetXUser", ""},
	"userAgent":                     {"aws-cli/2.1", "AWS-CLI/2.1", "Boto3/1.0", "a*b", `back\slash`, "it's"},
	"requestParameters.userName":    {"alice", "Alice", "bob", "", "al_ce", "é-Ü"},
	"requestParameters.count":       {"1", "5", "10", "-3"},
	"sourceIPAddress":               {"10.0.0.1", "10.255.1.1", "192.0.2.7", "2001:db8::5", "2001:DB8:0:0:0:0:0:9", "::1", "s3.amazonaws.com", "010.0.0.1"},
	"additionalEventData.MFAUsed":   {"Yes", "No", "yes"},
	"userIdentity.type":             {"IAMUser", "Root", "AssumedRole"},
	"requestParameters.nested.deep": {"x", "y"},
}

var propFields = func() []string {
	var f []string
	for k := range propValues {
		f = append(f, k)
	}
	slices.Sort(f)
	return f
}()

func genEvent(rnd *rand.Rand, i int) map[string]any {
	ev := map[string]any{
		"eventVersion": "1.08", "eventTime": fmt.Sprintf("2024-03-05T10:%02d:%02dZ", i/60%60, i%60),
		"eventSource": "iam.amazonaws.com", "eventID": fmt.Sprintf("ev-%d", i), "awsRegion": "us-east-1",
		"recipientAccountId": "111111111111",
	}
	for _, f := range propFields {
		switch k := rnd.IntN(6); {
		case f == "eventName": // ingest needs a name
		case k == 0:
			continue // missing
		case k == 1:
			setPath(ev, f, nil)
			continue
		}
		vals := propValues[f]
		v := vals[rnd.IntN(len(vals))]
		if f == "requestParameters.count" && rnd.IntN(2) == 0 {
			n := json.Number(v)
			setPath(ev, f, n)
			continue
		}
		if f == "eventName" && v == "" {
			v = "ListUsers" // ingest needs a name
		}
		setPath(ev, f, v)
	}
	return ev
}

func setPath(ev map[string]any, field string, v any) {
	parts := strings.Split(field, ".")
	cur := ev
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}

// genValue is a value for field, sometimes with wildcards or changed case.
func genValue(rnd *rand.Rand, field string) string {
	vals := propValues[field]
	v := vals[rnd.IntN(len(vals))]
	switch rnd.IntN(9) {
	case 8: // a * inside, keeping every character: LIKE's % and _ must stay literal
		v = v[:len(v)/2] + "*" + v[len(v)/2:]
	case 0:
		if len(v) > 2 {
			v = v[:1] + "*" + v[len(v)-1:]
		}
	case 1:
		if len(v) > 2 {
			v = v[:1] + "?" + v[2:]
		}
	case 2:
		v = strings.ToUpper(v)
	case 3:
		if len(v) > 3 {
			v = v[1 : len(v)-1]
		}
	}
	return v
}

func genTest(rnd *rand.Rand) (string, any) {
	f := propFields[rnd.IntN(len(propFields))]
	var mods []string
	var vals []any
	n := 1 + rnd.IntN(2)
	kind := rnd.IntN(12)
	switch {
	case kind == 0:
		return f + "|exists", rnd.IntN(2) == 0
	case kind == 1:
		return f, nil
	case kind == 2 && f == "sourceIPAddress":
		return f + "|cidr", []any{"10.0.0.0/9", "2001:db8::/33", "192.0.2.0/30", "::/127"}[rnd.IntN(4)]
	case kind == 3 && f == "requestParameters.count":
		return f + "|" + []string{"gt", "gte", "lt", "lte"}[rnd.IntN(4)], []any{1, 5, 0, -3}[rnd.IntN(4)]
	case kind == 4:
		mods = []string{"re"}
		if rnd.IntN(2) == 0 {
			mods = append(mods, "i")
		}
		return f + "|" + strings.Join(mods, "|"), []any{"^a", "e$", "[0-9]", "^$", `\.`, "(?:x|y)"}[rnd.IntN(6)]
	case kind == 5:
		other := propFields[rnd.IntN(len(propFields))]
		return f + "|fieldref", other
	}
	if m := rnd.IntN(5); m < 3 {
		mods = append(mods, []string{"contains", "startswith", "endswith"}[m])
	}
	if rnd.IntN(4) == 0 {
		mods = append(mods, "cased")
	}
	if n > 1 && rnd.IntN(2) == 0 {
		mods = append(mods, "all")
	}
	for range n {
		vals = append(vals, genValue(rnd, f))
	}
	key := f
	if len(mods) > 0 {
		key += "|" + strings.Join(mods, "|")
	}
	if n == 1 {
		return key, vals[0]
	}
	return key, vals
}

func genCond(rnd *rand.Rand, names []string, depth int) string {
	if depth == 0 || rnd.IntN(3) == 0 {
		switch rnd.IntN(8) {
		case 0:
			return "1 of them"
		case 1:
			return "all of s*"
		}
		return names[rnd.IntN(len(names))]
	}
	a, b := genCond(rnd, names, depth-1), genCond(rnd, names, depth-1)
	switch rnd.IntN(3) {
	case 0:
		return "(" + a + " and " + b + ")"
	case 1:
		return "(" + a + " or " + b + ")"
	}
	return "not " + a
}

func genRule(rnd *rand.Rand, id int) string {
	det := map[string]any{}
	var names []string
	for i := range 1 + rnd.IntN(3) {
		name := fmt.Sprintf("s%d", i)
		names = append(names, name)
		group := func() map[string]any {
			g := map[string]any{}
			for range 1 + rnd.IntN(2) {
				k, v := genTest(rnd)
				g[k] = v
			}
			return g
		}
		if rnd.IntN(4) == 0 {
			det[name] = []any{group(), group()}
		} else {
			det[name] = group()
		}
	}
	det["condition"] = genCond(rnd, names, 3)
	out, err := yaml.Marshal(map[string]any{
		"title": fmt.Sprintf("generated %d", id), "id": fmt.Sprintf("gen-%d", id),
		"logsource": map[string]string{"product": "aws", "service": "cloudtrail"}, "detection": det,
	})
	if err != nil {
		panic(err)
	}
	return string(out)
}

func TestCompiledSQLAgreesWithEvaluator(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 99))
			var events []map[string]any
			var lines []string
			for i := range 300 {
				ev := genEvent(rnd, i)
				b, _ := json.Marshal(ev)
				back, _ := decodeEvent(string(b))
				events = append(events, back)
				lines = append(lines, string(b))
			}
			path := filepath.Join(t.TempDir(), "events.ndjson")
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			store := storeOf(t, path)
			var docs []string
			for i := range 150 {
				docs = append(docs, genRule(rnd, i))
			}
			set, rep := Parse("generated.yml", []byte(strings.Join(docs, "---\n")))
			if len(rep.Failed) > 0 {
				t.Fatalf("generated rules not compiled: %v", rep.Failed[0])
			}
			found, err := set.Detect(context.Background(), store.DB, query.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, f := range found {
				got[f.RuleID] = append(got[f.RuleID], f.EventIDs...)
			}
			matched := 0
			for _, r := range set.Rules() {
				var want []string
				for _, ev := range events {
					if evalDetection(r.detection, ev) {
						want = append(want, ev["eventID"].(string))
					}
				}
				slices.Sort(want)
				g := got[r.ID]
				slices.Sort(g)
				if !slices.Equal(g, want) {
					var diff []string
					for _, id := range want {
						if !slices.Contains(g, id) {
							diff = append(diff, "missed "+id)
						}
					}
					for _, id := range g {
						if !slices.Contains(want, id) {
							diff = append(diff, "extra "+id)
						}
					}
					t.Fatalf("rule %s: SQL and evaluator differ: %v\n%s\nWHERE %s", r.ID, diff, docs[slices.IndexFunc(docs, func(d string) bool { return strings.Contains(d, "id: "+r.ID+"\n") })], r.Where)
				}
				if len(want) > 0 && len(want) < len(events) {
					matched++
				}
			}
			// The property says little if every rule matches all or nothing.
			if matched < 30 {
				t.Fatalf("only %d of %d rules match some but not all events", matched, set.Len())
			}
		})
	}
}
