package integrity

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	keysOnce           sync.Once
	awsKey, attackerKy *rsa.PrivateKey
)

func testKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if awsKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if attackerKy, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return awsKey, attackerKy
}

// fingerprint is the test keys' fingerprint: hex MD5 of the PKCS#1 DER.
// (AWS does not document its fingerprint; Verify only matches the string.)
func fingerprint(k *rsa.PublicKey) string {
	sum := md5.Sum(x509.MarshalPKCS1PublicKey(k))
	return hex.EncodeToString(sum[:])
}

// keysJSON renders a key as `aws cloudtrail list-public-keys` prints it.
func keysJSON(k *rsa.PublicKey) []byte {
	doc := map[string]any{"PublicKeyList": []map[string]any{{
		"ValidityStartTime": 1709251200.0, "ValidityEndTime": 1711929600.0,
		"Value":       base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(k)),
		"Fingerprint": fingerprint(k),
	}}}
	b, _ := json.MarshalIndent(doc, "", "    ")
	return b
}

const (
	tAcct   = "123456789012"
	tRegion = "us-east-1"
	tBucket = "evidence-trail-bucket"
	tTrail  = "org-trail"
)

var t0 = time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC)

// chain is a digest chain written in the documented layout.
type chain struct {
	dir     string
	logs    [][]string // S3 keys of the log files per hour
	digests []string   // S3 keys of the digests
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func logKey(at time.Time, n int) string {
	return fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_Log%04dAbCdEfGh.json.gz",
		tAcct, tRegion, at.Format("2006/01/02"), tAcct, tRegion, at.Format("20060102T1504Z"), n)
}

func logContent(at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"Records":[{"eventVersion":"1.08","eventTime":"%s","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"%s","recipientAccountId":"%s"}]}`,
		at.Add(-3*time.Minute).Format(time.RFC3339), tRegion, tAcct))
}

// buildChain writes hours of logs (two files an hour) and one digest per
// hour; signer(i) signs digest i.
func buildChain(t *testing.T, hours int, signer func(i int) *rsa.PrivateKey) *chain {
	t.Helper()
	awsK, _ := testKeys(t)
	c := &chain{dir: t.TempDir()}
	var prevKey, prevHash, prevSig string
	for h := range hours {
		start, end := t0.Add(time.Duration(h)*time.Hour), t0.Add(time.Duration(h+1)*time.Hour)
		var entries []map[string]string
		var keys []string
		for i, m := range []int{10, 40} {
			at := start.Add(time.Duration(m) * time.Minute)
			key := logKey(at, h*2+i)
			content := logContent(at)
			writeFile(t, filepath.Join(c.dir, key), gzipped(content))
			sum := sha256.Sum256(content)
			keys = append(keys, key)
			entries = append(entries, map[string]string{"s3Bucket": tBucket, "s3Object": key, "hashValue": hex.EncodeToString(sum[:]),
				"hashAlgorithm": "SHA-256", "oldestEventTime": at.Add(-3 * time.Minute).Format(time.RFC3339), "newestEventTime": at.Add(-3 * time.Minute).Format(time.RFC3339)})
		}
		dkey := fmt.Sprintf("AWSLogs/%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz",
			tAcct, tRegion, end.Format("2006/01/02"), tAcct, tRegion, tTrail, tRegion, end.Format("20060102T150405Z"))
		doc := map[string]any{
			"awsAccountId": tAcct, "digestStartTime": start.Format(time.RFC3339), "digestEndTime": end.Format(time.RFC3339),
			"digestS3Bucket": tBucket, "digestS3Object": dkey, "digestPublicKeyFingerprint": fingerprint(&awsK.PublicKey),
			"digestSignatureAlgorithm": "SHA256withRSA", "newestEventTime": entries[1]["newestEventTime"], "oldestEventTime": entries[0]["oldestEventTime"],
			"previousDigestS3Bucket": nil, "previousDigestS3Object": nil, "previousDigestHashValue": nil,
			"previousDigestHashAlgorithm": nil, "previousDigestSignature": nil, "logFiles": entries,
		}
		if h > 0 {
			doc["previousDigestS3Bucket"], doc["previousDigestS3Object"] = tBucket, prevKey
			doc["previousDigestHashValue"], doc["previousDigestHashAlgorithm"], doc["previousDigestSignature"] = prevHash, "SHA-256", prevSig
		}
		content, _ := json.Marshal(doc)
		d, err := parseDigest(content)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		sig, err := Sign(signer(h), d, hex.EncodeToString(sum[:]))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(c.dir, dkey), gzipped(content))
		prevKey, prevHash, prevSig = dkey, hex.EncodeToString(sum[:]), sig
		c.logs = append(c.logs, keys)
		c.digests = append(c.digests, dkey)
	}
	return c
}

