package samples

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bundled collects the events of the bundled sample files.
type bundled struct {
	t       *testing.T
	raw     map[string]string // eventID -> compact JSON of the first copy
	events  map[string]*event
	records int
	dups    int
}

func (b *bundled) add(where string, msg json.RawMessage) {
	b.t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, msg); err != nil {
		b.t.Fatalf("%s: %v", where, err)
	}
	e := &event{}
	if err := json.Unmarshal(msg, e); err != nil {
		b.t.Fatalf("%s: %v", where, err)
	}
	var err error
	if e.t, err = time.Parse(time.RFC3339, e.EventTime); err != nil {
		if e.t, err = time.Parse("2006-01-02 15:04:05", e.EventTime); err != nil {
			b.t.Fatalf("%s: eventTime %q", where, e.EventTime)
		}
	}
	if !strings.HasPrefix(e.EventTime, "2024-03-0") {
		b.t.Errorf("%s: eventTime %s", where, e.EventTime)
	}
	b.records++
	if prev, ok := b.raw[e.EventID]; ok {
		b.dups++
		if prev != compact.String() {
			b.t.Errorf("%s: eventID %s reused for a different event", where, e.EventID)
		}
		return
	}
	b.raw[e.EventID] = compact.String()
	b.events[e.EventID] = e
}

func (b *bundled) addRecords(where string, data []byte) {
	var doc struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		b.t.Fatalf("%s: %v", where, err)
	}
	for _, r := range doc.Records {
		b.add(where, r)
	}
}

func gunzip(t *testing.T, where string, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return out
}

