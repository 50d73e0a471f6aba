package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// TestReportGolden pins the Markdown and HTML reports of the bundled samples.
func TestReportGolden(t *testing.T) {
	db := samplesCase(t)
	for _, tt := range []struct{ name, format string }{{"report.md", "md"}, {"report.html", "html"}} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := run(t, "", "report", "--db", db, "--format", tt.format)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, tt.name, stable(out, db))
		})
	}
}

// TestReportOut writes the file atomically, picks the format from the
// extension and can use the findings analyze stored.
func TestReportOut(t *testing.T) {
	dir := t.TempDir()
	caseDir := filepath.Join(dir, "case")
	if _, stderr, code := run(t, "", append([]string{"analyze", "-q", "--out", caseDir}, sampleInputs()...)...); code != exitIntegrity {
		t.Fatalf("analyze: exit %d %s", code, stderr)
	}
	db := filepath.Join(caseDir, "case.duckdb")
	md := filepath.Join(dir, "r.md")
	_, stderr, code := run(t, "", "report", "--db", db, "--out", md)
	if code != exitOK || !strings.Contains(stderr, "16 findings") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ran, _ := os.ReadFile(md)
	if !bytes.HasPrefix(ran, []byte("# trailsift case report")) {
		t.Errorf("%s is not Markdown:\n%.200s", md, ran)
	}
	_, stderr, code = run(t, "", "report", "-q", "--db", db, "--stored-findings", "--out", md, "--force")
	if code != exitOK || stderr != "" {
		t.Fatalf("--stored-findings: exit %d: %s", code, stderr)
	}
	stored, _ := os.ReadFile(md)
	if stable(string(stored), db) != stable(string(ran), db) {
		t.Errorf("the report from stored findings differs from the one that ran the rules")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	if _, stderr, code := run(t, "", "report", "--db", filepath.Join(dir, "nope.duckdb")); code != exitUsage {
		t.Errorf("missing store: exit %d %s", code, stderr)
	}
	if _, stderr, code := run(t, "", "report", "--db", db, "--format", "pdf"); code != exitUsage {
		t.Errorf("--format pdf: exit %d %s", code, stderr)
	}
}

// TestReportOnCaseIsAnalyzes: report on a case folder writes the report
// analyze wrote, its digest check included, and never replaces a file
// without --force.
func TestReportOnCaseIsAnalyzes(t *testing.T) {
	caseDir := filepath.Join(t.TempDir(), "case")
	if _, stderr, code := run(t, "", append([]string{"analyze", "-q", "--out", caseDir}, sampleInputs()...)...); code != exitIntegrity {
		t.Fatalf("analyze: exit %d %s", code, stderr)
	}
	db := filepath.Join(caseDir, "case.duckdb")
	for _, name := range []string{"report.md", "report.html"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(caseDir, name)
			analyzed, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, stderr, code := run(t, "", "report", "--db", db, "--out", path)
			if code != exitUsage || !strings.Contains(stderr, "exists: give --force") {
				t.Errorf("an existing --out: exit %d: %s", code, stderr)
			}
			if now, _ := os.ReadFile(path); !bytes.Equal(now, analyzed) {
				t.Fatalf("a refused report changed %s", path)
			}
			_, stderr, code = run(t, "", "report", "--db", db, "--out", path, "--force")
			if code != exitOK || !strings.Contains(stderr, "replaced "+path) {
				t.Fatalf("--force: exit %d: %s", code, stderr)
			}
			again, _ := os.ReadFile(path)
			heading := "## Log file integrity (CloudTrail digests)"
			if name == "report.html" {
				heading = "<h2>Log file integrity (CloudTrail digests)</h2>"
			}
			was, is := section(string(analyzed), heading), section(string(again), heading)
			if was == "" || !strings.Contains(was, "FAILED") || is != was {
				t.Errorf("integrity sections differ:\nanalyze:\n%s\nreport:\n%s", was, is)
			}
			if stable(string(again), db) != stable(string(analyzed), db) {
				t.Errorf("report on the case differs from the report analyze wrote")
			}
		})
	}
}

