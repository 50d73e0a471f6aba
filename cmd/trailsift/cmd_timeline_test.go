package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTimelineGolden pins every timeline format on the bundled samples.
func TestTimelineGolden(t *testing.T) {
	db := samplesCase(t)
	tests := []struct {
		name string
		args []string
	}{
		{"timeline-alice.txt", []string{"--actor", "alice", "--since", "2024-03-05T09:00Z", "--until", "2024-03-05T11:30"}},
		{"timeline-alice.md", []string{"--actor", "alice", "--since", "2024-03-05T09:00Z", "--until", "2024-03-05T11:30", "--format", "md"}},
		{"timeline-ip.csv", []string{"--ip", "203.0.113.66", "--format", "csv"}},
		{"timeline-idc.jsonl", []string{"--actor", "bob@example.com", "--format", "jsonl"}},
		{"timeline-idc.txt", []string{"--actor", "bob@example.com"}},
		{"timeline-finding.txt", []string{"--finding", "console-brute-force"}},
		{"timeline-around.txt", []string{"--around", "e54dc1d8-4242-42bc-8e16-1878ae030c8d", "--window", "2m"}},
		{"timeline-errors-berlin.txt", []string{"--errors", "--event", "ConsoleLogin", "--timezone", "Europe/Berlin", "--limit", "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := run(t, "", append([]string{"timeline", "--db", db}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, tt.name, out)
		})
	}
}