func TestBundledSamples(t *testing.T) {
	b := &bundled{t: t, raw: map[string]string{}, events: map[string]*event{}}

	// s3-export.zip
	zr, err := zip.OpenReader("s3-export.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	logFiles := map[string][]byte{}
	var digests [][]byte
	skipped := 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.Contains(f.Name, "/CloudTrail-Digest/"):
			digests = append(digests, gunzip(t, f.Name, data))
			skipped++
		case filepath.Base(f.Name) == ".DS_Store":
			skipped++
		case fileRE.MatchString(f.Name):
			content := gunzip(t, f.Name, data)
			logFiles[f.Name] = content
			b.addRecords(f.Name, content)
		default:
			t.Errorf("unexpected zip entry %s", f.Name)
		}
	}
	// 4 chains (2 accounts x 2 regions) of 9 hourly digests, and .DS_Store.
	if skipped != 37 || len(digests) != 36 || len(logFiles) < 10 {
		t.Fatalf("zip: %d log files, %d digests, %d skipped", len(logFiles), len(digests), skipped)
	}
	missing := 0
	for _, digest := range digests {
		var dg struct {
			AWSAccountID string `json:"awsAccountId"`
			Algorithm    string `json:"digestSignatureAlgorithm"`
			LogFiles     []struct {
				S3Object  string `json:"s3Object"`
				HashValue string `json:"hashValue"`
			} `json:"logFiles"`
		}
		if err := json.Unmarshal(digest, &dg); err != nil {
			t.Fatal(err)
		}
		if dg.AWSAccountID == "" || dg.Algorithm != "SHA256withRSA" {
			t.Fatalf("digest: %s", digest)
		}
		for _, lf := range dg.LogFiles {
			if logFiles[lf.S3Object] == nil {
				missing++ // the planted deletion; trailsift verify tests it
				continue
			}
			h := sha256.Sum256(logFiles[lf.S3Object])
			if hex.EncodeToString(h[:]) != lf.HashValue {
				t.Errorf("digest entry %s does not match the log file", lf.S3Object)
			}
		}
	}
	if missing != 1 {
		t.Errorf("%d log files listed in digests are missing from the zip, want the 1 planted", missing)
	}

	// event-history.json
	data, err := os.ReadFile("event-history.json")
	if err != nil {
		t.Fatal(err)
	}
	b.addRecords("event-history.json", data)

	// lookup-events pages
	for i, name := range []string{"lookup-events-page1.json", "lookup-events-page2.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []struct {
				EventID         string `json:"EventId"`
				EventName       string `json:"EventName"`
				EventTime       string `json:"EventTime"`
				CloudTrailEvent string `json:"CloudTrailEvent"`
			} `json:"Events"`
			NextToken *string `json:"NextToken"`
		}
		if err := json.Unmarshal(data, &page); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if (page.NextToken != nil) != (i == 0) {
			t.Errorf("%s: NextToken %v", name, page.NextToken)
		}
		for _, ev := range page.Events {
			b.add(name, json.RawMessage(ev.CloudTrailEvent))
			if e := b.events[ev.EventID]; e == nil || e.EventName != ev.EventName {
				t.Errorf("%s: EventId %s does not match its CloudTrailEvent", name, ev.EventID)
			}
			if _, err := time.Parse(time.RFC3339, ev.EventTime); err != nil {
				t.Errorf("%s: EventTime %q", name, ev.EventTime)
			}
		}
	}

	// lake-export.ndjson
	f, err := os.Open("lake-export.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		b.add("lake-export.ndjson", json.RawMessage(sc.Bytes()))
	}
	f.Close()

	// The truncated file is broken gzip.
	data, err = os.ReadFile(filepath.Join("corrupt", "truncated.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
		_, err = io.ReadAll(zr)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("truncated.json.gz reads without the expected error: %v", err)
		}
	}

	if b.dups == 0 {
		t.Error("no duplicated events across shapes")
	}
	odd := 0
	var evs []*event
	for _, e := range b.events {
		if e.EventTime == "2024-03-05 10:00:00" {
			odd++
		}
		evs = append(evs, e)
	}
	if odd != 1 {
		t.Errorf("%d records with the space-separated eventTime, want 1", odd)
	}

	// Exactly the expected findings: the sign-in and MFA ones by the
	// reference detector, the lineage ones by the chain's check below.
	want := map[string]int{}
	lineage := 0
	for _, p := range readGroundTruth(t, "expected-findings.jsonl") {
		for _, id := range p.EventIDs {
			if b.events[id] == nil {
				t.Errorf("expected finding %s refers to missing event %s", p.RuleID, id)
			}
		}
		if lineageRules[p.RuleID] {
			lineage++
			continue
		}
		want[plantedKey(p)]++
	}
	if lineage != 3 {
		t.Errorf("%d lineage findings expected, the story has 3", lineage)
	}
	got := detect(evs)
	for k, n := range got {
		if want[k] != n {
			t.Errorf("reference detector found %d× %s, expected %d", n, k, want[k])
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("expected %d× %s, reference detector found %d", n, k, got[k])
		}
	}
	// The chain's sessions are what the lineage joins give.
	var recs []*ctRecord
	for _, raw := range b.raw {
		recs = append(recs, parseRecord(t, []byte(raw)))
	}
	truth := readSessionsTruth(t, "expected-sessions.jsonl")
	if len(truth) != 4 {
		t.Errorf("expected-sessions.jsonl has %d sessions, the chain has 4", len(truth))
	}
	checkSessions(t, recs, truth)
	t.Logf("%d records, %d unique events, %d duplicates, %d findings", b.records, len(b.events), b.dups, len(want)+lineage)
}

// TestBundledSamplesUpToDate checks the committed files are exactly what
// mksamples writes.
func TestBundledSamplesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool, "run", "./internal/mksamples", "-dir", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mksamples: %v\n%s", err, out)
	}
	for _, name := range []string{"s3-export.zip", "event-history.json", "lookup-events-page1.json", "lookup-events-page2.json",
		"lake-export.ndjson", "corrupt/truncated.json.gz", "expected-findings.jsonl", "expected-sessions.jsonl", "README.md"} {
		a, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("samples/%s is stale: run go run ./samples/internal/mksamples", name)
		}
	}
}
