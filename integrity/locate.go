package integrity

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"archive/tar"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zip"
)

// found is one digest or log file found in the inputs.
type found struct {
	path        string // display path; archive members as archive!member
	key         string // S3 key from "AWSLogs/" on
	account     string
	region      string
	stamp       string // time stamp in the name
	storedHash  string // hex SHA-256 of the bytes as stored
	contentHash string // hex SHA-256 after gunzip (what digests hash)
	content     []byte // digests only: the uncompressed JSON
	err         error  // could not be read or decompressed
}

// Limits on what is held in memory: digest files are a few KB, nested
// archives are opened in memory only up to maxNestedZip.
const (
	maxDigestSize = 64 << 20
	maxNestedZip  = 256 << 20
	maxNesting    = 4
)

// locator walks the inputs and collects digest and log files.
type locator struct {
	ctx     context.Context
	digests []*found
	logs    []*found
	other   int // files that are neither
	known   map[string]Hashes
	open    func(string) (*os.File, error)
	// top is the input file being walked and topKey its name in known.
	top, topKey string
}

func (l *locator) walk(inputs []string) error {
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return &InputError{Path: in, Err: err}
		}
		if !st.IsDir() {
			if err := l.file(in); err != nil {
				return err
			}
			continue
		}
		if err := l.dir(in, map[string]bool{}); err != nil {
			return err
		}
	}
	return nil
}

