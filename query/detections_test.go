package query_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/query"
)

// loadEvents ingests CloudTrail files through the real ingest path into a
// fresh in-memory store.
func loadEvents(t testing.TB, inputs ...string) *query.Store {
	t.Helper()
	s := openMemory(t)
	run := ingestInto(t, s, inputs...)
	if run.Errors > 0 || run.FilesFailed > 0 {
		t.Fatalf("ingest of %v: %+v", inputs, run)
	}
	return s
}

// wantFile is one expectation: the findings a rule gives with some
// parameters. Lines are `severity actor: event-id...`, one per finding;
// `# set: name=value ...` sets parameters, `# since: TIME` (RFC 3339)
// narrows the events as detect --since does.
type wantFile struct {
	params   map[string]string
	since    time.Time
	findings []string
}

func readWant(t *testing.T, path string) wantFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := wantFile{params: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if since, ok := strings.CutPrefix(line, "# since:"); ok {
			if w.since, err = time.Parse(time.RFC3339, strings.TrimSpace(since)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		if set, ok := strings.CutPrefix(line, "# set:"); ok {
			for _, kv := range strings.Fields(set) {
				k, v, _ := strings.Cut(kv, "=")
				w.params[k] = v
			}
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		w.findings = append(w.findings, strings.Join(strings.Fields(line), " "))
	}
	return w
}

func findingLine(f query.Finding) string {
	return string(f.Severity) + " " + f.Actor + ": " + strings.Join(f.EventIDs, " ")
}

// TestDetectionFixtures runs each rule over its own fixture events
// (testdata/detections/<rule-id>/events.ndjson: positives and negatives in
// CloudTrail's own shapes) and checks exactly which events fire, grouped
// into which findings, at which severity, for each want*.txt.
func TestDetectionFixtures(t *testing.T) {
	rules, err := query.BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		t.Run(r.ID, func(t *testing.T) {
			dir := filepath.Join("testdata", "detections", r.ID)
			wants, _ := filepath.Glob(filepath.Join(dir, "want*.txt"))
			if len(wants) == 0 {
				t.Fatalf("no fixtures in %s: every rule needs positive and negative events", dir)
			}
			s := loadEvents(t, filepath.Join(dir, "events.ndjson"))
			for _, wf := range wants {
				want := readWant(t, wf)
				found, err := query.Detect(context.Background(), s.DB, []query.Rule{r}, query.DetectOptions{Params: map[string]map[string]string{r.ID: want.params}, Since: want.since})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, f := range found {
					got = append(got, findingLine(f))
					if f.RuleID != r.ID || f.Title != r.Title || f.FirstSeen.IsZero() || f.LastSeen.Before(f.FirstSeen) ||
						f.Count < 1 || f.Details == "" || f.AccountID == "" || len(f.SourceIPs) == 0 {
						t.Errorf("%s: incomplete finding %+v", wf, f)
					}
				}
				slices.Sort(got)
				slices.Sort(want.findings)
				if !slices.Equal(got, want.findings) {
					t.Errorf("%s:\n got:\n  %s\nwant:\n  %s", filepath.Base(wf), strings.Join(got, "\n  "), strings.Join(want.findings, "\n  "))
					for _, f := range found {
						t.Logf("%s", f.Details)
					}
				}
			}
		})
	}
}

// TestBundledSamples runs every rule over the bundled sample exports and
// compares the findings with testdata/detections/samples.golden (refresh
// with -update, declared in schema_test.go, after checking the change). It also checks them against the
// story's ground truth, samples/expected-findings.jsonl: the same findings,
// each holding at least the events listed there.
func TestBundledSamples(t *testing.T) {
	dir := filepath.Join("..", "samples")
	s := loadEvents(t, filepath.Join(dir, "s3-export.zip"), filepath.Join(dir, "event-history.json"),
		filepath.Join(dir, "lookup-events-page1.json"), filepath.Join(dir, "lookup-events-page2.json"),
		filepath.Join(dir, "lake-export.ndjson"))
	rules, err := query.BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	found, err := query.Detect(context.Background(), s.DB, rules, query.DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range found {
		fmt.Fprintf(&b, "%s %s %s %s %s %s\n  %s\n  %s\n", f.Severity, f.RuleID, f.Actor, f.AccountID,
			f.FirstSeen.Format(time.RFC3339), strings.Join(f.SourceIPs, ","), strings.Join(f.EventIDs, " "), f.Details)
	}
	golden := filepath.Join("testdata", "detections", "samples.golden")
	if *query.UpdateGolden {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("findings differ from %s (run with -update if the change is right):\n%s", golden, b.String())
	}

	data, err := os.ReadFile(filepath.Join(dir, "expected-findings.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	truth := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(found) != len(truth) {
		t.Errorf("%d findings, the story has %d", len(found), len(truth))
	}
	for _, line := range truth {
		var e struct {
			RuleID, Actor, AccountID, SourceIP string
			EventIDs                           []string
		}
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&struct {
			RuleID    *string   `json:"rule_id"`
			Actor     *string   `json:"actor"`
			AccountID *string   `json:"account_id"`
			SourceIP  *string   `json:"source_ip"`
			EventIDs  *[]string `json:"event_ids"`
		}{&e.RuleID, &e.Actor, &e.AccountID, &e.SourceIP, &e.EventIDs}); err != nil {
			t.Fatal(err)
		}
		ok := slices.ContainsFunc(found, func(f query.Finding) bool {
			return f.RuleID == e.RuleID && f.Actor == e.Actor && f.AccountID == e.AccountID &&
				slices.Contains(f.SourceIPs, e.SourceIP) && !slices.ContainsFunc(e.EventIDs, func(id string) bool { return !slices.Contains(f.EventIDs, id) })
		})
		if !ok {
			t.Errorf("no finding for the expected %s", line)
		}
	}
}

// writeSyntheticEvents writes n CloudTrail events as NDJSON files in dir: a
// month of ordinary API calls with, scattered at random (the worst case for
// skipping storage blocks), 0.5% console sign-ins (successes, password and MFA
// failures, root, SAML), 0.2% Identity Center sign-in steps and 0.01% MFA
// device changes. That is several times denser than real trails, where
// sign-ins are hundreds a day among millions of API calls; the rules cost
// grows with that density, since DuckDB decodes the storage blocks that hold
// a matching event.
func writeSyntheticEvents(t testing.TB, dir string, n int) {
	t.Helper()
	const perFile = 20_000
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	apiNames := []string{"DescribeInstances", "GetObject", "PutObject", "AssumeRole", "ListBuckets", "GetCallerIdentity", "Decrypt", "DescribeLogStreams"}
	var f *os.File
	var w *bufio.Writer
	for i := 0; i < n; i++ {
		if i%perFile == 0 {
			if f != nil {
				w.Flush()
				f.Close()
			}
			var err error
			if f, err = os.Create(filepath.Join(dir, fmt.Sprintf("part-%05d.ndjson", i/perFile))); err != nil {
				t.Fatal(err)
			}
			w = bufio.NewWriterSize(f, 1<<20)
		}
		ts := start.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).Format(time.RFC3339)
		user := fmt.Sprintf("user%03d", rng.IntN(500))
		ip := fmt.Sprintf("203.0.113.%d", rng.IntN(200))
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, rng.Int64N(1<<40))
		acct := []string{"111122223333", "444455556666"}[rng.IntN(2)]
		iam := fmt.Sprintf(`{"type":"IAMUser","principalId":"AIDA%s","arn":"arn:aws:iam::%s:user/%s","accountId":"%s","userName":"%s"}`, user, acct, user, acct, user)
		const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"
		switch r := rng.IntN(10_000); {
		case r < 50: // console sign-ins
			result, mfa := "Success", []string{"Yes", "No"}[rng.IntN(2)]
			if rng.IntN(4) == 0 {
				result = "Failure"
			}
			ident := iam
			switch rng.IntN(20) {
			case 0:
				ident = fmt.Sprintf(`{"type":"Root","principalId":"%s","arn":"arn:aws:iam::%s:root","accountId":"%s","accessKeyId":""}`, acct, acct, acct)
			case 1, 2, 3:
				ident = fmt.Sprintf(`{"type":"AssumedRole","principalId":"AROAX:%s@example.com","arn":"arn:aws:sts::%s:assumed-role/Okta-Admins/%s@example.com","accountId":"%s"}`, user, acct, user, acct)
			}
			fmt.Fprintf(w, `{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"%s","userAgent":"%s","requestParameters":null,"responseElements":{"ConsoleLogin":"%s"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"%s"},"eventID":"%s","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"%s","eventCategory":"Management"}`+"\n",
				ident, ts, ip, ua, result, mfa, id, acct)
		case r < 70: // Identity Center sign-in steps
			names := []string{"CredentialChallenge", "CredentialVerification", "UserAuthentication"}
			name := names[rng.IntN(3)]
			result := "Success"
			if rng.IntN(5) == 0 {
				result = "Failure"
			}
			fmt.Fprintf(w, `{"eventVersion":"1.10","userIdentity":{"type":"IdentityCenterUser","accountId":"%s","onBehalfOf":{"userId":"uid-%s","identityStoreArn":"arn:aws:identitystore::%s:identitystore/d-1"}},"eventTime":"%s","eventSource":"signin.amazonaws.com","eventName":"%s","awsRegion":"eu-west-1","sourceIPAddress":"%s","userAgent":"%s","requestParameters":null,"responseElements":null,"additionalEventData":{"AuthWorkflowID":"wf-%d","UserName":"%s","CredentialType":"%s"},"eventID":"%s","eventType":"AwsServiceEvent","recipientAccountId":"%s","serviceEventDetails":{"%s":"%s"}}`+"\n",
				acct, user, acct, ts, name, ip, ua, rng.IntN(n/100+1), user, []string{"PASSWORD", "TOTP", "PASSWORD,TOTP", "WEBAUTHN"}[rng.IntN(4)], id, acct, name, result)
		case r < 71: // MFA device changes
			name := []string{"CreateVirtualMFADevice", "EnableMFADevice", "DeactivateMFADevice", "DeleteVirtualMFADevice", "ResyncMFADevice"}[rng.IntN(5)]
			fmt.Fprintf(w, `{"eventVersion":"1.08","userIdentity":%s,"eventTime":"%s","eventSource":"iam.amazonaws.com","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"%s","userAgent":"AWS Internal","requestParameters":{"userName":"%s","serialNumber":"arn:aws:iam::%s:mfa/%s"},"responseElements":null,"eventID":"%s","eventType":"AwsApiCall","recipientAccountId":"%s"}`+"\n",
				iam, ts, name, ip, user, acct, user, id, acct)
		default: // everything else
			fmt.Fprintf(w, `{"eventVersion":"1.08","userIdentity":%s,"eventTime":"%s","eventSource":"ec2.amazonaws.com","eventName":"%s","awsRegion":"eu-west-1","sourceIPAddress":"%s","userAgent":"aws-cli/2.15.0","requestParameters":{"instancesSet":{"items":[{"instanceId":"i-%012x"}]},"filterSet":{}},"responseElements":null,"requestID":"%s","eventID":"%s","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"%s","eventCategory":"Management"}`+"\n",
				iam, ts, apiNames[rng.IntN(len(apiNames))], ip, rng.Int64N(1<<40), id, id, acct)
		}
	}
	w.Flush()
	f.Close()
}

