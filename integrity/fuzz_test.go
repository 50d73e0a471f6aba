package integrity

import (
	"bufio"
	"bytes"
	"runtime"
	"strings"
	"testing"
)

const digestHead = `{"awsAccountId":"111122223333","digestStartTime":"2024-03-05T10:00:00Z","digestEndTime":"2024-03-05T11:00:00Z",` +
	`"digestS3Bucket":"b","digestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/05/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240305T110000Z.json.gz",` +
	`"digestSignatureAlgorithm":"SHA256withRSA","logFiles":`

// FuzzParseDigest feeds hostile digest files, plain or gzipped, through the
// path Verify reads them by (hashStream, then parseDigest): nothing panics,
// and what parses has what a digest needs.
func FuzzParseDigest(f *testing.F) {
	f.Add([]byte(digestHead + `[{"s3Bucket":"b","s3Object":"o","hashValue":"00","hashAlgorithm":"SHA-256"}]}`))
	f.Add([]byte(digestHead + `[]}`))
	f.Add([]byte(digestHead + `null}`))
	f.Add([]byte(digestHead + `[{}]}`))
	f.Add([]byte(digestHead + strings.Repeat("[", 200) + "}"))
	f.Add(gzipped([]byte(digestHead + `[]}`)))
	f.Add([]byte(`{"digestS3Object":"x","digestStartTime":"0001-01-01T00:00:00Z","digestEndTime":"9999-12-31T23:59:59Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf bytes.Buffer
		_, _, _, err := hashStream(bufio.NewReader(bytes.NewReader(data)), 1<<20, &buf)
		if err != nil {
			return
		}
		d, err := parseDigest(buf.Bytes())
		if err != nil {
			return
		}
		if d.S3Object == "" || d.StartTime == "" || d.EndTime == "" || len(d.LogFiles) > maxDigestLogFiles {
			t.Errorf("parsed a digest without what it needs: %+v", d)
		}
		for _, lf := range d.LogFiles {
			if lf.S3Object == "" || lf.HashValue == "" {
				t.Errorf("kept a log file entry without its name or hash: %+v", lf)
			}
		}
	})
}

// TestParseDigestHostile: sizes and nesting an attacker chooses cost what
// the file costs. Before, 6 MB of empty entries became 2 million LogFile
// structs (about 200 MB).
func TestParseDigestHostile(t *testing.T) {
	for _, tt := range []struct {
		name, content, err string
		allocPerByte       uint64 // the most it may allocate per input byte
	}{
		{"empty entries", digestHead + "[" + strings.Repeat("{},", 2_000_000) + "{}]}", "logFiles[0]: s3Object or hashValue missing", 2},
		{"too many entries", digestHead + "[" + strings.Repeat(`{"s3Object":"o","hashValue":"0"},`, maxDigestLogFiles) + `{"s3Object":"o","hashValue":"0"}]}`,
			"more than 100000 files", 32},
		{"deep nesting", digestHead + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000) + "}", "exceeded max depth", 4},
		{"not an array", digestHead + `{"a":1}}`, "logFiles is not an array", 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := parseDigest([]byte(tt.content))
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err %v, want %q", err, tt.err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > tt.allocPerByte*uint64(len(tt.content))+1<<20 {
				t.Errorf("parsing %d bytes allocated %d", len(tt.content), alloc)
			}
		})
	}
}
