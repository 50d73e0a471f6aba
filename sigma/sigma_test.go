package sigma

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
)

// storeOf ingests CloudTrail files through the real ingest path into a
// fresh in-memory store.
func storeOf(t testing.TB, inputs ...string) *query.Store {
	t.Helper()
	ctx := context.Background()
	s, err := query.Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	run, err := lake.IngestStore(ctx, s, inputs, ingest.Options{}, nil)
	if err != nil || run.Errors > 0 || run.FilesFailed > 0 {
		t.Fatalf("ingest %v: %v %+v", inputs, err, run.Stats)
	}
	return s
}

// fixtureEvents reads testdata/events.ndjson as parsed JSON.
func fixtureEvents(t testing.TB) (ids []string, events []map[string]any) {
	t.Helper()
	f, err := os.Open("testdata/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ev, err := decodeEvent(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
		ids = append(ids, ev["eventID"].(string))
	}
	return ids, events
}

// caseSpec is what a test rule under testdata/cases expects, in its own
// `tests` key (Sigma allows keys of one's own).
type caseSpec struct {
	Tests struct {
		Match    []string   `yaml:"match"`
		NoMatch  []string   `yaml:"nomatch"`
		Findings [][]string `yaml:"findings"`
		Fails    string     `yaml:"fails"`
	} `yaml:"tests"`
	ID string `yaml:"id"`
}

// TestCases runs every rule under testdata/cases over testdata/events.ndjson
// (through ingest and DuckDB) and checks exactly which events it matches;
// the in-Go evaluator must agree on every event. Rules that must not
// compile say why in tests.fails.
func TestCases(t *testing.T) {
	store := storeOf(t, "testdata/events.ndjson")
	ids, events := fixtureEvents(t)
	files, _ := filepath.Glob("testdata/cases/*.yml")
	if len(files) < 1 {
		t.Fatalf("only %d case files", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			specs := readSpecs(t, data)
			set, rep := Parse(file, data)
			for _, spec := range specs {
				if spec.Tests.Fails != "" {
					i := slices.IndexFunc(rep.Failed, func(p Problem) bool { return p.ID == spec.ID })
					if i < 0 {
						t.Fatalf("rule %s compiled; want it refused with %q", spec.ID, spec.Tests.Fails)
					}
					if !strings.Contains(rep.Failed[i].Reason, spec.Tests.Fails) {
						t.Fatalf("rule %s refused with %q; want %q", spec.ID, rep.Failed[i].Reason, spec.Tests.Fails)
					}
				}
			}
			if spec := specs[len(specs)-1]; spec.Tests.Fails != "" {
				return
			}
			if len(rep.Failed) > 0 {
				t.Fatalf("not compiled: %v", rep.Failed)
			}
			found, err := set.Detect(context.Background(), store.DB, query.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Over a copy of the events' columns but raw (as a Parquet
			// dataset of many parts has): the same, whether the rules read
			// raw (then the events) or not.
			typed, err := set.Detect(context.Background(), store.DB, query.DetectOptions{Typed: query.TypedEvents("SELECT * FROM main.event_rows")})
			if a, b := fmt.Sprint(found), fmt.Sprint(typed); err != nil || a != b {
				t.Errorf("over the typed copy (%v):\n%s\nover the events:\n%s", err, b, a)
			}
			for _, spec := range specs {
				r, ok := set.Rule(spec.ID)
				if !ok {
					t.Fatalf("no rule %s", spec.ID)
				}
				var got [][]string
				var union []string
				for _, f := range found {
					if f.RuleID == spec.ID {
						got = append(got, f.EventIDs)
						union = append(union, f.EventIDs...)
					}
				}
				slices.Sort(union)
				if spec.Tests.Findings != nil {
					if !slices.EqualFunc(got, spec.Tests.Findings, slices.Equal) {
						t.Errorf("rule %s: findings %v, want %v\nSQL:\n%s", spec.ID, got, spec.Tests.Findings, r.SQL())
					}
					continue
				}
				if len(spec.Tests.NoMatch) == 0 && !r.IsCorrelation() {
					t.Fatalf("rule %s: give tests.nomatch: events it must not match", spec.ID)
				}
				want := slices.Sorted(slices.Values(spec.Tests.Match))
				if r.quiet {
					// Named by a correlation without generate: true, the
					// rule reports nothing of its own.
					if len(union) > 0 {
						t.Errorf("rule %s is a correlation's input but reported %v", spec.ID, union)
					}
				} else if !slices.Equal(union, want) {
					t.Errorf("rule %s: DuckDB matched %v, want %v\nWHERE %s", spec.ID, union, want, r.Where)
				}
				for _, id := range spec.Tests.NoMatch {
					if slices.Contains(union, id) {
						t.Errorf("rule %s matched %s", spec.ID, id)
					}
				}
				if r.IsCorrelation() {
					continue
				}
				var byGo []string
				for i, ev := range events {
					if evalDetection(r.detection, ev) {
						byGo = append(byGo, ids[i])
					}
				}
				slices.Sort(byGo)
				if !slices.Equal(byGo, want) {
					t.Errorf("rule %s: the Go evaluator matched %v, want %v", spec.ID, byGo, want)
				}
			}
		})
	}
}

func readSpecs(t *testing.T, data []byte) []caseSpec {
	var specs []caseSpec
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var s caseSpec
		if err := dec.Decode(&s); err != nil {
			break
		}
		specs = append(specs, s)
	}
	if len(specs) == 0 {
		t.Fatal("no documents")
	}
	return specs
}
