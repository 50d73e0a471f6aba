package integrity

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hashesOf computes a log file's hashes as ingest would.
func hashesOf(t *testing.T, data []byte) Hashes {
	t.Helper()
	stored, content := sha256.Sum256(data), sha256.Sum256(gunzipT(t, data))
	return Hashes{Stored: hex.EncodeToString(stored[:]), Content: hex.EncodeToString(content[:])}
}

var badHashes = Hashes{Stored: strings.Repeat("0", 64), Content: strings.Repeat("0", 64)}

// TestVerifyKnownLogsAreNotOpened: a log file whose hashes are known is
// not opened (its bytes on disk could be anything: they are not looked
// at), its known hashes are the ones checked, and an unknown one is read as
// before. The input is relative; known files are named by absolute path,
// as ingest names them.
func TestVerifyKnownLogsAreNotOpened(t *testing.T) {
	awsK, _ := testKeys(t)
	c := buildChain(t, 2, func(int) *rsa.PrivateKey { return awsK })
	known := map[string]Hashes{}
	for _, keys := range c.logs {
		for _, k := range keys {
			data, err := os.ReadFile(c.path(k))
			if err != nil {
				t.Fatal(err)
			}
			known[c.path(k)] = hashesOf(t, data)
		}
	}
	known[c.path(c.logs[0][0])] = badHashes                               // what ingest hashed differs from the digest
	writeFile(t, c.path(c.logs[0][1]), []byte("not even gzip"))           // changed after ingest: not detected, not read
	delete(known, c.path(c.logs[1][1]))                                   // not in the store: read
	writeFile(t, c.path(c.logs[1][1]), gzipped([]byte(`{"Records":[]}`))) // and found modified

	t.Chdir(filepath.Dir(c.dir))
	var opened []string
	countingOpen := func(p string) (*os.File, error) {
		opened = append(opened, filepath.ToSlash(p))
		return os.Open(p)
	}
	r, err := verifyOpening(context.Background(), []string{filepath.Base(c.dir)}, VerifyOptions{Known: known}, countingOpen)
	if err != nil {
		t.Fatal(err)
	}
	var logsOpened []string
	for _, p := range opened {
		if logName.MatchString(p) {
			logsOpened = append(logsOpened, p)
		}
	}
	if want := []string{filepath.Base(c.dir) + "/" + c.logs[1][1]}; !slices.Equal(logsOpened, want) {
		t.Errorf("log files opened: %q, want only the unknown one %q", logsOpened, want)
	}
	if len(opened) != len(logsOpened)+len(c.digests) {
		t.Errorf("opened %q: the digests are read, each once", opened)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Kind+" "+strings.TrimPrefix(filepath.ToSlash(f.File), filepath.Base(c.dir)+"/"))
	}
	slices.Sort(got)
	want := []string{KindLogModified + " " + c.logs[0][0], KindLogModified + " " + c.logs[1][1]}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
	if r.LogFilesFound != 4 || r.LogFilesVerified != 2 {
		t.Errorf("found %d, verified %d log files", r.LogFilesFound, r.LogFilesVerified)
	}
}

// TestVerifyKnownArchiveMembers: members of zip and tar archives are
// looked up as archive!member, and when known are not read: the wrong
// hashes given for them are the ones checked.
func TestVerifyKnownArchiveMembers(t *testing.T) {
	awsK, _ := testKeys(t)
	c := buildChain(t, 2, func(int) *rsa.PrivateKey { return awsK })
	var zbuf, tbuf bytes.Buffer
	zw, tw := zip.NewWriter(&zbuf), tar.NewWriter(&tbuf)
	for _, k := range append(slices.Concat(c.logs...), c.digests...) {
		data, err := os.ReadFile(c.path(k))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create("export/" + k)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		tw.WriteHeader(&tar.Header{Name: "./export/" + k, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	zw.Close()
	tw.Close()
	out := t.TempDir()
	for _, a := range []struct {
		name string
		data []byte
	}{{"export.zip", zbuf.Bytes()}, {"export.tar", tbuf.Bytes()}} {
		t.Run(a.name, func(t *testing.T) {
			p := filepath.Join(out, a.name)
			writeFile(t, p, a.data)
			known := map[string]Hashes{}
			for _, k := range slices.Concat(c.logs...) {
				known[p+"!export/"+k] = badHashes
			}
			r, err := Verify(context.Background(), []string{p}, VerifyOptions{Known: known})
			if err != nil {
				t.Fatal(err)
			}
			fails, _ := r.Count()
			if r.Digests != 2 || r.LogFilesFound != 4 || r.LogFilesVerified != 0 || fails != 4 {
				t.Errorf("digests %d, logs found %d, verified %d, failures %d: %+v", r.Digests, r.LogFilesFound, r.LogFilesVerified, fails, r.Findings)
			}
			for _, f := range r.Findings {
				if f.Kind != KindLogModified || !strings.HasPrefix(f.File, p+"!export/") {
					t.Errorf("finding %+v", f)
				}
			}
		})
	}
}
