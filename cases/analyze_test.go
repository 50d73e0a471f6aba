package cases

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/trailsift/trailsift/integrity"
)

const (
	tAcct   = "123456789012"
	tRegion = "us-east-1"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func write(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// digestEvidence writes, under dir, two CloudTrail log files in the S3
// layout and the digest that lists them; it returns the log files' paths.
func digestEvidence(t *testing.T, dir string) []string {
	t.Helper()
	var logs []string
	var entries []map[string]string
	for i, minute := range []string{"0810", "0840"} {
		key := fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/2024/03/05/%s_CloudTrail_%s_20240305T%sZ_Log%d.json.gz", tAcct, tRegion, tAcct, tRegion, minute, i)
		at := "2024-03-05T" + minute[:2] + ":" + minute[2:] + ":00Z"
		content := []byte(fmt.Sprintf(`{"Records":[{"eventVersion":"1.08","eventTime":"%s","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"%s","recipientAccountId":"%s","eventID":"ev-%d"}]}`, at, tRegion, tAcct, i))
		write(t, filepath.Join(dir, key), gz(t, content))
		sum := sha256.Sum256(content)
		entries = append(entries, map[string]string{"s3Bucket": "b", "s3Object": key, "hashValue": hex.EncodeToString(sum[:]),
			"hashAlgorithm": "SHA-256", "oldestEventTime": at, "newestEventTime": at})
		logs = append(logs, filepath.Join(dir, key))
	}
	dkey := fmt.Sprintf("AWSLogs/%s/CloudTrail-Digest/%s/2024/03/05/%s_CloudTrail-Digest_%s_trail_%s_20240305T090000Z.json.gz", tAcct, tRegion, tAcct, tRegion, tRegion)
	doc, err := json.Marshal(map[string]any{
		"awsAccountId": tAcct, "digestStartTime": "2024-03-05T08:00:00Z", "digestEndTime": "2024-03-05T09:00:00Z",
		"digestS3Bucket": "b", "digestS3Object": dkey, "digestPublicKeyFingerprint": "00", "digestSignatureAlgorithm": "SHA256withRSA",
		"newestEventTime": "2024-03-05T08:40:00Z", "oldestEventTime": "2024-03-05T08:10:00Z",
		"previousDigestS3Bucket": nil, "previousDigestS3Object": nil, "previousDigestHashValue": nil,
		"previousDigestHashAlgorithm": nil, "previousDigestSignature": nil, "logFiles": entries,
	})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, dkey), gz(t, doc))
	return logs
}

// TestAnalyzeReadsLogFilesOnce: the digest check takes the hashes ingest
// computed. The log files are overwritten once ingest has read them (and a
// log file is also given as a second copy, stored as a duplicate): the
// check still finds them intact, so it did not read them again; the same
// check reading the files finds both changed.
func TestAnalyzeReadsLogFilesOnce(t *testing.T) {
	ctx := context.Background()
	evidence := filepath.Join(t.TempDir(), "evidence")
	logs := digestEvidence(t, evidence)
	logData, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	copyOf := filepath.Join(t.TempDir(), "copy", strings.TrimPrefix(logs[0], evidence))
	write(t, copyOf, logData)

	overwrite := func() {
		for _, p := range append(logs, copyOf) {
			write(t, p, gz(t, []byte(`{"Records":[]}`)))
		}
	}
	t.Chdir(filepath.Dir(evidence)) // relative inputs: the store names files by absolute path
	inputs := []string{"evidence", copyOf}
	res, err := Analyze(ctx, inputs, Options{Out: filepath.Join(t.TempDir(), "case"), Load: LoadOptions{AfterRead: overwrite}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded.FilesDuplicate != 1 {
		t.Errorf("files duplicate = %d, want the copy", res.Loaded.FilesDuplicate)
	}
	rep := res.Integrity.Report
	if rep == nil || rep.Failed() || rep.Digests != 1 || rep.LogFilesFound != 3 || rep.LogFilesVerified != 2 {
		t.Fatalf("integrity: %+v (note %q)", rep, res.Integrity.Note)
	}

	reread := VerifyEvidence(ctx, inputs, nil, nil).Report
	if fails, _ := reread.Count(); fails != 3 {
		t.Errorf("reading the overwritten files again: %d failures, want 3: %+v", fails, reread.Findings)
	}
}

// TestKnownHashesTakesNewestRow: a log file stored twice (its content
// changed between two runs) is known by its newest hashes; one that could
// not be read to the end is not known, so the check reads it.
func TestKnownHashesTakesNewestRow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logs := digestEvidence(t, dir)
	store := filepath.Join(t.TempDir(), "case")
	if _, err := Analyze(ctx, []string{dir}, Options{Out: store}); err != nil {
		t.Fatal(err)
	}
	changed := gz(t, []byte(`{"Records":[]}`))
	write(t, logs[0], changed)
	write(t, logs[1], []byte("\x1f\x8b broken gzip"))
	res, err := Analyze(ctx, []string{dir}, Options{Out: store})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Integrity.Report.Findings {
		got = append(got, f.Kind+" "+filepath.Base(f.File))
	}
	want := []string{integrity.KindLogModified + " " + filepath.Base(logs[0]), integrity.KindLogUnreadable + " " + filepath.Base(logs[1])}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings %q, want %q", got, want)
	}
}

// servePipe makes a FIFO and writes data to the first reader that opens
// it; wasRead, called once the reading is over, releases the writer and
// tells whether a reader came.
func servePipe(t *testing.T, data []byte) (fifo string, wasRead func() bool) {
	t.Helper()
	fifo = filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	over := make(chan struct{})
	served := make(chan bool, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for a reader
		if err != nil {
			served <- false
			return
		}
		select {
		case <-over: // released by wasRead: nobody read
			served <- false
		default:
			f.Write(data)
			served <- true
		}
		f.Close()
	}()
	return fifo, func() bool {
		close(over)
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			defer r.Close()
		}
		return <-served
	}
}

var pipeEvent = []byte(`{"Records":[{"eventVersion":"1.08","eventTime":"2024-03-05T08:10:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","eventID":"e1"}]}`)

// TestVerifyEvidenceLeavesPipes: a pipe given to analyze was read once, by
// ingest; the digest check does not open it again (it would wait for a
// writer that is gone, or read other bytes) and says it was not checked.
func TestVerifyEvidenceLeavesPipes(t *testing.T) {
	fifo, wasRead := servePipe(t, pipeEvent)
	c := VerifyEvidence(context.Background(), []string{fifo}, nil, nil)
	if wasRead() {
		t.Error("the digest check opened the pipe again")
	}
	if c.Report != nil || !strings.Contains(c.Note, "pipe") {
		t.Errorf("check %+v, note %q", c.Report, c.Note)
	}
}

// TestAnalyzeFIFO: analyze of a pipe loads its events and ends.
func TestAnalyzeFIFO(t *testing.T) {
	fifo, wasRead := servePipe(t, pipeEvent)
	res, err := Analyze(context.Background(), []string{fifo}, Options{Out: filepath.Join(t.TempDir(), "case")})
	if !wasRead() || err != nil {
		t.Fatalf("pipe read by ingest: err %v", err)
	}
	if res.Loaded.EventsNew != 1 || res.Integrity.Report != nil || !strings.Contains(res.Integrity.Note, "pipe") {
		t.Errorf("events new %d, integrity %+v note %q", res.Loaded.EventsNew, res.Integrity.Report, res.Integrity.Note)
	}
}