// section is the text of s from heading up to the next heading of the same
// kind ("## " or "<h2>"); empty when s has no heading.
func section(s, heading string) string {
	i := strings.Index(s, heading)
	if i < 0 {
		return ""
	}
	rest := s[i+len(heading):]
	next := "\n## "
	if strings.HasPrefix(heading, "<h2>") {
		next = "<h2>"
	}
	if j := strings.Index(rest, next); j >= 0 {
		rest = rest[:j]
	}
	return heading + rest
}

// externalRef finds, in a tag or a style sheet, anything a browser would
// fetch from elsewhere: src, href, url(), @import, srcset, action. (Log
// text is escaped, so it holds no tags.)
var (
	htmlTag     = regexp.MustCompile(`<style>[^<]*</style>|<[^>]*>`)
	externalRef = regexp.MustCompile(`(?i)(\b(src|href|srcset|action|poster|data|xlink:href)\s*=\s*["']?\s*(https?:|//|ftp:)|url\(|@import)`)
)

func externalRefs(html string) []string {
	var out []string
	for _, tag := range htmlTag.FindAllString(html, -1) {
		if m := externalRef.FindString(tag); m != "" {
			out = append(out, tag)
		}
	}
	return out
}

// TestReportHostile renders a store of hostile events: every log text is
// escaped in HTML and Markdown, and the file refers to nothing outside.
func TestReportHostile(t *testing.T) {
	db := hostileCase(t)
	html, stderr, code := run(t, "", "report", "--db", db)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, bad := range []string{"<script", "</script><script", "<iframe", "<img", "<svg onload", "<b>hostile", "<b id=pwned", "onerror=alert"} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML carries %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;document.title=&#39;pwned&#39;", "&lt;iframe src=//evil.example&gt;", "=HYPERLINK(&#34;http://x&#34;)",
		// the trail tampering table of the coverage section
		"<h2>Coverage and trail tampering</h2>", "&lt;b&gt;trail-killer&lt;/b&gt;", "trail/&lt;svg onload=alert(&#39;trail&#39;)&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks the escaped hostile text %q", want)
		}
	}
	if refs := externalRefs(html); len(refs) > 0 {
		t.Errorf("HTML refers to something outside the file: %q", refs)
	}
	if refs := externalRefs(`<img src="https://x/y.png"><a href=//evil>`); len(refs) != 2 {
		t.Errorf("the external reference check is blind: %q", refs)
	}
	if !strings.Contains(html, `content="default-src 'none'`) {
		t.Error("HTML lacks its Content Security Policy")
	}
	if strings.ContainsAny(html, "\x1b\x07") {
		t.Error("HTML carries raw control characters")
	}
	md, _, _ := run(t, "", "report", "--db", db, "--format", "md")
	for _, bad := range []string{"<script", "<iframe", "<img", "<svg", "\x1b"} {
		if strings.Contains(md, bad) {
			t.Errorf("Markdown carries %q", bad)
		}
	}
}

// TestReportKeepsEveryFinding: past the detailed ones, findings still get a
// line each, and long lists say how much is not shown.
func TestReportKeepsEveryFinding(t *testing.T) {
	db := openStore(t, samplesCase(t))
	var found []query.Finding
	for i := range 250 {
		ips := []string{}
		for j := range 40 {
			ips = append(ips, fmt.Sprintf("192.0.2.%d", j))
		}
		found = append(found, query.Finding{RuleID: fmt.Sprintf("synthetic-%03d", i), Title: "t", Severity: query.Severity("medium"),
			Actor: "alice", SourceIPs: ips, FirstSeen: time.Date(2024, 3, 5, 0, 0, i, 0, time.UTC), Count: 1,
			EventIDs: []string{"e54dc1d8-4242-42bc-8e16-1878ae030c8d"}})
	}
	r, err := reports.Build(context.Background(), db, "x", found)
	if err != nil {
		t.Fatal(err)
	}
	var h, m bytes.Buffer
	if err := reports.WriteHTML(&h, r); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteMarkdown(&m, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"html": h.String(), "md": m.String()} {
		for _, f := range found {
			if !strings.Contains(out, f.RuleID) {
				t.Errorf("%s: finding %s dropped", name, f.RuleID)
				break
			}
		}
		if !strings.Contains(out, "150 more findings, one line each") || !strings.Contains(out, "and 20 more") {
			t.Errorf("%s: caps are not stated", name)
		}
	}
}

