package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSummariesQuietAndJSON: every command that prints a summary takes
// --quiet (nothing on stderr) and --json (one object), and a key means
// the same everywhere: seconds a number, findings a count, by_severity an
// object, outputs the files written.
func TestSummariesQuietAndJSON(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "case.duckdb")
	evidence := []string{fixture("records"), fixture("ndjson")}
	caseDir := filepath.Join(dir, "case")
	for _, tt := range []struct {
		args     []string
		toStderr bool // detect: stdout holds the findings
		keys     []string
	}{
		{append([]string{"ingest", "--db", db}, evidence...), false, []string{"database", "events_read", "seconds"}},
		{append([]string{"analyze", "--out", caseDir}, evidence...), false, []string{"case", "findings", "by_severity", "outputs", "seconds"}},
		{[]string{"detect", "--db", db}, true, []string{"findings", "by_severity", "rules", "seconds"}},
		{[]string{"report", "--db", db, "--out", filepath.Join(dir, "r.md"), "--force"}, false, []string{"findings", "by_severity", "outputs", "events", "seconds"}},
		{[]string{"export", "--db", db, "--parquet", filepath.Join(dir, "ds")}, false, []string{"dataset", "events_read", "seconds"}},
		{[]string{"samples", "generate", "--out", filepath.Join(dir, "corpus"), "--events", "200", "--days", "1"}, false, []string{"corpus", "events", "seconds"}},
	} {
		name := strings.Join(tt.args[:1], " ")
		out, stderr, code := run(t, "", append(tt.args, "--quiet")...)
		if code != exitOK || stderr != "" || (out != "" && !tt.toStderr) {
			t.Errorf("%s --quiet: exit %d, stdout %q, stderr %q", name, code, out, stderr)
		}
		if tt.args[0] == "samples" {
			tt.args[3] = filepath.Join(dir, "corpus2")
		}
		out, stderr, code = run(t, "", append(tt.args, "--json")...)
		if code != exitOK {
			t.Fatalf("%s --json: exit %d %s", name, code, stderr)
		}
		text := out
		if tt.toStderr {
			text = stderr
		}
		var sum map[string]any
		if err := json.Unmarshal([]byte(text), &sum); err != nil {
			t.Errorf("%s --json: %v in %q", name, err, text)
			continue
		}
		for _, k := range tt.keys {
			v, ok := sum[k]
			if !ok {
				t.Errorf("%s --json: no %q in %v", name, k, sum)
				continue
			}
			var typeOK bool
			switch k {
			case "seconds", "findings", "events_read", "events", "rules":
				_, typeOK = v.(float64)
			case "by_severity":
				_, typeOK = v.(map[string]any)
			case "outputs":
				_, typeOK = v.([]any)
			default:
				_, typeOK = v.(string)
			}
			if !typeOK {
				t.Errorf("%s --json: %q is %T", name, k, v)
			}
		}
	}
	if _, stderr, code := run(t, "", "report", "--db", db, "--json"); code != exitUsage || !strings.Contains(stderr, "give --out") {
		t.Errorf("report --json without --out: exit %d %s", code, stderr)
	}
}

// TestIngestSummarySaysWhereTheTimeWent: ingest's summary splits its time
// into reading, storing (--db only) and building the lineage, as text and
// as JSON, and the steps fit in the whole.
func TestIngestSummarySaysWhereTheTimeWent(t *testing.T) {
	dir := t.TempDir()
	evidence := []string{fixture("records"), fixture("ndjson")}
	for _, target := range [][]string{{"--db", filepath.Join(dir, "case.duckdb")}, {"--parquet", filepath.Join(dir, "lake")}} {
		out, stderr, code := run(t, "", append(append([]string{"ingest", "--json"}, target...), evidence...)...)
		if code != exitOK {
			t.Fatalf("ingest %s: exit %d %s", target[0], code, stderr)
		}
		var sum struct {
			Seconds float64
			Phases  struct{ Read, Store, Lineage float64 } `json:"phase_seconds"`
		}
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("ingest %s --json: %v in %q", target[0], err, out)
		}
		p := sum.Phases
		if p.Read <= 0 || p.Lineage <= 0 || (p.Store > 0) != (target[0] == "--db") {
			t.Errorf("ingest %s: phases %+v: want reading and lineage, and storing for --db only", target[0], p)
		}
		if total := p.Read + p.Store + p.Lineage; total > sum.Seconds {
			t.Errorf("ingest %s: phases add up to %.3fs, more than the run's %.3fs", target[0], total, sum.Seconds)
		}
	}
	_, stderr, code := run(t, "", append([]string{"ingest", "--db", filepath.Join(dir, "text.duckdb")}, evidence...)...)
	if code != exitOK || !regexp.MustCompile(`time: +[0-9.]+s \(reading [0-9.]+s, storing [0-9.]+s, lineage [0-9.]+s\)`).MatchString(stderr) {
		t.Errorf("ingest --db: exit %d, no time line with its steps in:\n%s", code, stderr)
	}
}