func (c *chain) path(key string) string { return filepath.Join(c.dir, key) }

// summary renders findings as "kind severity file from–to" lines (paths
// relative to the chain folder) to compare exactly.
func summary(c *chain, r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		file := strings.TrimPrefix(filepath.ToSlash(f.File), filepath.ToSlash(c.dir)+"/")
		out = append(out, fmt.Sprintf("%s %s %s %s %s", f.Kind, f.Severity, file, f.From.Format("15:04"), f.To.Format("15:04")))
	}
	sort.Strings(out)
	return out
}

func verify(t *testing.T, c *chain, keys Keys, inputs ...string) *Report {
	t.Helper()
	if len(inputs) == 0 {
		inputs = []string{c.dir}
	}
	r, err := Verify(context.Background(), inputs, VerifyOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readKeys(t *testing.T, k *rsa.PublicKey) Keys {
	t.Helper()
	keys, err := ReadKeys(bytes.NewReader(keysJSON(k)))
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestVerify(t *testing.T) {
	awsK, attacker := testKeys(t)
	real := func(int) *rsa.PrivateKey { return awsK }
	keys := readKeys(t, &awsK.PublicKey)
	hm := func(h, m int) string {
		return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute).Format("15:04")
	}
	ev := func(h, m int) string {
		return t0.Add(time.Duration(h)*time.Hour + time.Duration(m-3)*time.Minute).Format("15:04")
	}

	tests := []struct {
		name     string
		signer   func(int) *rsa.PrivateKey
		tamper   func(t *testing.T, c *chain)
		want     func(c *chain) []string
		verified int // signatures verified with keys
		failed   bool
	}{
		{name: "valid", signer: real, want: func(*chain) []string { return nil }, verified: 3},
		{
			name: "log edited", signer: real,
			tamper: func(t *testing.T, c *chain) {
				writeFile(t, c.path(c.logs[1][0]), gzipped([]byte(`{"Records":[]}`)))
			},
			want: func(c *chain) []string {
				return []string{fmt.Sprintf("log-modified fail %s %s %s", c.logs[1][0], ev(1, 10), ev(1, 10))}
			},
			verified: 3, failed: true,
		},
		{
			name: "log deleted", signer: real,
			tamper: func(t *testing.T, c *chain) { os.Remove(c.path(c.logs[2][1])) },
			want: func(c *chain) []string {
				return []string{fmt.Sprintf("log-missing fail %s %s %s", c.logs[2][1], ev(2, 40), ev(2, 40))}
			},
			verified: 3, failed: true,
		},
		{
			name: "digest removed", signer: real,
			tamper: func(t *testing.T, c *chain) { os.Remove(c.path(c.digests[1])) },
			want: func(c *chain) []string {
				return []string{
					fmt.Sprintf("digest-missing fail %s %s %s", c.digests[1], hm(1, 0), hm(2, 0)),
					fmt.Sprintf("log-uncovered fail %s %s %s", c.logs[1][0], hm(1, 10), hm(1, 10)),
					fmt.Sprintf("log-uncovered fail %s %s %s", c.logs[1][1], hm(1, 40), hm(1, 40)),
				}
			},
			verified: 1, failed: true, // digest 0's signature went with digest 1; digest 3 is the newest
		},
		{
			name: "forged signatures", signer: func(i int) *rsa.PrivateKey {
				if i >= 1 {
					return attacker // digests 1.. rewritten and re-signed by someone without AWS's key
				}
				return awsK
			},
			want: func(c *chain) []string {
				return []string{
					fmt.Sprintf("signature-invalid fail %s %s %s", c.digests[1], hm(1, 0), hm(2, 0)),
					fmt.Sprintf("signature-invalid fail %s %s %s", c.digests[2], hm(2, 0), hm(3, 0)),
				}
			},
			verified: 1, failed: true,
		},
		{
			name: "log no digest covers", signer: real,
			tamper: func(t *testing.T, c *chain) {
				at := t0.Add(2*time.Hour + 20*time.Minute)
				writeFile(t, c.path(logKey(at, 99)), gzipped(logContent(at)))
			},
			want: func(c *chain) []string {
				return []string{fmt.Sprintf("log-uncovered fail %s %s %s", logKey(t0.Add(2*time.Hour+20*time.Minute), 99), hm(2, 20), hm(2, 20))}
			},
			verified: 3, failed: true,
		},
		{
			name: "digest edited", signer: real,
			tamper: func(t *testing.T, c *chain) {
				p := c.path(c.digests[1])
				data, _ := os.ReadFile(p)
				content := gunzipT(t, data)
				content = bytes.Replace(content, []byte(`"logFiles":[{`), []byte(`"logFiles":[ {`), 1)
				writeFile(t, p, gzipped(content))
			},
			want: func(c *chain) []string {
				return []string{
					fmt.Sprintf("digest-modified fail %s %s %s", c.digests[1], hm(1, 0), hm(2, 0)),
					fmt.Sprintf("signature-invalid fail %s %s %s", c.digests[1], hm(1, 0), hm(2, 0)),
				}
			},
			verified: 2, failed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := buildChain(t, 4, tt.signer)
			if tt.tamper != nil {
				tt.tamper(t, c)
			}
			want := tt.want(c)
			sort.Strings(want)
			// Without keys: the same findings minus the signature ones.
			r := verify(t, c, nil)
			var wantNoKeys []string
			for _, w := range want {
				if !strings.HasPrefix(w, "signature-") {
					wantNoKeys = append(wantNoKeys, w)
				}
			}
			if got := summary(c, r); strings.Join(got, "\n") != strings.Join(wantNoKeys, "\n") {
				t.Errorf("without keys:\ngot  %q\nwant %q", got, wantNoKeys)
			}
			if r.SignaturesChecked || len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "NOT checked") {
				t.Errorf("without keys the report must say signatures were not checked: %q", r.Notes)
			}
			r = verify(t, c, keys)
			if got := summary(c, r); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("with keys:\ngot  %q\nwant %q", got, want)
			}
			if r.SignaturesVerified != tt.verified {
				t.Errorf("signatures verified = %d, want %d", r.SignaturesVerified, tt.verified)
			}
			if r.Failed() != tt.failed {
				t.Errorf("Failed() = %v, want %v", r.Failed(), tt.failed)
			}
		})
	}
}