// TestReportInBrowser loads the samples' report and the hostile one in a
// real headless Chromium: no request leaves the file, no console error or
// exception, the charts render, no hostile script runs; a screenshot is
// taken (kept in $TRAILSIFT_SCREENSHOT_DIR when set).
func TestReportInBrowser(t *testing.T) {
	chromium := needBrowser(t)
	dir := t.TempDir()
	const probe = `{title: document.title, charts: document.querySelectorAll('svg.chart').length,
  bars: document.querySelectorAll('svg.chart rect').length,
  activityHeight: Math.round(document.getElementById('chart-activity').getBoundingClientRect().height),
  findings: document.querySelectorAll('.finding').length, scripts: document.scripts.length,
  pwned: document.getElementById('pwned') !== null || document.title === 'pwned',
  hostileShownAsText: document.body.innerText.includes("<script>document.title='pwned'")}`
	for _, tt := range []struct {
		name, db string
		findings float64
	}{
		{"samples", samplesCase(t), 16},
		{"hostile", hostileCase(t), 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, tt.name+".html")
			if _, stderr, code := run(t, "", "report", "-q", "--db", tt.db, "--out", file); code != exitOK {
				t.Fatalf("report: exit %d %s", code, stderr)
			}
			pl := loadPage(t, chromium, file, probe)
			for _, u := range pl.Requests {
				if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") && u != "about:blank" {
					t.Errorf("the report made a network request: %s", u)
				}
			}
			if len(pl.Requests) == 0 {
				t.Error("no request seen at all: the page was not watched")
			}
			for _, p := range pl.Problems {
				t.Errorf("browser reported: %s", p)
			}
			d := pl.DOM
			if d["title"] != "trailsift case report" || d["pwned"] != false || d["scripts"] != 0.0 {
				t.Errorf("page state %v: a script ran or the title changed", d)
			}
			if d["charts"] != 3.0 || d["bars"].(float64) < 10 || d["activityHeight"].(float64) < 50 {
				t.Errorf("charts did not render: %v", d)
			}
			if d["findings"] != tt.findings {
				t.Errorf("%v findings on the page, want %v", d["findings"], tt.findings)
			}
			if tt.name == "hostile" && d["hostileShownAsText"] != true {
				t.Errorf("the hostile user agent is not shown as text: %v", d)
			}
			img, err := png.Decode(bytes.NewReader(pl.Screenshot))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 800 {
				t.Errorf("screenshot is %v", b)
			}
			shot := filepath.Join(dir, tt.name+".png")
			if sd := os.Getenv("TRAILSIFT_SCREENSHOT_DIR"); sd != "" {
				shot = filepath.Join(sd, "report-"+tt.name+".png")
			}
			if err := os.WriteFile(shot, pl.Screenshot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d requests (all file:), %v; screenshot %s", tt.name, len(pl.Requests), d, shot)
		})
	}
}

// TestBrowserHarnessSees proves the browser check can fail: a page that
// fetches an image, logs an error and runs a script is caught on all counts.
func TestBrowserHarnessSees(t *testing.T) {
	chromium := needBrowser(t)
	file := filepath.Join(t.TempDir(), "bad.html")
	os.WriteFile(file, []byte(`<!DOCTYPE html><html><head><title>x</title></head><body>
<img src="http://127.0.0.1:9/beacon.png"><script>console.error("boom"); document.title = "pwned"</script></body></html>`), 0o644)
	pl := loadPage(t, chromium, file, `{title: document.title}`)
	external := false
	for _, u := range pl.Requests {
		external = external || strings.HasPrefix(u, "http://127.0.0.1:9/")
	}
	if !external || len(pl.Problems) == 0 || pl.DOM["title"] != "pwned" {
		t.Errorf("the harness missed something: requests %v, problems %v, dom %v", pl.Requests, pl.Problems, pl.DOM)
	}
}

