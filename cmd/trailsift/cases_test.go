package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// Stores built once per test run and shared read-only by the report tests.
var (
	sharedMu    sync.Mutex
	sharedCases = map[string]string{}
	sharedDir   string
)

// sharedCase ingests inputs into a store once per test run (keyed by name)
// and returns its path; tests only read it.
func sharedCase(t *testing.T, name string, inputs ...string) string {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if p, ok := sharedCases[name]; ok {
		return p
	}
	if sharedDir == "" {
		d, err := os.MkdirTemp("", "trailsift-test-")
		if err != nil {
			t.Fatal(err)
		}
		sharedDir = d
	}
	p := filepath.Join(sharedDir, name+".duckdb")
	args := append([]string{"ingest", "-q", "--db", p}, inputs...)
	if _, stderr, code := run(t, "", args...); code != exitOK && code != exitPartial {
		t.Fatalf("ingest %s: exit %d %s", name, code, stderr)
	}
	sharedCases[name] = p
	return p
}

func removeSharedCases() {
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
}

// samplesCase is the bundled samples' store.
func samplesCase(t *testing.T) string { return sharedCase(t, "samples", sampleInputs()...) }

// hostileCase is a store of events whose every field is an attack.
func hostileCase(t *testing.T) string {
	return sharedCase(t, "hostile", filepath.Join("testdata", "hostile"))
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/trailsift -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("%s differs from the golden file at line %d:\n got %q\nwant %q\n(run with -update if the change is intended)", p, i+1, g, w)
				return
			}
		}
	}
}

var mdEscapedPath = strings.NewReplacer("\\", "\\\\", "_", "\\_", "*", "\\*", "[", "\\[", "]", "\\]", "#", "\\#", "`", "\\`", "|", "\\|")

// stable replaces what changes from run to run (generation time, temp paths)
// and the checkout's location in the manifest's paths.
func stable(s, dbPath string) string {
	s = strings.ReplaceAll(s, dbPath, "CASE.duckdb")
	if repo, err := filepath.Abs(filepath.Join("..", "..")); err == nil {
		repo += string(filepath.Separator)
		s = strings.ReplaceAll(s, repo, "REPO/")
		s = strings.ReplaceAll(s, mdEscapedPath.Replace(repo), "REPO/") // as the Markdown report writes it
	}
	return regexp.MustCompile(`Generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`).ReplaceAllString(s, "Generated TIME")
}

// rawUnsafe lists the characters in s that no output may show raw: C0 and
// C1 controls, DEL, bidi controls, line separators and bytes that are not
// UTF-8. Line feeds are allowed between lines, and so are tabs in text that
// keeps its lines (keepTabs).
func rawUnsafe(s string, keepTabs bool) []string {
	var bad []string
	for i, r := range s {
		switch {
		case r == '\n', r == '\t' && keepTabs:
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"),
			r < 0x20, r >= 0x7f && r <= 0x9f, unicode.Is(unicode.Bidi_Control, r), r == '\u2028', r == '\u2029':
			bad = append(bad, fmt.Sprintf("%U at byte %d", r, i))
		}
	}
	return bad
}

// TestHostileEverywhere runs every command that shows log text over the
// hostile store, in every format: no control or bidi character reaches the
// output raw, and each is shown escaped (the right-to-left override in a
// user name, the ANSI escape in another, the NUL, DEL and C1 CSI in a user
// agent), including through DuckDB's and the tool's own error messages.
func TestHostileEverywhere(t *testing.T) {
	db := hostileCase(t)
	const rlo, esc, nul = `invoice\u202egpj.exe`, `mallory\u001b]0;owned-title\u0007`, `nul\u0000 del\u007f csi\u009b31m`
	tests := []struct {
		args []string
		want []string // visible in stdout and stderr together
	}{
		{[]string{"timeline"}, []string{rlo, esc, nul}},
		{[]string{"timeline", "--format", "csv"}, []string{rlo, esc, nul}},
		{[]string{"timeline", "--format", "md"}, []string{`invoice\\u202egpj.exe`, `nul\\u0000`}},
		{[]string{"timeline", "--format", "jsonl"}, []string{rlo, esc, nul}},
		{[]string{"signins"}, []string{rlo, esc}},
		{[]string{"signins", "--format", "csv"}, []string{rlo, esc}},
		{[]string{"signins", "--format", "md"}, []string{`invoice\\u202egpj.exe`}},
		{[]string{"signins", "--format", "jsonl"}, []string{rlo, esc}},
		{[]string{"detect"}, []string{esc}},
		{[]string{"detect", "--format", "csv"}, []string{esc}},
		{[]string{"detect", "--format", "json"}, []string{esc}},
		{[]string{"report"}, []string{rlo, esc}},
		{[]string{"report", "--format", "md"}, []string{`invoice\\u202egpj.exe`}},
		{[]string{"coverage"}, nil},
		{[]string{"coverage", "--format", "json"}, nil},
		{[]string{"query", "select user_name, user_agent, raw from events"}, []string{rlo, nul}},
		{[]string{"query", "--format", "csv", "select user_name, user_agent from events"}, []string{rlo, esc, nul}},
		{[]string{"query", "--format", "json", "select user_name, user_agent, raw from events"}, []string{rlo, esc, nul}},
		{[]string{"query", "--format", "jsonl", "select user_name, user_agent, raw from events"}, []string{rlo, esc, nul}},
		// DuckDB quotes the evidence in its error messages.
		{[]string{"query", "select user_agent::int from events where user_agent like 'bidi%'"}, []string{`\u2066evil\u2069`, `del\u007f csi\u009b31m`}},
		{[]string{"query", "select user_name::int from events where user_name like 'mallory%'"}, []string{esc}},
	}
	for _, tt := range tests {
		out, stderr, code := run(t, "", append([]string{tt.args[0], "--db", db}, tt.args[1:]...)...)
		if code != exitOK && code != exitUsage && code != exitIntegrity {
			t.Errorf("%v: exit %d: %s", tt.args, code, stderr)
		}
		all := out + stderr
		keepTabs := tt.args[0] == "report" // the page's own indentation
		if bad := rawUnsafe(all, keepTabs); len(bad) > 0 {
			t.Errorf("%v: raw characters reach the output: %v", tt.args, bad[:min(len(bad), 5)])
		}
		for _, w := range tt.want {
			if !strings.Contains(all, w) {
				t.Errorf("%v: %s is not shown escaped:\n%s", tt.args, w, all)
			}
		}
	}
	if bad := rawUnsafe("a\u202eb\x1b\xff", false); len(bad) != 3 {
		t.Errorf("rawUnsafe is blind: %v", bad)
	}
}