// TestVerifyKeyValidity: the right key, but listed as valid only in 2023,
// before the chain was signed: every checkable signature fails.
func TestVerifyKeyValidity(t *testing.T) {
	awsK, _ := testKeys(t)
	c := buildChain(t, 4, func(int) *rsa.PrivateKey { return awsK })
	keys := readKeys(t, &awsK.PublicKey)
	for _, k := range keys {
		k.ValidFrom, k.ValidTo = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	}
	r := verify(t, c, keys)
	got := summary(c, r)
	if len(got) != 3 || r.SignaturesVerified != 0 || r.SignaturesFailed != 3 || !r.Failed() {
		t.Fatalf("verified %d, failed %d, findings %q", r.SignaturesVerified, r.SignaturesFailed, got)
	}
	for _, g := range got {
		if !strings.HasPrefix(g, "signature-key-not-valid fail ") {
			t.Errorf("finding %q, want signature-key-not-valid", g)
		}
	}
}

func gunzipT(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestVerifyZip checks the same chain inside a zip, nested under a folder,
// with one log file left out of the archive.
func TestVerifyZip(t *testing.T) {
	awsK, _ := testKeys(t)
	c := buildChain(t, 3, func(int) *rsa.PrivateKey { return awsK })
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(c.dir, p)
		if filepath.ToSlash(rel) == c.logs[0][1] {
			return nil // "deleted" from the export
		}
		w, err := zw.Create("case-42/bucket-copy/" + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	zw.Close()
	zpath := filepath.Join(t.TempDir(), "export.zip")
	writeFile(t, zpath, buf.Bytes())

	r := verify(t, c, readKeys(t, &awsK.PublicKey), zpath)
	if len(r.Findings) != 1 || r.Findings[0].Kind != KindLogMissing || r.Findings[0].File != c.logs[0][1] {
		t.Fatalf("findings: %+v", r.Findings)
	}
	if r.Digests != 3 || r.LogFilesListed != 6 || r.LogFilesVerified != 5 || r.SignaturesVerified != 2 || r.SignaturesUnknown != 1 {
		t.Errorf("report: %+v", r)
	}
	if len(r.Chains) != 1 || r.Chains[0].Trail != tTrail || r.Chains[0].Account != tAcct {
		t.Errorf("chains: %+v", r.Chains)
	}
}

func TestVerifyNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("hello"))
	if _, err := Verify(context.Background(), []string{dir}, VerifyOptions{}); err != ErrNothingFound {
		t.Fatalf("err = %v", err)
	}
}