// BenchmarkDetect times the whole built-in rule set, and each rule, over a
// database file of synthetic events (TRAILSIFT_BENCH_EVENTS, default 200k),
// opened read-only as detect opens it.
func BenchmarkDetect(b *testing.B) {
	n := 200_000
	if s := os.Getenv("TRAILSIFT_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("TRAILSIFT_BENCH_EVENTS=%q: want a positive number", s)
		}
		n = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	writeSyntheticEvents(b, dir, n)
	path := filepath.Join(b.TempDir(), "bench.duckdb")
	s, err := query.Open(ctx, path, false)
	if err != nil {
		b.Fatal(err)
	}
	ingestInto(b, s, dir)
	s.Close()
	ro, err := query.Open(ctx, path, true)
	if err != nil {
		b.Fatal(err)
	}
	defer ro.Close()
	rules, err := query.BuiltinRules()
	if err != nil {
		b.Fatal(err)
	}
	// A first run reads the database into DuckDB's buffers, as any earlier
	// query of a session would have.
	if _, err := query.Detect(ctx, ro.DB, rules, query.DetectOptions{}); err != nil {
		b.Fatal(err)
	}
	bench := func(rules []query.Rule) func(*testing.B) {
		return func(b *testing.B) {
			var found []query.Finding
			for b.Loop() {
				if found, err = query.Detect(ctx, ro.DB, rules, query.DetectOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(len(found)), "findings")
		}
	}
	b.Run("all", bench(rules))
	for _, r := range rules {
		b.Run(r.ID, bench([]query.Rule{r}))
	}
}
