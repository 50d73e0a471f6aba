package ingest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// unit is one input file for a worker: a file on disk, an archive member
// held in memory, or a one-pass stream (a large archive member).
type unit struct {
	path   string // display path; members are "archive!member"
	size   int64
	data   []byte    // content held in memory
	file   string    // or a file on disk (it may be read twice: hash, then decode)
	stream io.Reader // or a stream, read once
	done   chan struct{}
	depth  int // archive nesting depth
}

// memberInMemory is the largest archive member held in memory; larger ones
// are streamed once. CloudTrail log files are far smaller.
const memberInMemory = 64 << 20

// maxNesting bounds archives inside archives.
const maxNesting = 4

type container int

const (
	plain container = iota
	gzipped
	zstded
	zipped
	tarred
)

func sniff(head []byte) container {
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return gzipped
	case len(head) >= 4 && bytes.Equal(head[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return zstded
	case len(head) >= 4 && (bytes.Equal(head[:4], []byte("PK\x03\x04")) || bytes.Equal(head[:4], []byte("PK\x05\x06"))):
		return zipped
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return tarred
	}
	return plain
}

// walk hands every input to the workers, opening archives here so their
// members spread across the workers.
func (r *run) walk(tops []topInput) error {
	for _, t := range tops {
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		if t.path == "-" {
			if err := r.walkStdin(); err != nil {
				return err
			}
			continue
		}
		if err := r.walkFile(t.path, t.path, t.size); err != nil {
			return err
		}
	}
	return nil
}

// walkStdin copies standard input to a temporary file (never beside the
// evidence) so it can be hashed and, if it is a zip, read at random.
func (r *run) walkStdin() error {
	in := r.opts.Stdin
	if in == nil {
		in = os.Stdin
	}
	tmp, err := os.CreateTemp("", "trailsift-stdin-*")
	if err != nil {
		return fmt.Errorf("buffer stdin: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, in)
	if err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	r.total.Add(n)
	return r.walkFile("stdin", tmp.Name(), n)
}

// walkFile sends a file on disk to the workers, or walks it if it is an
// archive. display is the name recorded in the manifest.
func (r *run) walkFile(display, name string, size int64) error {
	kind, err := sniffFile(name)
	if err != nil {
		r.failUnit(display, size, "", fmt.Sprintf("cannot read: %v", err))
		return nil
	}
	if kind != zipped && kind != tarred {
		u := &unit{path: display, size: size, file: name, done: make(chan struct{})}
		if !r.queue(u) {
			return r.ctx.Err()
		}
		if display == "stdin" {
			<-u.done // the temporary file goes away when we return
		}
		return nil
	}
	// An archive: its own manifest row, then one per member.
	sum, err := hashFile(name, nil)
	if err != nil {
		r.failUnit(display, size, "", fmt.Sprintf("cannot read: %v", err))
		return nil
	}
	if r.opts.Manifest != nil && r.opts.Manifest.Has(display, sum) {
		r.unchanged.Add(1)
		r.read.Add(size)
		return nil
	}
	f := &File{ID: FileID(display), Path: display, Size: size, SHA256: sum, Status: StatusLoaded}
	var members []*unit
	submit := func(u *unit) bool {
		members = append(members, u)
		return r.queue(u)
	}
	fh, err := os.Open(name)
	if err != nil {
		r.failUnit(display, size, sum, fmt.Sprintf("cannot read: %v", err))
		return nil
	}
	defer fh.Close()
	counted := &countingReader{r: fh, n: &r.read}
	if kind == zipped {
		f.Shape = "zip"
		err = r.walkZip(fh, size, display, 1, submit, f)
		r.read.Add(size)
	} else {
		f.Shape = "tar"
		var tr io.Reader
		tr, err = decompressed(bufio.NewReaderSize(counted, 1<<20), nil)
		if err == nil {
			err = r.walkTar(tr, display, 1, submit, f)
		}
	}
	for _, m := range members {
		<-m.done
	}
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	if err != nil {
		f.addError(-1, -1, SeverityError, err.Error())
		f.Status = StatusFailed
		f.Reason = err.Error()
	}
	f.Reason = strings.TrimSpace(fmt.Sprintf("archive with %d members; %s", len(members), f.Reason))
	r.send(message{file: f})
	return nil
}

func (r *run) queue(u *unit) bool {
	select {
	case r.units <- u:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// failUnit records an input that could not be read at all.
func (r *run) failUnit(display string, size int64, sum, msg string) {
	f := &File{ID: FileID(display), Path: display, Size: size, SHA256: sum, Status: StatusFailed, Reason: msg}
	f.addError(-1, -1, SeverityError, msg)
	r.send(message{file: f})
}

func sniffFile(name string) (container, error) {
	fh, err := os.Open(name)
	if err != nil {
		return plain, err
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 4096)
	head, _ := br.Peek(512)
	kind := sniff(head)
	if (kind == gzipped || kind == zstded) && !strings.Contains(strings.ToLower(filepath.Base(name)), ".json") {
		// A compressed tar is walked like a tar. Names that say JSON (every
		// CloudTrail log file) are not opened here: the worker still finds
		// an archive inside by its content, it just reads it alone.
		inner, err := decompressed(br, nil)
		if err != nil {
			return kind, nil // the worker reports the bad stream
		}
		ib := bufio.NewReaderSize(inner, 4096)
		ihead, _ := ib.Peek(512)
		if sniff(ihead) == tarred {
			return tarred, nil
		}
	}
	return kind, nil
}

// decompressed unwraps gzip or zstd layers (up to maxNesting); plain input
// comes back as it is. A non-nil reuse holds a gzip reader to reset for the
// outer layer rather than allocating one.
func decompressed(br *bufio.Reader, reuse **gzip.Reader) (io.Reader, error) {
	var rd io.Reader = br
	for range maxNesting {
		head, _ := br.Peek(4)
		switch sniff(head) {
		case gzipped:
			var gz *gzip.Reader
			var err error
			if reuse != nil && *reuse != nil {
				gz, err = *reuse, (*reuse).Reset(br)
			} else {
				gz, err = gzip.NewReader(br)
				if reuse != nil && err == nil {
					*reuse = gz
				}
			}
			if err != nil {
				return nil, fmt.Errorf("gzip: %w", err)
			}
			reuse = nil // inner layers get their own
			rd = gz
		case zstded:
			zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(1<<30))
			if err != nil {
				return nil, fmt.Errorf("zstd: %w", err)
			}
			rd = zr.IOReadCloser()
		default:
			return rd, nil
		}
		br = bufio.NewReaderSize(rd, 64<<10)
		rd = br
	}
	return rd, nil
}

func (r *run) walkZip(ra io.ReaderAt, size int64, display string, depth int, submit func(*unit) bool, f *File) error {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		member := display + "!" + zf.Name
		rc, err := zf.Open()
		if err != nil {
			r.failUnit(member, int64(zf.UncompressedSize64), "", fmt.Sprintf("zip member: %v", err))
			continue
		}
		u, err := r.memberUnit(member, int64(zf.UncompressedSize64), rc, depth)
		if err != nil {
			rc.Close()
			r.failUnit(member, int64(zf.UncompressedSize64), "", fmt.Sprintf("zip member: %v", err))
			continue
		}
		ok := submit(u)
		if u.stream != nil {
			<-u.done
		}
		rc.Close()
		if !ok {
			return r.ctx.Err()
		}
	}
	return nil
}

func (r *run) walkTar(rd io.Reader, display string, depth int, submit func(*unit) bool, f *File) error {
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w (archive truncated or corrupt; members before it were read)", err)
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
			continue
		}
		member := display + "!" + strings.TrimPrefix(h.Name, "./")
		u, err := r.memberUnit(member, h.Size, tr, depth)
		if err != nil {
			r.failUnit(member, h.Size, "", fmt.Sprintf("tar member: %v", err))
			return fmt.Errorf("tar member %s: %w", h.Name, err)
		}
		ok := submit(u)
		if u.stream != nil {
			<-u.done // the tar reader cannot move on before the member is read
		}
		if !ok {
			return r.ctx.Err()
		}
	}
}

// memberUnit holds a small member in memory and streams a large one.
func (r *run) memberUnit(display string, size int64, rd io.Reader, depth int) (*unit, error) {
	u := &unit{path: display, size: size, done: make(chan struct{}), depth: depth}
	if size >= 0 && size <= memberInMemory {
		data, err := io.ReadAll(io.LimitReader(rd, memberInMemory+1))
		if err != nil {
			return nil, err
		}
		u.data, u.size = data, int64(len(data))
		return u, nil
	}
	u.stream = rd
	return u, nil
}

// countingReader adds the bytes it reads to a progress counter.
type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n interface{ Add(int64) int64 }
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func hashFile(name string, progress interface{ Add(int64) int64 }) (string, error) {
	fh, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	var rd io.Reader = fh
	if progress != nil {
		rd = &countingReader{r: fh, n: progress}
	}
	if _, err := io.Copy(h, rd); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// looksLikeJSONName is true for names a CloudTrail export would have; other
// files that are not JSON are skipped rather than failed.
func looksLikeJSONName(p string) bool {
	base := strings.ToLower(path.Base(strings.ReplaceAll(p, "!", "/")))
	for _, ext := range []string{".gz", ".zst", ".zstd"} {
		base = strings.TrimSuffix(base, ext)
	}
	return strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".ndjson")
}