// extremeTimesInput writes 18 events on 2024-03-05 (10:00 to 19:00) and one
// each dated 0001 and 9999.
func extremeTimesInput(t *testing.T) string {
	dir := t.TempDir()
	var b strings.Builder
	ev := func(i int, at string) {
		fmt.Fprintf(&b, `{"eventVersion":"1.08","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventTime":%q,"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","eventType":"AwsConsoleSignIn","eventID":"00000000-0000-4000-8000-%012d","sourceIPAddress":"198.51.100.1","userIdentity":{"type":"IAMUser","userName":"alice","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/alice"},"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"}}`+"\n", at, i)
	}
	for i := range 18 {
		ev(i, fmt.Sprintf("2024-03-05T%02d:%02d:00Z", 10+i%10, i))
	}
	ev(100, "0001-01-01T12:00:00Z")
	ev(101, "9999-12-31T23:00:00Z")
	if err := os.WriteFile(filepath.Join(dir, "extreme.ndjson"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReportExtremeTimes: events dated 0001 and 9999 next to a day of 2024
// cost what 20 events cost. analyze writes its report (before, DuckDB ran
// out of memory filling every silent hour between them), the chart buckets
// the real day by the hour and lists the two outliers, and the silent
// ranges are the two gaps around the day, their length in years.
func TestReportExtremeTimes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "case")
	_, stderr, code := run(t, "", "analyze", "-q", "--out", out, extremeTimesInput(t))
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Fatalf("no report (exit %d): %v\n%s", code, err, stderr)
	}
	db := openStore(t, filepath.Join(out, "case.duckdb"))
	r, err := reports.Build(context.Background(), db, "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.ChartStep != "hour" || len(r.Hours) != 10 || !r.Hours[0].Hour.Equal(time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("chart: %d %s buckets from %v, want the 10 hours of 2024-03-05 from 10:00", len(r.Hours), r.ChartStep, r.Hours[0].Hour)
	}
	var charted int64
	for _, h := range r.Hours {
		charted += h.Events
	}
	if charted != 18 || r.OutliersTotal != 2 || len(r.Outliers) != 2 || r.Outliers[0].Time.Year() != 1 || r.Outliers[1].Time.Year() != 9999 {
		t.Errorf("charted %d, outliers %d %+v; want 18 charted and the 0001 and 9999 events listed", charted, r.OutliersTotal, r.Outliers)
	}
	cov := r.Coverage.Scopes
	if len(cov) != 1 || len(r.Coverage.Scopes[0].Silent) == 0 {
		t.Fatalf("coverage: %+v", cov)
	}
	if !strings.HasPrefix(cov[0].Silent, "2, 9998y in all: 0001-01-01 13:00:00Z – 2024-03-05 10:00:00Z (2023y); 2024-03-05 20:00:00Z – 9999-12-31 23:00:00Z (7975y)") {
		t.Errorf("silent hours: %s", cov[0].Silent)
	}
	var md bytes.Buffer
	if err := reports.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "2 events far outside the bulk of the case are not charted: 0001-01-01 12:00:00Z (1), 9999-12-31 23:00:00Z (1).") {
		t.Errorf("the outliers are not listed:\n%s", md.String())
	}
	cout, stderr, code := run(t, "", "coverage", "--db", filepath.Join(out, "case.duckdb"))
	if code != exitOK || !strings.Contains(cout, "87649392 in 2 ranges") {
		t.Errorf("coverage: exit %d\n%s%s", code, cout, stderr)
	}
}
