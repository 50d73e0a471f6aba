package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// TestExitStatusPrecedence: one function decides which status wins.
func TestExitStatusPrecedence(t *testing.T) {
	all := outcome{usage: true, failed: true, interrupted: true, integrity: true, partial: true, findings: true}
	for _, tt := range []struct {
		name string
		o    outcome
		want int
	}{
		{"nothing", outcome{}, exitOK},
		{"everything", all, exitUsage},
		{"error beats interrupted", outcome{failed: true, interrupted: true, integrity: true}, exitError},
		{"interrupted beats integrity", outcome{interrupted: true, integrity: true, partial: true}, exitInterrupted},
		{"integrity beats partial", outcome{integrity: true, partial: true, findings: true}, exitIntegrity},
		{"partial beats findings", outcome{partial: true, findings: true}, exitPartial},
		{"findings", outcome{findings: true}, exitFindings},
	} {
		if got := exitStatus(tt.o); got != tt.want {
			t.Errorf("%s: exit %d, want %d", tt.name, got, tt.want)
		}
	}
	// exitCodes lists the codes in that same order.
	var order []int
	for _, c := range exitCodes {
		order = append(order, c.code)
	}
	if want := []int{exitUsage, exitError, exitInterrupted, exitIntegrity, exitPartial, exitFindings, exitOK}; !slices.Equal(order, want) {
		t.Errorf("exitCodes in order %v, want %v", order, want)
	}
}

// An interruption alone exits 130; an error beside it (a full disk as the
// run closed its output) is reported, with exit status 1, as exitStatus
// orders them.
func TestReportInterruptedWithAnError(t *testing.T) {
	full := errors.New("write part: no space left on device")
	for _, tt := range []struct {
		name string
		err  error
		want int
		says string
	}{
		{"interrupted", ingest.ErrInterrupted, exitInterrupted, "interrupted"},
		{"cancelled, wrapped", fmt.Errorf("build sessions: %w", context.Canceled), exitInterrupted, "interrupted"},
		{"interrupted twice", errors.Join(ingest.ErrInterrupted, fmt.Errorf("x: %w", context.Canceled)), exitInterrupted, "interrupted"},
		{"interrupted and an error", errors.Join(ingest.ErrInterrupted, full), exitError, "no space left"},
		{"an error and interrupted", errors.Join(full, ingest.ErrInterrupted), exitError, "no space left"},
	} {
		var stderr bytes.Buffer
		if got := report(&stderr, tt.err); got != tt.want || !strings.Contains(stderr.String(), tt.says) {
			t.Errorf("%s: exit %d, stderr %q; want %d saying %q", tt.name, got, stderr.String(), tt.want, tt.says)
		}
	}
}

// TestExitHelpAgrees: each command's --help lists the codes it can return,
// and the README's table lists every code in the same order.
func TestExitHelpAgrees(t *testing.T) {
	codeLine := regexp.MustCompile(`(?m)^  (\d+) +\S`)
	codes := func(help string) []string {
		var out []string
		for _, m := range codeLine.FindAllStringSubmatch(help[strings.Index(help, "Exit status"):], -1) {
			out = append(out, m[1])
		}
		return out
	}
	for cmd, want := range map[string][]string{
		"analyze":  {"2", "1", "130", "5", "3", "4", "0"},
		"ingest":   {"2", "1", "130", "3", "0"},
		"detect":   {"2", "1", "130", "4", "0"},
		"verify":   {"2", "1", "130", "5", "0"},
		"coverage": {"2", "1", "130", "5", "0"},
		"query":    {"2", "1", "130", "0"},
		"rules":    {"2", "1", "0"},
		"trace":    {"2", "1", "130", "0"},
	} {
		out, _, code := run(t, "", cmd, "--help")
		if code != 0 || !strings.Contains(out, "Exit status") {
			t.Fatalf("%s --help: exit %d\n%s", cmd, code, out)
		}
		if got := codes(out); !slices.Equal(got, want) {
			t.Errorf("%s --help lists exit codes %v, want %v", cmd, got, want)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := string(readme)[strings.Index(string(readme), "## Exit status"):]
	var inReadme []string
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(sec[:strings.Index(sec[3:], "\n## ")], -1) {
		inReadme = append(inReadme, m[1])
	}
	if want := []string{"2", "1", "130", "5", "3", "4", "0"}; !slices.Equal(inReadme, want) {
		t.Errorf("README exit status table lists %v, want %v (which wins first)", inReadme, want)
	}
}

func TestUnknownCommandOrFlagIsUsage(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"analyse", "x"}, {"query", "--nope", "select 1"}, {"--nope"}} {
		_, stderr, code := run(t, "", args...)
		if code != exitUsage || !strings.Contains(stderr, "unknown") {
			t.Errorf("%v: exit %d, want %d; %s", args, code, exitUsage, stderr)
		}
	}
	if _, stderr, _ := run(t, "", "analyse", "x"); !strings.Contains(stderr, "did you mean analyze") {
		t.Errorf("no suggestion: %s", stderr)
	}
}

// TestQuerySQLInputs: the SQL comes from the argument (a leading -- comment
// too), --sql, --file, or standard input; DuckDB's parser message comes back
// for what it cannot read, and EXPLAIN is read-only.
func TestQuerySQLInputs(t *testing.T) {
	db := ingestedCase(t)
	file := filepath.Join(t.TempDir(), "q.sql")
	if err := os.WriteFile(file, []byte("-- from a file\nselect count(*) as n from events;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"--db", db, "--format", "csv", "-- note\nselect count(*) as n from events"}},
		{"", []string{"--db", db, "--format", "csv", "--", "-- note\nselect count(*) as n from events"}},
		{"", []string{"--db", db, "--format", "csv", "--sql", "-- note\nselect count(*) as n from events"}},
		{"", []string{"--db", db, "--format", "csv", "-e", "select count(*) as n from events"}},
		{"", []string{"--db", db, "--format", "csv", "-f", file}},
		{"select count(*) as n from events", []string{"--db", db, "--format", "csv", "-"}},
		{"-- stdin\nselect count(*) as n from events", []string{"--db", db, "--format", "csv", "-f", "-"}},
	} {
		out, stderr, code := run(t, tt.stdin, append([]string{"query"}, tt.args...)...)
		if code != 0 || out != "n\n3\n" {
			t.Errorf("%q: exit %d, %q %s", tt.args, code, out, stderr)
		}
	}
	if out, stderr, code := run(t, "", "query", "--db", db, "explain analyze select * from events"); code != 0 || !strings.Contains(out, "EXPLAIN_ANALYZE") {
		t.Errorf("EXPLAIN ANALYZE: exit %d %q %s", code, out, stderr)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"selec 1"}, exitUsage, `Parser Error: syntax error at or near "selec"`},
		{[]string{"select nope from events"}, exitUsage, `Referenced column "nope" not found`},
		{[]string{"explain delete from event_rows"}, exitUsage, "not DELETE"},
		{[]string{"select 1", "--sql", "select 2"}, exitUsage, "give the SQL once"},
		// SQL the events cannot satisfy is the user's to change.
		{[]string{"select event_name::int from events"}, exitUsage, "Conversion Error"},
		{[]string{"select 2147483647::int + 1::int"}, exitUsage, "Out of Range Error"},
		{[]string{}, exitUsage, "give the SQL once"},
		// Not the user's SQL: an I/O error is an error, not a usage error.
		{[]string{"select * from read_parquet('/nonexistent/trailsift.parquet')"}, exitError, "IO Error"},
	} {
		_, stderr, code := run(t, "", append([]string{"query", "--db", db}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "only read-only queries") && tt.want != "not DELETE" {
			t.Errorf("%q: exit %d, want %d with %q; stderr:\n%s", tt.args, code, tt.code, tt.want, stderr)
		}
	}
}

// TestQueryOffline: remote files and extensions are refused with a clear
// message, and nothing is written in HOME (DuckDB's ~/.duckdb).
func TestQueryOffline(t *testing.T) {
	db := ingestedCase(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, q := range []string{
		"select * from read_parquet('https://example.com/x.parquet')",
		"select * from read_csv('s3://bucket/x.csv')",
		"install httpfs",
		"load httpfs",
		"set autoinstall_known_extensions = true",
	} {
		_, stderr, code := run(t, "", "query", "--db", db, q)
		if code != exitUsage || !strings.Contains(stderr, "hint:") {
			t.Errorf("%q: exit %d: %s", q, code, stderr)
		}
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("written in HOME: %v", entries)
	}
}

// TestQueryWriteErrors: a full disk fails the command, and --out never
// puts a truncated file in place.
func TestQueryWriteErrors(t *testing.T) {
	db := ingestedCase(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err) // Linux has it; the project builds and tests there
	}
	defer full.Close()
	for _, format := range []string{"json", "jsonl", "csv", "table"} {
		var errb bytes.Buffer
		code := Main([]string{"query", "--db", db, "--format", format, "select * from events"}, strings.NewReader(""), full, &errb)
		if code != exitError || !strings.Contains(errb.String(), "no space left") {
			t.Errorf("--format %s to a full disk: exit %d: %s", format, code, errb.String())
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "result.jsonl")
	if err := os.WriteFile(out, []byte("before\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = reports.WriteAtomically(out, func(tmp string) error {
		if err := os.WriteFile(tmp, []byte("half"), 0o644); err != nil {
			return err
		}
		return errors.New("disk full")
	})
	if b, _ := os.ReadFile(out); err == nil || string(b) != "before\n" {
		t.Errorf("a failed write replaced the file: %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// writeS3Log writes one gzipped CloudTrail log file in the S3 layout.
func writeS3Log(t *testing.T, root string) {
	t.Helper()
	dir := filepath.Join(root, "AWSLogs", "111111111111", "CloudTrail", "us-east-1", "2024", "03", "05")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	fmt.Fprint(zw, `{"Records":[{"eventVersion":"1.08","eventTime":"2024-03-05T11:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","eventID":"e1","eventType":"AwsApiCall","recipientAccountId":"111111111111","userIdentity":{"type":"IAMUser","userName":"alice","accountId":"111111111111"}}]}`)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	name := "111111111111_CloudTrail_us-east-1_20240305T1100Z_abcdefghijklmnop.json.gz"
	if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNoDigestsIsNotChecked: log files without any digest are "not
// checked", a warning with exit 0, in verify and analyze alike.
func TestNoDigestsIsNotChecked(t *testing.T) {
	evidence := t.TempDir()
	writeS3Log(t, evidence)
	out, stderr, code := run(t, "", "verify", evidence)
	if code != exitOK || !strings.Contains(out, "NOT CHECKED") || !strings.Contains(out, "WARN  no-digests") {
		t.Errorf("verify: exit %d\n%s%s", code, out, stderr)
	}
	_, stderr, code = run(t, "", "analyze", "--out", filepath.Join(t.TempDir(), "case"), evidence)
	if code != exitOK || !strings.Contains(stderr, "integrity: NOT CHECKED") {
		t.Errorf("analyze: exit %d\n%s", code, stderr)
	}
}

// TestAnalyzeNothingLoaded: an empty folder or a wrong path is not a clean
// case.
func TestAnalyzeNothingLoaded(t *testing.T) {
	_, stderr, code := run(t, "", "analyze", "-q", "--out", filepath.Join(t.TempDir(), "case"), t.TempDir())
	if code != exitPartial || !strings.Contains(stderr, "no CloudTrail events were loaded") {
		t.Errorf("empty folder: exit %d: %s", code, stderr)
	}
	caseDir := filepath.Join(t.TempDir(), "case")
	_, stderr, code = run(t, "", "analyze", "-q", "--out", caseDir, "/nonexistent/trailsift-evidence")
	if code != exitUsage || !strings.Contains(stderr, "/nonexistent/trailsift-evidence") {
		t.Errorf("wrong path: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(caseDir); err == nil {
		t.Errorf("a wrong path left a case folder behind")
	}
}

// TestInterruptAtLoad: a Ctrl-C that arrives while the staged events are
// loaded lets the load finish (one transaction) and exits 130, not 0.
func TestInterruptAtLoad(t *testing.T) {
	atStoreLoad = func(_ context.Context, ios *streams) { ios.interrupt() }
	defer func() { atStoreLoad = nil }()
	db := filepath.Join(t.TempDir(), "case.duckdb")
	_, stderr, code := run(t, "", "ingest", "--db", db, fixture("records"), fixture("ndjson"))
	if code != exitInterrupted || !strings.Contains(stderr, "run the same command again") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	atStoreLoad = nil
	if n := scalar(t, openStore(t, db), "select count(*) from events"); n != "3" {
		t.Errorf("after the interrupted load the store holds %s events, want 3", n)
	}
	if _, err := os.Stat(db + ".staging"); err == nil {
		t.Errorf("the staging folder is left after a finished load")
	}
}

// TestSecondInterruptExits: a second Ctrl-C at the load exits at once with
// 130; the store stays consistent and the next run finishes the job. The
// child blocks at the load until the signals end it, so no timing is
// involved.
func TestSecondInterruptExits(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "case.duckdb")
	cmd := exec.Command(os.Args[0], "ingest", "--db", db, fixture("records"), fixture("ndjson"))
	cmd.Env = append(os.Environ(), "TRAILSIFT_RUN_MAIN=1", "TRAILSIFT_TEST_INTERRUPT_AT_LOAD=2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted twice") {
		t.Fatalf("exit %d (%v): %s", code, err, stderr.String())
	}
	if _, errOut, code := run(t, "", "ingest", "-q", "--db", db, fixture("records"), fixture("ndjson")); code != 0 {
		t.Fatalf("re-run: exit %d %s", code, errOut)
	}
	if n := scalar(t, openStore(t, db), "select count(*) from events"); n != "3" {
		t.Errorf("after a hard exit and a re-run the store holds %s events, want 3", n)
	}
}

// interruptAtLoadForTest, in the child of TestSecondInterruptExits, sends
// this process n real SIGINTs at the load and waits for them to act.
func interruptAtLoadForTest(n int) {
	atStoreLoad = func(ctx context.Context, _ *streams) {
		for i := 0; i < n; i++ {
			syscall.Kill(os.Getpid(), syscall.SIGINT)
			if i == 0 {
				<-ctx.Done() // the first one cancels the run
			}
		}
		select {} // the second one exits the process
	}
}

// TestDetectRefusesHostileRules: a rule file that would write is refused
// with exit 2 before any rule runs, and the case database is unchanged.
func TestDetectRefusesHostileRules(t *testing.T) {
	db := ingestedCase(t)
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	rules := t.TempDir()
	header := "-- id: evil\n-- title: t\n-- severity: low\n-- description: d\n"
	for _, body := range []string{
		"COPY (SELECT 1) TO " + "'" + db + "' (FORMAT csv)",
		"SELECT E'\\'' AS a; COPY (SELECT 1) TO '" + db + "' --'",
		"ATTACH '" + db + "' AS again",
	} {
		if err := os.WriteFile(filepath.Join(rules, "evil.sql"), []byte(header+body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := run(t, "", "detect", "--db", db, "--rules", rules)
		if code != exitUsage || !strings.Contains(stderr, "evil.sql") || !strings.Contains(stderr, "only read-only queries") {
			t.Errorf("%q: exit %d: %s", body, code, stderr)
		}
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Fatal("a rule file changed the case database")
	}
}

// TestVersion: both spellings name trailsift's and DuckDB's versions, and
// the store schema version this build writes.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, stderr, code := run(t, "", args...)
		if code != exitOK || !strings.Contains(stdout, "trailsift ") || !strings.Contains(stdout, "DuckDB v1.") ||
			!strings.Contains(stdout, fmt.Sprintf("store schema version %d\n", query.SchemaVersion)) {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	stdout, _, _ := run(t, "", "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || v.DuckDB == "" || v.DuckDB == "unknown" || v.StoreSchema != query.SchemaVersion {
		t.Errorf("version --json: %q, %v", stdout, err)
	}
}

// TestFlagArgumentNames: every flag that takes a value names it in capitals
// (--db FILE, never "string"). pflag takes a back-quoted word in the help as
// the argument's name, so every such word must be one, in capitals (the
// help once showed "--public-keys aws cloudtrail list-public-keys").
func TestFlagArgumentNames(t *testing.T) {
	argName := regexp.MustCompile(`^[A-Z][A-Z0-9_.=-]*$`)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(f)
			if name != "" && !argName.MatchString(name) {
				t.Errorf("%s --%s: the argument shows as %q", c.CommandPath(), f.Name, name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(&streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}))
}
