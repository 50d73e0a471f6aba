package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// findingSection is the Markdown of one finding: from its heading to the
// next finding's.
func findingSection(t *testing.T, md, rule string) string {
	t.Helper()
	i := strings.Index(md, "(`"+rule+"`)")
	if i < 0 {
		t.Fatalf("no %s finding in the report", rule)
	}
	rest := md[i:]
	if j := strings.Index(rest[1:], "\n### "); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}

// TestReportShowsWhatTheSigninLedTo: on the bundled samples, alice's
// sign-in after her MFA failures shows the chain it started, into
// 222222222222, and what it did there, most sensitive first.
func TestReportShowsWhatTheSigninLedTo(t *testing.T) {
	db := samplesCase(t)
	md, stderr, code := run(t, "", "report", "--db", db, "--format", "md")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sec := findingSection(t, md, "signin-after-mfa-failure")
	for _, want := range []string{
		"#### What it led to",
		"| 0 | ASIA724FJETSSQPX24D7 | - | arn:aws:iam::111111111111:user/alice | ConsoleLogin (creation-date) | 111111111111 |",
		"| 1 | ASIAXGYTHXX5H3QVZYX6 | ASIA724FJETSSQPX24D7 | arn:aws:sts::111111111111:assumed-role/OpsAdmin/alice | AssumeRole (arn) |",
		"| 2 | ASIAXNCYLIQJGTJK7MJS | ASIAXGYTHXX5H3QVZYX6 | arn:aws:sts::222222222222:assumed-role/CrossAccountAudit/alice | AssumeRole (key) | 222222222222 |",
		"198.51.100.77, 203.0.113.66 |",
		// sensitive actions: credential changes before the role assumption into the other account
		"| 2024-03-05 10:37:48Z | 222222222222 | iam:CreateAccessKey | access key created | ci-deploy | Success | 203.0.113.66 | ASIAXNCYLIQJGTJK7MJS |",
		"| 2024-03-05 10:31:12Z | 111111111111 | sts:AssumeRole | role assumed in another account | arn:aws:iam::222222222222:role/CrossAccountAudit | Success |",
		"| NoSuchBucketPolicy | 1 | 1 |",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("the signin-after-mfa-failure finding lacks %q:\n%s", want, sec)
		}
	}
	if strings.Index(sec, "iam:CreateAccessKey") > strings.Index(sec, "sts:AssumeRole | role assumed") {
		t.Error("the access key creation is not listed before the role assumption")
	}
	// alice's own role assumption inside 111111111111 is not sensitive.
	if strings.Contains(sec, "arn:aws:iam::111111111111:role/OpsAdmin | Success") {
		t.Error("the same-account AssumeRole is listed as sensitive")
	}
	// A finding that led to nothing has no section.
	if strings.Contains(findingSection(t, md, "console-brute-force"), "What it led to") {
		t.Error("carol's brute force shows sessions it did not lead to")
	}

	html, stderr, code := run(t, "", "report", "--db", db, "--format", "html")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"<h4>What it led to</h4>", "arn:aws:sts::222222222222:assumed-role/CrossAccountAudit/alice",
		"<td>role assumed in another account</td>"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

// TestReportLedToBoundedAndEscaped: a sign-in followed by thousands of
// sessions, each with hostile strings, makes a small report whose log text
// is escaped.
func TestReportLedToBoundedAndEscaped(t *testing.T) {
	const sessions = 3000
	dir := t.TempDir()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	start := time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC)
	user := map[string]any{"type": "IAMUser", "principalId": "AIDAMALLORY", "arn": "arn:aws:iam::111111111111:user/mallory",
		"accountId": "111111111111", "userName": "mallory"}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(enc.Encode(map[string]any{"eventVersion": "1.09", "userIdentity": user, "eventTime": start.Format(time.RFC3339),
		"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9",
		"userAgent": "Mozilla/5.0", "requestParameters": nil, "responseElements": map[string]any{"ConsoleLogin": "Success"},
		"additionalEventData": map[string]any{"MFAUsed": "No"}, "eventID": "login-0", "eventType": "AwsConsoleSignIn",
		"recipientAccountId": "111111111111"}))
	attack := "<script>alert(1)</script>|`*_[x](javascript:alert(1))\u202e\x1b[31m"
	for i := 0; i < sessions; i++ {
		hostile := attack + strings.Repeat("A", 1000)
		if i < 20 { // the sessions shown: huge strings
			hostile = attack + strings.Repeat("A", 100_000)
		}
		id := map[string]any{}
		for k, v := range user {
			id[k] = v
		}
		id["accessKeyId"] = fmt.Sprintf("AKIA%016d", i)
		must(enc.Encode(map[string]any{"eventVersion": "1.09", "userIdentity": id,
			"eventTime": start.Add(time.Duration(i+1) * time.Second).Format(time.RFC3339), "eventSource": "iam.amazonaws.com",
			"eventName": "CreateAccessKey", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.9\u202e",
			"userAgent": hostile, "requestParameters": map[string]any{"userName": hostile}, "responseElements": nil,
			"errorCode": hostile[:60], "eventID": fmt.Sprintf("use-%d", i), "eventType": "AwsApiCall", "recipientAccountId": "111111111111"}))
	}
	must(os.WriteFile(filepath.Join(dir, "events.ndjson"), buf.Bytes(), 0o644))
	db := filepath.Join(t.TempDir(), "case.duckdb")
	if _, stderr, code := run(t, "", "ingest", "-q", "--db", db, dir); code != exitOK {
		t.Fatalf("ingest: exit %d %s", code, stderr)
	}
	md, stderr, code := run(t, "", "report", "--db", db, "--format", "md")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sec := findingSection(t, md, "console-login-without-mfa")
	for _, want := range []string{fmt.Sprintf("%d sessions", sessions), fmt.Sprintf("Showing 20 of %d sessions", sessions),
		"Showing 20 of 1000 sensitive actions.", fmt.Sprintf("their %d events, %d failed (of the first 1000 sessions)", 1000, 1000)} {
		if !strings.Contains(sec, want) {
			t.Errorf("the section lacks %q", want)
		}
	}
	if strings.Contains(sec, "<script>") || strings.Contains(sec, "\u202e") || strings.Contains(sec, "\x1b") || strings.Contains(sec, "| [x](") {
		t.Errorf("log text reaches the Markdown unescaped")
	}
	html, stderr, code := run(t, "", "report", "--db", db, "--format", "html")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, "\u202e") || strings.Contains(html, "\x1b") {
		t.Errorf("log text reaches the HTML unescaped")
	}
	// 3000 sessions with hostile text, 200 KB in each shown: the report stays small.
	for name, out := range map[string]string{"md": md, "html": html} {
		if len(out) > 1<<20 {
			t.Errorf("the %s report is %d bytes", name, len(out))
		}
	}
}