func TestReadKeysISOTimes(t *testing.T) {
	awsK, _ := testKeys(t)
	doc := fmt.Sprintf(`{"PublicKeyList":[{"ValidityStartTime":"2024-03-01T00:00:00+00:00","ValidityEndTime":"2024-04-01T00:00:00+00:00","Value":"%s","Fingerprint":"ABCDEF"}]}`,
		base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&awsK.PublicKey)))
	keys, err := ReadKeys(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	k := keys["abcdef"]
	if k == nil || !k.ValidFrom.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("keys: %+v", keys)
	}
	if _, err := ReadKeys(strings.NewReader(`{"Records":[]}`)); err == nil {
		t.Fatal("a file that is not list-public-keys output must be refused")
	}
}

// TestVerifyFollowsLinks: a folder is walked as ingest walks it, links to
// files and folders followed and a link loop walked once, so a log file
// that ingest loads through a link is checked, not reported missing.
func TestVerifyFollowsLinks(t *testing.T) {
	awsK, _ := testKeys(t)
	c := buildChain(t, 2, func(int) *rsa.PrivateKey { return awsK })
	copyDigests := func(evidence string) {
		for _, d := range c.digests {
			data, err := os.ReadFile(c.path(d))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(evidence, d), data)
		}
	}
	logsFolder := filepath.Dir(c.path(c.logs[0][0]))
	rel, err := filepath.Rel(c.dir, logsFolder)
	if err != nil {
		t.Fatal(err)
	}

	// The folder of the log files is a link, and a link loops back.
	byFolder := t.TempDir()
	copyDigests(byFolder)
	if err := os.MkdirAll(filepath.Dir(filepath.Join(byFolder, rel)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(logsFolder, filepath.Join(byFolder, rel)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(byFolder, filepath.Join(byFolder, "loop")); err != nil {
		t.Fatal(err)
	}

	// Each log file is a link.
	byFile := t.TempDir()
	copyDigests(byFile)
	if err := os.MkdirAll(filepath.Join(byFile, rel), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, keys := range c.logs {
		for _, key := range keys {
			if err := os.Symlink(c.path(key), filepath.Join(byFile, key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, evidence := range []string{byFolder, byFile} {
		r := verify(t, c, nil, evidence)
		if fails, _ := r.Count(); fails != 0 || r.LogFilesVerified != 4 {
			t.Errorf("%d failures, %d log files verified, want 0 and 4: %v", fails, r.LogFilesVerified, summary(c, r))
		}
	}
}