// dir walks a folder the way ingest does, so every log file ingest loads
// is checked too: symbolic links are followed, to files and to folders,
// and a folder reached again (a link loop) is walked once.
func (l *locator) dir(dir string, seen map[string]bool) error {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		if seen[real] {
			return nil
		}
		seen[real] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return &InputError{Path: dir, Err: err}
	}
	for _, e := range entries {
		if l.ctx.Err() != nil {
			return l.ctx.Err()
		}
		p := filepath.Join(dir, e.Name())
		st, err := os.Stat(p) // follows links
		if err != nil {
			continue // a dangling link: nothing to read
		}
		switch {
		case st.IsDir():
			err = l.dir(p, seen)
		case st.Mode().IsRegular():
			err = l.file(p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// file handles one file on disk: a zip is opened at random, anything else
// is read as a stream.
func (l *locator) file(p string) error {
	l.top, l.topKey = p, p
	if abs, err := filepath.Abs(p); err == nil {
		l.topKey = abs // ingest names files by their absolute path
	}
	if l.knownLog(p) {
		return nil
	}
	fh, err := l.open(p)
	if err != nil {
		return &InputError{Path: p, Err: err}
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 64<<10)
	head, _ := br.Peek(4)
	if isZip(head) && !isCloudTrailName(p) {
		st, err := fh.Stat()
		if err != nil {
			return &InputError{Path: p, Err: err}
		}
		return l.zip(fh, st.Size(), p, 1)
	}
	return l.stream(p, br, 0)
}

// stream classifies one file or archive member and reads it once.
func (l *locator) stream(display string, br *bufio.Reader, depth int) error {
	if l.ctx.Err() != nil {
		return l.ctx.Err()
	}
	if m := digestName.FindStringSubmatch(display); m != nil {
		l.digests = append(l.digests, readDigest(display, br))
		return nil
	}
	if l.knownLog(display) {
		return nil
	}
	if m := logName.FindStringSubmatch(display); m != nil {
		f := &found{path: display, key: m[1], account: m[2], region: m[3], stamp: m[5]}
		f.storedHash, f.contentHash, _, f.err = hashStream(br, 0)
		l.logs = append(l.logs, f)
		return nil
	}
	if depth >= maxNesting {
		l.other++
		return nil
	}
	head, _ := br.Peek(512)
	switch {
	case isZip(head):
		data, err := io.ReadAll(io.LimitReader(br, maxNestedZip+1))
		if err != nil || len(data) > maxNestedZip {
			l.other++ // too large to open in memory, or unreadable
			return nil
		}
		return l.zip(bytes.NewReader(data), int64(len(data)), display, depth+1)
	case isTar(head):
		return l.tar(br, display, depth+1)
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		gz, err := gzip.NewReader(br)
		if err != nil {
			l.other++
			return nil
		}
		inner := bufio.NewReaderSize(gz, 64<<10)
		ih, _ := inner.Peek(512)
		if isTar(ih) {
			return l.tar(inner, display, depth+1)
		}
	}
	l.other++
	return nil
}

func (l *locator) zip(ra io.ReaderAt, size int64, display string, depth int) error {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		l.other++
		return nil
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		name := display + "!" + zf.Name
		if l.knownLog(name) {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			l.unreadable(name, err)
			continue
		}
		err = l.stream(name, bufio.NewReaderSize(rc, 64<<10), depth)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (l *locator) tar(r io.Reader, display string, depth int) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			l.unreadable(display, fmt.Errorf("tar: %w (members after this point were not read)", err))
			return nil
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := display + "!" + strings.TrimPrefix(h.Name, "./")
		if err := l.stream(name, bufio.NewReaderSize(tr, 64<<10), depth); err != nil {
			return err
		}
	}
}

// knownLog records a log file whose hashes were computed already, without
// reading it; false when display is not a log file or not known. (A file
// changed since then is not detected: it would take reading it again.)
func (l *locator) knownLog(display string) bool {
	if len(l.known) == 0 || digestName.MatchString(display) || !strings.HasPrefix(display, l.top) {
		return false
	}
	m := logName.FindStringSubmatch(display)
	if m == nil {
		return false
	}
	h, ok := l.known[l.topKey+strings.TrimPrefix(display, l.top)]
	if !ok || h.Stored == "" || h.Content == "" {
		return false
	}
	l.logs = append(l.logs, &found{path: display, key: m[1], account: m[2], region: m[3], stamp: m[5], storedHash: h.Stored, contentHash: h.Content})
	return true
}

// unreadable records a member that could not be opened, if its name says
// it is a digest or log file (so it is not later reported as missing
// without a word about why).
func (l *locator) unreadable(name string, err error) {
	if m := digestName.FindStringSubmatch(name); m != nil {
		l.digests = append(l.digests, &found{path: name, key: m[1], err: err})
	} else if m := logName.FindStringSubmatch(name); m != nil {
		l.logs = append(l.logs, &found{path: name, key: m[1], account: m[2], region: m[3], stamp: m[5], err: err})
	}
}

func readDigest(display string, br *bufio.Reader) *found {
	m := digestName.FindStringSubmatch(display)
	f := &found{path: display, key: m[1], account: m[2], region: m[3], stamp: m[5]}
	var buf bytes.Buffer
	f.storedHash, f.contentHash, _, f.err = hashStream(br, maxDigestSize, &buf)
	f.content = buf.Bytes()
	return f
}

// hashStream returns the SHA-256 of the bytes read and of their gunzipped
// content (the same when the input is not gzip), streaming. keep, if given,
// receives the content, up to limit bytes.
func hashStream(br *bufio.Reader, limit int64, keep ...io.Writer) (stored, content string, n int64, err error) {
	hs, hc := sha256.New(), sha256.New()
	head, _ := br.Peek(2)
	r := io.TeeReader(br, hs)
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, gerr := gzip.NewReader(r)
		if gerr != nil {
			return "", "", 0, fmt.Errorf("gzip: %w", gerr)
		}
		r = gz
	}
	var w io.Writer = hc
	if len(keep) > 0 {
		w = io.MultiWriter(hc, keep[0])
		r = io.LimitReader(r, limit+1)
	}
	n, err = io.Copy(w, r)
	if err != nil {
		return "", "", n, fmt.Errorf("read: %w", err)
	}
	if len(keep) > 0 && n > limit {
		return "", "", n, fmt.Errorf("larger than %d bytes: not a digest file", limit)
	}
	// Drain what gzip did not consume (trailing data) so the stored hash
	// covers the whole file.
	if _, err := io.Copy(hs, br); err != nil {
		return "", "", n, fmt.Errorf("read: %w", err)
	}
	return hex.EncodeToString(hs.Sum(nil)), hex.EncodeToString(hc.Sum(nil)), n, nil
}

func isZip(head []byte) bool {
	return len(head) >= 4 && (bytes.Equal(head[:4], []byte("PK\x03\x04")) || bytes.Equal(head[:4], []byte("PK\x05\x06")))
}

func isTar(head []byte) bool {
	return len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
}

func isCloudTrailName(p string) bool {
	return digestName.MatchString(p) || logName.MatchString(p)
}

// InputError is an input path that cannot be read at all.
type InputError struct {
	Path string
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }
