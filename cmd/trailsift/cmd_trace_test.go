package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailsift/trailsift/lineage"
	"github.com/trailsift/trailsift/lineage/lineagetest"
)

// storyEvidence writes the lineage story's events as evidence.
func storyEvidence(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "story.ndjson")
	if err := os.WriteFile(path, []byte(lineagetest.Events()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func storyCase(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "case.duckdb")
	if _, stderr, code := run(t, "", "ingest", "-q", "--db", db, storyEvidence(t)); code != 0 {
		t.Fatalf("ingest: exit %d %s", code, stderr)
	}
	return db
}

// TestTraceCommand: each kind of argument, in each format; JSON reads back.
func TestTraceCommand(t *testing.T) {
	db := storyCase(t)
	for _, arg := range []string{lineagetest.AuditKey, lineagetest.Alice, lineagetest.AssumeAudit} {
		for _, format := range lineage.Formats {
			out, stderr, code := run(t, "", "trace", "--db", db, "--format", format, arg)
			if code != 0 || !strings.Contains(out, lineagetest.ConsoleKey) || !strings.Contains(out, lineagetest.AuditKey) {
				t.Errorf("trace %s --format %s: exit %d %s\n%s", arg, format, code, stderr, out)
				continue
			}
			if strings.Contains(out, "\x1b") || format != "table" && strings.Contains(out, "</script>") {
				t.Errorf("trace %s --format %s: the hostile user agent came through raw:\n%s", arg, format, out)
			}
			if format == "json" {
				var tr lineage.Trace
				if err := json.Unmarshal([]byte(out), &tr); err != nil || tr.Argument != arg || len(tr.Sessions) == 0 {
					t.Errorf("json: %v %+v", err, tr)
				}
			}
		}
	}
	out, _, _ := run(t, "", "trace", "--db", db, "--timeline", "1", "--newest", lineagetest.AuditKey)
	if !strings.Contains(out, "newest first: 1 of 4 events") || !strings.Contains(out, "GetCallerIdentity") || strings.Contains(out, "iam:ListUsers") {
		t.Errorf("--timeline 1 --newest:\n%s", out)
	}
}

// TestTraceUsage: what matches nothing, and wrong command lines, exit 2
// saying why.
func TestTraceUsage(t *testing.T) {
	db := storyCase(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ASIANOTHERE000000001"}, "not used or issued in the evidence"},
		{[]string{"no-such-event"}, "no event has this id"},
		{[]string{lineagetest.FailedLogin}, "no credential tied to a session"},
		{[]string{}, "give one ACCESS-KEY-ID, ARN or EVENT-ID, or --finding RULE-ID"},
		{[]string{"--finding", "console-login-without-mfa", lineagetest.AuditKey}, "give one"},
		{[]string{"--finding", "no-such-rule"}, `no rule "no-such-rule"`},
		{[]string{"--format", "csv", lineagetest.AuditKey}, "--format"},
		{[]string{"--set", "x.y=1", lineagetest.AuditKey}, "give --finding RULE-ID too"},
	} {
		_, stderr, code := run(t, "", append([]string{"trace", "--db", db}, tt.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s", tt.args, code, exitUsage, tt.want, stderr)
		}
	}
}

// TestTraceFinding: on an analyzed case, --finding traces the stored
// findings; on a store analyze did not make, it runs the rule. A sign-in
// without MFA leads to the console session and what came of it.
func TestTraceFinding(t *testing.T) {
	caseDir := filepath.Join(t.TempDir(), "case")
	if _, stderr, code := run(t, "", "analyze", "-q", "--out", caseDir, storyEvidence(t)); code != exitOK {
		t.Fatalf("analyze: exit %d %s", code, stderr)
	}
	analyzed := filepath.Join(caseDir, "case.duckdb")
	for db, says := range map[string]string{analyzed: "1 finding(s) stored by analyze", storyCase(t): "1 finding(s), the rule run now"} {
		out, stderr, code := run(t, "", "trace", "--db", db, "--finding", "console-login-without-mfa", "--format", "json")
		var tr lineage.Trace
		if err := json.Unmarshal([]byte(out), &tr); code != 0 || err != nil || !strings.Contains(stderr, says) {
			t.Fatalf("exit %d, %v: %s\n%s", code, err, stderr, out)
		}
		if len(tr.Findings) != 1 || len(tr.Sessions) != 1 || tr.Sessions[0].SessionID != lineagetest.ConsoleKey ||
			len(tr.Sessions[0].Issued) != 2 || tr.Kind != lineage.KindFinding {
			t.Errorf("%s: %+v", says, tr)
		}
	}
	// No findings of the rule: nothing to trace, and that is an answer.
	out, stderr, code := run(t, "", "trace", "--db", analyzed, "--finding", "root-console-login")
	if code != 0 || !strings.Contains(stderr, "0 finding(s)") || !strings.Contains(out, "0 session(s)") {
		t.Errorf("no findings: exit %d %s\n%s", code, stderr, out)
	}
}
