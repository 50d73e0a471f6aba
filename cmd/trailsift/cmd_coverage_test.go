package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// writeLog writes one S3 log file delivered at the given time.
func writeLog(t *testing.T, dir string, delivered time.Time, records ...string) {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/05/123456789012_CloudTrail_us-east-1_%s_AbCdEfGhIjKlMnOp.json.gz", delivered.Format("20060102T1504Z")))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(fh)
	fmt.Fprintf(zw, `{"Records":[%s]}`, strings.Join(records, ","))
	zw.Close()
	fh.Close()
}

func ctEvent(id, at, name, source, user, params, errorCode string) string {
	e := fmt.Sprintf(`{"eventVersion":"1.09","eventID":"%s","eventTime":"%s","eventSource":"%s","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","userName":"%s","accountId":"123456789012","arn":"arn:aws:iam::123456789012:user/%s"},"requestParameters":%s`,
		id, at, source, name, user, user, params)
	if errorCode != "" {
		e += fmt.Sprintf(`,"errorCode":"%s"`, errorCode)
	}
	return e + "}"
}

func TestCoverageCommand(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	writeLog(t, dir, day.Add(8*time.Hour+5*time.Minute),
		ctEvent("e1", "2024-03-05T08:01:00Z", "ListBuckets", "s3.amazonaws.com", "alice", "null", ""))
	writeLog(t, dir, day.Add(9*time.Hour+5*time.Minute),
		ctEvent("e2", "2024-03-05T09:00:10Z", "PutEventSelectors", "cloudtrail.amazonaws.com", "mallory",
			`{"trailName":"main","eventSelectors":[{"readWriteType":"WriteOnly","includeManagementEvents":true}]}`, ""),
		ctEvent("e3", "2024-03-05T09:01:00Z", "PutEventSelectors", "cloudtrail.amazonaws.com", "alice",
			`{"trailName":"main","eventSelectors":[{"readWriteType":"All","includeManagementEvents":true}]}`, ""),
		ctEvent("e4", "2024-03-05T09:02:00Z", "DeleteTrail", "cloudtrail.amazonaws.com", "mallory", `{"name":"main"}`, "AccessDenied"),
		ctEvent("e5", "2024-03-05T09:03:00Z", "StopLogging", "cloudtrail.amazonaws.com", "mallory", `{"name":"arn:aws:cloudtrail:us-east-1:123456789012:trail/main"}`, ""))
	writeLog(t, dir, day.Add(12*time.Hour+5*time.Minute),
		ctEvent("e6", "2024-03-05T12:01:00Z", "StartLogging", "cloudtrail.amazonaws.com", "alice", `{"name":"main"}`, ""))
	db := filepath.Join(t.TempDir(), "case.duckdb")
	if _, stderr, code := run(t, "", "ingest", "--db", db, dir); code != 0 {
		t.Fatalf("ingest: %d %s", code, stderr)
	}

	out, stderr, code := run(t, "", "coverage", "--db", db, "--format", "json")
	if code != exitIntegrity || !strings.Contains(stderr, "trail tampering") {
		t.Fatalf("code %d: %s", code, stderr)
	}
	var rep struct {
		Scopes []struct {
			Account, Region string
			Events          int64
			SilentHours     []struct{ From, To time.Time } `json:"silent_hours"`
			DeliveryGaps    []struct{ From, To time.Time } `json:"delivery_gaps"`
			LogFiles        int                            `json:"log_files"`
		}
		Tampering []struct {
			EventName string `json:"event_name"`
			Actor     string
			SourceIP  string `json:"source_ip"`
			Target    string
			ErrorCode string `json:"error_code"`
			Detail    string
			EventID   string `json:"event_id"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err, out)
	}
	if len(rep.Scopes) != 1 {
		t.Fatalf("scopes: %+v", rep.Scopes)
	}
	s := rep.Scopes[0]
	if s.Account != "123456789012" || s.Region != "us-east-1" || s.Events != 6 || s.LogFiles != 3 {
		t.Errorf("scope: %+v", s)
	}
	// 10:00 and 11:00 have no event: one merged range.
	if len(s.SilentHours) != 1 || !s.SilentHours[0].From.Equal(day.Add(10*time.Hour)) || !s.SilentHours[0].To.Equal(day.Add(12*time.Hour)) {
		t.Errorf("silent hours: %+v", s.SilentHours)
	}
	if len(s.DeliveryGaps) != 1 || !s.DeliveryGaps[0].From.Equal(day.Add(9*time.Hour+5*time.Minute)) || !s.DeliveryGaps[0].To.Equal(day.Add(12*time.Hour+5*time.Minute)) {
		t.Errorf("delivery gaps: %+v", s.DeliveryGaps)
	}
	var got []string
	for _, e := range rep.Tampering {
		got = append(got, fmt.Sprintf("%s %s %s %s %s %s", e.EventID, e.EventName, e.Actor, e.SourceIP, e.ErrorCode, e.Target))
	}
	want := []string{
		"e2 PutEventSelectors mallory 198.51.100.7  main",
		"e4 DeleteTrail mallory 198.51.100.7 AccessDenied main",
		"e5 StopLogging mallory 198.51.100.7  arn:aws:cloudtrail:us-east-1:123456789012:trail/main",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tampering:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(rep.Tampering[0].Detail, "WriteOnly") {
		t.Errorf("PutEventSelectors detail: %q", rep.Tampering[0].Detail)
	}

	out, _, code = run(t, "", "coverage", "--db", db)
	if code != exitIntegrity || !strings.Contains(out, "StopLogging") || !strings.Contains(out, "delivery gap") {
		t.Errorf("table: code %d\n%s", code, out)
	}
	if _, _, code := run(t, "", "coverage", "--db", db, "--delivery-gap", "0s"); code != exitUsage {
		t.Errorf("--delivery-gap 0s: code %d", code)
	}
}
