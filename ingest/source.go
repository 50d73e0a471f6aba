package ingest

import (
	"archive/tar"
	"bufio"
	"bytes"
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

// unit is one input file for a worker, read already: its content is in
// memory, or in a seekable file (a large input on disk, or a spooled copy of
// a large stream). Its sha256 is known before it is decoded, so its file id
// (which depends on it) goes on every event.
type unit struct {
	path   string // display path; members are "archive!member"
	src    *source
	done   chan struct{}
	depth  int   // archive nesting depth
	nested bool  // a member of an archive inside a file, decoded by the file's worker
	held   int64 // bytes of r.queued it holds until a worker takes it
}

// The walker reads ahead of the workers by up to queuedUnits inputs and
// queuedBytes of their content. A bucket is mostly files of a few
// kilobytes, and the walker's pace is uneven (a folder listed, a file
// opened): with one input queued per worker the workers waited for it a
// sixth of the time (decode floor of 209k small files on 2 cores: 5.8 ->
// 4.7 s). The bytes bound what large inputs hold meanwhile, in memory or
// in temporary files (archive members over inMemory are spooled).
const (
	queuedUnits = 64
	queuedBytes = 2 * inMemory
)

// inMemory is the largest input held in memory; larger ones are read from
// their file, or spooled once to an unlinked temporary file when they cannot
// be read twice (a pipe, stdin, an archive member). CloudTrail log files are
// kilobytes.
const inMemory = 16 << 20

// memberInMemory is the largest zip found inside another archive that is
// read into memory to be walked.
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

// walk reads the listed files in order, handing each to the workers.
func (r *run) walk(listed *inputList) error {
	for i := 0; ; i++ {
		t, ok := listed.next(r.ctx, i)
		if !ok {
			return r.ctx.Err()
		}
		if err := r.walkTop(t); err != nil {
			return err
		}
	}
}

// walkTop hands one input to the workers, opening archives here so their
// members spread across the workers. Each input is opened and read once
// here; the workers decode what was read. The error is the run's own (it
// was cancelled); a bad input is recorded and the walk goes on.
func (r *run) walkTop(t topInput) error {
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	switch {
	case t.problem != "" && t.skip:
		f := &File{ID: FileID(t.path, ""), Path: t.path, Status: StatusSkipped, Reason: t.problem}
		r.send(message{file: f})
	case t.problem != "":
		r.failUnit(t.path, 0, "", t.problem)
	case t.path == "-":
		in := r.opts.Stdin
		if in == nil {
			in = os.Stdin
		}
		return r.walkInput("stdin", in, nil, -1)
	default:
		fh, size, err := openInput(t.path)
		if t.size == sizeAtOpen {
			r.sizedAtOpen(max(size, 0), err == nil)
		}
		if err != nil {
			r.failUnit(t.path, max(t.size, 0), "", fmt.Sprintf("cannot read: %v", err))
			return nil
		}
		var seekable *os.File
		if size >= 0 {
			seekable = fh // a pipe or a device cannot be read twice
		}
		err = r.walkInput(t.path, fh, seekable, size)
		if seekable == nil {
			fh.Close()
		}
		return err
	}
	return nil
}

// walkInput reads one input (a file, a FIFO, stdin), then hands it to the
// workers, or walks it if it is an archive. display is the name recorded in
// the manifest; stdin is named by its content ("stdin:<sha256 prefix>"), so
// two different stdin ingests are two different files. size is the
// regular file's size when it was opened, -1 for a stream.
func (r *run) walkInput(display string, rd io.Reader, seekable *os.File, size int64) error {
	src, err := r.reading().readSource(rd, seekable, size)
	if seekable != nil && (err != nil || src.file == nil) {
		seekable.Close() // held in memory, or failed: the descriptor is done
	}
	if err != nil {
		r.failUnit(display, 0, "", fmt.Sprintf("cannot read: %v", err))
		return nil
	}
	if seekable == nil {
		r.total.Add(src.size) // a stream's size is known only now
	}
	if display == "stdin" {
		display = "stdin:" + src.sha[:16]
	}
	if kind := sniffSource(display, src); kind != zipped && kind != tarred {
		u := &unit{path: display, src: src, done: make(chan struct{})}
		if !r.queue(u) {
			src.close()
			return r.ctx.Err()
		}
		return nil
	}
	defer src.close()
	return r.walkArchive(display, src)
}

func (r *run) reading() reading {
	return reading{inMemory: r.opts.inMemory, progress: &r.read, shelf: r.shelf}
}

// walkArchive records an archive (its own manifest row, then one per
// member) unless it is stored already. A zip is read at random from its
// content; a tar is streamed once more from it.
func (r *run) walkArchive(display string, src *source) error {
	if r.opts.Manifest != nil && r.opts.Manifest.Has(display, src.sha) {
		r.unchanged.Add(1)
		return nil
	}
	f := &File{ID: FileID(display, src.sha), Path: display, Size: src.size, SHA256: src.sha, Status: StatusLoaded}
	var members []*unit
	submit := func(u *unit) bool {
		// Only a queued member is waited for: one the queue refused (the
		// run was cancelled) is never taken by a worker.
		if !r.queue(u) {
			return false
		}
		members = append(members, u)
		return true
	}
	var err error
	if sniff(src.head(512)) == zipped {
		f.Shape = "zip"
		err = r.walkZip(src.section(), src.size, display, 1, submit)
	} else {
		f.Shape = "tar"
		var tr io.Reader
		tr, err = decompressed(bufio.NewReaderSize(src.reader(), 1<<20), nil)
		if err == nil {
			err = r.walkTar(tr, display, 1, submit)
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
	// A source held in memory or spooled counts its size; the user's own
	// file, read in place, none.
	u.held = 0
	if u.src.data != nil || u.src.spooled {
		u.held = min(u.src.size, r.queuedBytes)
	}
	if r.queued.Acquire(r.ctx, u.held) != nil {
		return false
	}
	select {
	case r.units <- u:
		return true
	case <-r.ctx.Done():
		r.queued.Release(u.held)
		return false
	}
}

// failUnit records an input that could not be read at all.
func (r *run) failUnit(display string, size int64, sha, msg string) {
	f := &File{ID: FileID(display, sha), Path: display, Size: size, SHA256: sha, Status: StatusFailed, Reason: msg}
	f.addError(-1, -1, SeverityError, msg)
	r.send(message{file: f})
}

// sniffSource tells an archive from a log file by its content.
func sniffSource(name string, src *source) container {
	head := src.head(512)
	kind := sniff(head)
	if (kind == gzipped || kind == zstded) && !strings.Contains(strings.ToLower(filepath.Base(name)), ".json") {
		// A compressed tar is walked like a tar. Names that say JSON (every
		// CloudTrail log file) are not unpacked here: the worker still finds
		// an archive inside by its content, it just reads it alone.
		inner, err := decompressed(bufio.NewReaderSize(src.reader(), 4096), nil)
		if err != nil {
			return kind // the worker reports the bad stream
		}
		ib := bufio.NewReaderSize(inner, 4096)
		ihead, _ := ib.Peek(512)
		if sniff(ihead) == tarred {
			return tarred
		}
	}
	return kind
}

// decompressed unwraps gzip or zstd layers (up to maxNesting); plain input
// comes back as it is. A non-nil reuse holds the gzip reader and the
// buffer to reset for the outer layer rather than allocating them: on a
// bucket of small files, a 64 KiB buffer per file was four fifths of all
// the memory an ingest allocated, and the garbage collector's work on it
// a third of its CPU.
func decompressed(br *bufio.Reader, reuse *readers) (io.Reader, error) {
	var rd io.Reader = br
	for range maxNesting {
		head, _ := br.Peek(4)
		switch sniff(head) {
		case gzipped:
			var gz *gzip.Reader
			var err error
			if reuse != nil && reuse.gz != nil {
				gz, err = reuse.gz, reuse.gz.Reset(br)
			} else {
				gz, err = gzip.NewReader(br)
				if reuse != nil && err == nil {
					reuse.gz = gz
				}
			}
			if err != nil {
				return nil, fmt.Errorf("gzip: %w", err)
			}
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
		if reuse != nil {
			br = reuse.layerReader(rd)
		} else {
			br = newBufReader(rd)
		}
		reuse = nil // inner layers get their own
		rd = br
	}
	return rd, nil
}

// walkZip hands every member of a zip to submit; a member that cannot be
// read gets a failed manifest row of its own.
func (r *run) walkZip(ra io.ReaderAt, size int64, display string, depth int, submit func(*unit) bool) error {
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
		u, err := r.memberUnit(member, rc, depth)
		rc.Close()
		if err != nil {
			r.failUnit(member, int64(zf.UncompressedSize64), "", fmt.Sprintf("zip member: %v", err))
			continue
		}
		if !submit(u) {
			u.src.close()
			return r.ctx.Err()
		}
	}
	return nil
}

// walkTar hands every regular member of a tar stream to submit.
func (r *run) walkTar(rd io.Reader, display string, depth int, submit func(*unit) bool) error {
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w (archive truncated or corrupt; members before it were read)", err)
		}
		if h.Typeflag != tar.TypeReg { // the reader reports old TypeRegA members as TypeReg
			continue
		}
		member := display + "!" + strings.TrimPrefix(h.Name, "./")
		u, err := r.memberUnit(member, tr, depth)
		if err != nil {
			r.failUnit(member, h.Size, "", fmt.Sprintf("tar member: %v", err))
			return fmt.Errorf("tar member %s: %w", h.Name, err)
		}
		if !submit(u) {
			u.src.close()
			return r.ctx.Err()
		}
	}
}

// memberUnit reads one archive member, once: in memory, or spooled when it
// is large.
func (r *run) memberUnit(display string, rd io.Reader, depth int) (*unit, error) {
	src, err := reading{inMemory: r.opts.inMemory, shelf: r.shelf}.readSource(rd, nil, -1)
	if err != nil {
		return nil, err
	}
	return &unit{path: display, src: src, done: make(chan struct{}), depth: depth}, nil
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

// looksLikeJSONName is true for names a CloudTrail export would have; other
// files that are not JSON are skipped rather than failed.
func looksLikeJSONName(p string) bool {
	base := strings.ToLower(path.Base(strings.ReplaceAll(p, "!", "/")))
	for _, ext := range []string{".gz", ".zst", ".zstd"} {
		base = strings.TrimSuffix(base, ext)
	}
	return strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".ndjson")
}