// TestTimelineTimesketch checks what Timesketch needs of CSV and JSONL:
// message, datetime in ISO 8601 UTC and timestamp_desc on every row, and
// one row per event (sign-in steps are not folded).
func TestTimelineTimesketch(t *testing.T) {
	db := samplesCase(t)
	all, _, _ := run(t, "", "query", "--db", db, "--format", "csv", "select count(*) from events")
	total := strings.TrimSpace(strings.Split(strings.TrimSpace(all), "\n")[1])

	out, stderr, code := run(t, "", "timeline", "--db", db, "--format", "csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(recs) - 1; total != itoa(got) {
		t.Errorf("csv has %d rows, the store %s events", got, total)
	}
	if strings.Join(recs[0][:3], ",") != "message,datetime,timestamp_desc" {
		t.Errorf("csv header %v", recs[0])
	}
	var prev time.Time
	for _, r := range recs[1:] {
		tm, err := time.Parse(time.RFC3339Nano, r[1])
		if err != nil || !strings.HasSuffix(r[1], "Z") {
			t.Fatalf("datetime %q is not ISO 8601 UTC", r[1])
		}
		if tm.Before(prev) {
			t.Fatalf("not in time order at %s", r[1])
		}
		prev = tm
		if r[0] == "" || r[2] != "Event Time" {
			t.Fatalf("row %v lacks message or timestamp_desc", r)
		}
	}

	out, _, _ = run(t, "", "timeline", "--db", db, "--format", "jsonl", "--timezone", "Asia/Tokyo")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if itoa(len(lines)) != total {
		t.Errorf("jsonl has %d lines, the store %s events", len(lines), total)
	}
	stories := 0
	for _, l := range lines {
		var v map[string]string
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if !strings.HasSuffix(v["datetime"], "Z") || v["message"] == "" || v["timestamp_desc"] == "" {
			t.Fatalf("jsonl row lacks Timesketch fields or is not UTC despite --timezone: %s", l)
		}
		if v["story"] == "password OK → TOTP failed" {
			stories++
		}
	}
	if stories != 4 {
		t.Errorf("%d rows carry the failed TOTP sign-in's story, want its 4 steps", stories)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestTimelineHostile: log text cannot drive the terminal or a spreadsheet.
func TestTimelineHostile(t *testing.T) {
	db := hostileCase(t)
	out, stderr, code := run(t, "", "timeline", "--db", db)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, bad := range []string{"\x1b", "\x07", "\r"} {
		if strings.Contains(out, bad) {
			t.Errorf("terminal output carries control character %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "[31mRED") {
		t.Errorf("the escape's printable rest should remain visible:\n%s", out)
	}
	out, _, _ = run(t, "", "timeline", "--db", db, "--format", "md")
	for _, bad := range []string{"\x1b", "<script", "<iframe", "<svg", "<img"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown carries %q:\n%s", bad, out)
		}
	}
	out, _, _ = run(t, "", "timeline", "--db", db, "--format", "jsonl")
	if strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `\u001b[31mRED`) {
		t.Errorf("JSON lines must escape control characters, and keep them:\n%s", out)
	}
	if !strings.Contains(out, `"request_parameters":"{\"userName\":\"\u003c/script\u003e`) {
		t.Errorf("request_parameters missing or not JSON-encoded:\n%s", out)
	}
	out, _, _ = run(t, "", "timeline", "--db", db, "--format", "csv")
	recs, err := csv.NewReader(bytes.NewReader([]byte(out))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	cells := 0
	for _, r := range recs[1:] {
		for _, c := range r {
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("csv cell %q would run as a formula", c)
			}
			if strings.HasPrefix(c, "'=") || strings.HasPrefix(c, "'+") || strings.HasPrefix(c, "'-") || strings.HasPrefix(c, "'@") {
				cells++
			}
		}
	}
	if cells < 5 {
		t.Errorf("only %d neutralised cells; the fixture has more formulas:\n%s", cells, out)
	}
}

// TestTimelineFindingWithoutFindings: a rule that found nothing gives an
// empty timeline, not every event.
func TestTimelineFindingWithoutFindings(t *testing.T) {
	out, stderr, code := run(t, "", "timeline", "--db", hostileCase(t), "--finding", "root-console-login")
	if code != exitOK || !strings.Contains(out, "(0 events;") || !strings.Contains(stderr, "0 finding(s)") {
		t.Errorf("exit %d\n%s\n%s", code, out, stderr)
	}
}

func TestTimelineUsageErrors(t *testing.T) {
	db := samplesCase(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--format", "xml"}, "--format"},
		{[]string{"--timezone", "Mars/Olympus"}, "--timezone"},
		{[]string{"--since", "yesterday"}, "--since"},
		{[]string{"--around", "no-such-event"}, "no event with that eventID"},
		{[]string{"--around", "x", "--window", "soon"}, "--window"},
		{[]string{"--finding", "no-such-rule"}, "no rule"},
		{[]string{"extra"}, "unknown command"},
	}
	for _, tt := range tests {
		_, stderr, code := run(t, "", append([]string{"timeline", "--db", db}, tt.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
}

// TestTimelineTitleReads: the Markdown heading names each filter once, in
// words (it once read "Events events ConsoleLogin").
func TestTimelineTitleReads(t *testing.T) {
	for _, tt := range []struct {
		o    timelineOptions
		want string
	}{
		{timelineOptions{}, "All events"},
		{timelineOptions{eventNames: []string{"ConsoleLogin"}, errorsOnly: true}, "Events matching event name ConsoleLogin; errors only"},
		{timelineOptions{actor: "alice", eventNames: []string{"A", "B"}}, "Events matching actor alice; event names A, B"},
	} {
		if got := timelineTitle(describeFilter(&tt.o)); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.o, got, tt.want)
		}
	}
}

// TestTimelineFindingRuleFlags: --finding runs its rule with --set and
// --rules as detect does.
func TestTimelineFindingRuleFlags(t *testing.T) {
	db := samplesCase(t)
	events := func(args ...string) (string, string, int) {
		t.Helper()
		out, stderr, code := run(t, "", append([]string{"timeline", "--db", db, "--format", "jsonl"}, args...)...)
		return strconv.Itoa(strings.Count(out, "\n")), stderr, code
	}
	if n, stderr, code := events("--finding", "console-brute-force"); n != "6" || code != 0 {
		t.Errorf("default threshold: %s events, exit %d %s", n, code, stderr)
	}
	if n, stderr, code := events("--finding", "console-brute-force", "--set", "console-brute-force.threshold=7"); n != "0" || code != 0 {
		t.Errorf("threshold 7: %s events, exit %d %s", n, code, stderr)
	}
	dir := t.TempDir()
	rule := "-- id: list-users\n-- title: ListUsers\n-- severity: low\n-- description: d.\n-- param: min = 1  (calls)\n" +
		"SELECT actor, account_id, list(DISTINCT source_ip) AS source_ips, list(DISTINCT user_agent) AS user_agents,\n" +
		"  min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS count, list(event_id) AS event_ids\n" +
		"FROM events WHERE event_name IN ('ListUsers', 'ListAccessKeys') GROUP BY ALL HAVING count(*) >= $min"
	if err := os.WriteFile(filepath.Join(dir, "list-users.sql"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, stderr, code := events("--finding", "list-users", "--rules", dir); n != "2" || code != 0 {
		t.Errorf("a rule of --rules: %s events, exit %d %s", n, code, stderr)
	}
	if n, stderr, code := events("--finding", "list-users", "--rules", dir, "--set", "list-users.min=3"); n != "0" || code != 0 {
		t.Errorf("a rule of --rules with --set: %s events, exit %d %s", n, code, stderr)
	}
	// A broken file beside it is named, and the exit status says so.
	if err := os.WriteFile(filepath.Join(dir, "broken.sql"), []byte("-- id: broken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, stderr, code := events("--finding", "list-users", "--rules", dir); n != "2" || code != exitUsage || !strings.Contains(stderr, "broken.sql: the header has no") {
		t.Errorf("a broken rule file beside: %s events, exit %d %s", n, code, stderr)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--rules", dir}, "give --finding RULE-ID too"},
		{[]string{"--set", "console-brute-force.threshold=3"}, "give --finding RULE-ID too"},
		{[]string{"--finding", "console-brute-force", "--set", "console-brute-force.depth=3"}, `has no parameter "depth"`},
		{[]string{"--finding", "console-brute-force", "--set", "threshold"}, "want RULE-ID.PARAM=VALUE"},
	} {
		if _, stderr, code := events(tt.args...); code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d %q, want %q", tt.args, code, stderr, tt.want)
		}
	}
}