// TestUntimedEverywhere: events without an eventTime (a root sign-in, so a
// finding has no time either) show as "(no time)" in every readable
// output, with an empty CSV cell or a JSON null in the data formats, and
// never as 0001-01-01.
func TestUntimedEverywhere(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i, at := range []string{"", "", "2024-03-05T10:00:00Z"} {
		tm := ""
		if at != "" {
			tm = fmt.Sprintf(`"eventTime":%q,`, at)
		}
		fmt.Fprintf(&b, `{"eventVersion":"1.08","awsRegion":"us-east-1","recipientAccountId":"111122223333",%s"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","eventType":"AwsConsoleSignIn","eventID":"00000000-0000-4000-8000-%012d","sourceIPAddress":"198.51.100.1","userIdentity":{"type":"Root","principalId":"111122223333","accountId":"111122223333","arn":"arn:aws:iam::111122223333:root"},"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"}}`+"\n", tm, i)
	}
	// dave signed in once, at no known time.
	b.WriteString(`{"eventVersion":"1.08","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","eventType":"AwsConsoleSignIn","eventID":"00000000-0000-4000-8000-000000000009","sourceIPAddress":"198.51.100.1","userIdentity":{"type":"IAMUser","userName":"dave","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/dave"},"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"Yes"}}` + "\n")
	if err := os.WriteFile(filepath.Join(dir, "untimed.ndjson"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "case")
	_, stderr, _ := run(t, "", "analyze", "--out", out, dir)
	if strings.Contains(stderr, "0001-01-01") {
		t.Errorf("analyze summary shows a zero time:\n%s", stderr)
	}
	db := filepath.Join(out, "case.duckdb")
	const noTime = "(no time)"
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"timeline"}, []string{"\n(no time)            111122223333", "note: 3 events without a time, shown as (no time)"}},
		{[]string{"timeline", "--format", "md"}, []string{"| (no time) | 111122223333 |"}},
		{[]string{"timeline", "--format", "csv"}, []string{"\n\"(no time) root ConsoleLogin (signin) from 198.51.100.1: Success, MFA No\",,Event Time,", "note: 3 events without a time: their datetime is empty"}},
		{[]string{"timeline", "--format", "jsonl"}, []string{`{"message":"(no time) root ConsoleLogin (signin) from 198.51.100.1: Success, MFA No","datetime":null,`}},
		{[]string{"signins"}, []string{"(no time)             (no time)"}},
		{[]string{"signins", "--format", "md"}, []string{"| (no time) | (no time) |"}},
		{[]string{"signins", "--format", "csv"}, []string{"dave,iam,IAMUser,111122223333,1,0,1,0,0,1,0,,\n"}},
		{[]string{"signins", "--format", "jsonl"}, []string{`"first_seen":null`}},
		{[]string{"detect"}, []string{noTime}},
		{[]string{"detect", "--format", "csv"}, []string{"root,111122223333,,,1,"}},
		{[]string{"detect", "--format", "json"}, []string{`"first_seen": null`, `"last_seen": null`}},
		{[]string{"report"}, []string{noTime}},
		{[]string{"report", "--format", "md"}, []string{noTime}},
		{[]string{"coverage", "--format", "json"}, nil},
	}
	for _, tt := range tests {
		out, stderr, code := run(t, "", append([]string{tt.args[0], "--db", db}, tt.args[1:]...)...)
		if code != exitOK && code != exitFindings {
			t.Errorf("%v: exit %d: %s", tt.args, code, stderr)
		}
		all := out + stderr
		if strings.Contains(all, "0001-01-01") {
			t.Errorf("%v shows a zero time:\n%s", tt.args, all)
		}
		for _, w := range tt.want {
			if !strings.Contains(all, w) {
				t.Errorf("%v lacks %q:\n%s", tt.args, w, all)
			}
		}
	}
}
