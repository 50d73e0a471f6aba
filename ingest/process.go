package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// eventsPerMessage is how many events a worker gathers before handing them
// to the writer: large enough to amortise the hand-off, small enough to
// keep memory flat.
const eventsPerMessage = 2048

// processUnit decodes one input file that the walker has read and hashed,
// unless it is stored already.
func (r *run) processUnit(n *normalizer, u *unit) {
	defer u.src.close()
	f := &File{ID: FileID(u.path, u.src.sha), Path: u.path, Size: u.src.size, SHA256: u.src.sha}
	if r.skipKnown(f) {
		return
	}
	if reason := junkName(u.path); reason != "" {
		r.finish(f, StatusSkipped, reason, -1)
		return
	}
	r.decode(n, f, u.src.reader(), u.depth, !u.nested)
	if r.ctx.Err() != nil {
		// Interrupted: some of the file's events may not have reached the
		// writer, so the file must not be recorded as done. The next run
		// reads it again; events already stored are not stored twice.
		return
	}
	r.send(message{file: f})
}

// skipKnown reports (and records) a file already stored, or one whose
// content was already read under another name.
func (r *run) skipKnown(f *File) bool {
	if f.SHA256 == emptySHA256 {
		if m := r.opts.Manifest; m != nil && m.Has(f.Path, f.SHA256) {
			r.unchanged.Add(1)
			return true
		}
		return false // empty files are all alike; each is reported on its own
	}
	if m := r.opts.Manifest; m != nil {
		if m.Has(f.Path, f.SHA256) {
			r.unchanged.Add(1)
			return true
		}
		if p, ok := m.HasContent(f.SHA256); ok {
			r.finish(f, StatusDuplicate, "same content as "+p+", loaded before", -1)
			return true
		}
	}
	r.mu.Lock()
	first, dup := r.seen[f.SHA256]
	if !dup {
		r.seen[f.SHA256] = f.Path
	}
	r.mu.Unlock()
	if dup {
		r.finish(f, StatusDuplicate, "same content as "+first, -1)
		return true
	}
	return false
}

// finish sends a file that ends without decoding.
func (r *run) finish(f *File, status, reason string, offset int64) {
	f.Status, f.Reason = status, reason
	if status == StatusFailed {
		f.addError(-1, offset, SeverityError, reason)
	}
	r.send(message{file: f})
}

// readers are a worker's reusable buffers: a corpus of many small files
// must not allocate (and clear) fresh buffers for every file.
type readers struct {
	in    *bufio.Reader // the file as read
	gz    *gzip.Reader  // its outer layer, when gzip
	layer *bufio.Reader // what its outer gzip or zstd layer decompresses to
	scan  []byte
}

// newBufReader always allocates a reader of its own. bufio.NewReaderSize
// returns its argument when that is already a large enough *bufio.Reader,
// and a reused buffer that ended up as its own source (or its source's
// source) reads itself until the stack overflows.
func newBufReader(rd io.Reader) *bufio.Reader {
	b := bufio.NewReaderSize(nil, 64<<10)
	b.Reset(rd)
	return b
}

func (b *readers) inReader(rd io.Reader) *bufio.Reader { return resetOrNew(&b.in, rd) }

func (b *readers) layerReader(rd io.Reader) *bufio.Reader { return resetOrNew(&b.layer, rd) }

// resetOrNew points *b at rd, allocating it the first time.
func resetOrNew(b **bufio.Reader, rd io.Reader) *bufio.Reader {
	if *b == nil {
		*b = newBufReader(rd)
	} else {
		(*b).Reset(rd)
	}
	return *b
}

// decode unwraps compression, walks nested archives and splits the JSON.
// A file the worker took from the walker (a member of an archive the
// walker opened too) reuses the worker's buffers; not a member of an
// archive found inside a file, which is decoded while that file's readers
// are still in use (see decodeNested).
func (r *run) decode(n *normalizer, f *File, rd io.Reader, depth int, reuse bool) {
	var br *bufio.Reader
	var bufs *readers
	var scanBuf []byte
	if reuse {
		br, bufs = n.bufs.inReader(rd), &n.bufs
		if n.bufs.scan == nil {
			n.bufs.scan = make([]byte, scanBufSize)
		}
		scanBuf = n.bufs.scan
	} else {
		br = newBufReader(rd)
	}
	content, err := decompressed(br, bufs)
	if err != nil {
		f.Status, f.Reason = StatusFailed, err.Error()+" (not a valid compressed file)"
		f.addError(-1, 0, SeverityError, f.Reason)
		return
	}
	// decompressed hands back br itself for plain input and a buffer of the
	// innermost layer otherwise; only a bare decompressor needs one more.
	cb, ok := content.(*bufio.Reader)
	if !ok {
		cb = newBufReader(content)
	}
	head, _ := cb.Peek(512)
	switch sniff(head) {
	case zipped, tarred:
		r.decodeNested(n, f, cb, depth)
		return
	}
	contentHash := sha256.New()
	h := &fileHandler{r: r, n: n, f: f, plain: content == io.Reader(br)}
	if f.Size >= fanOutSize && r.opts.Workers > 1 {
		h.fan, h.log = &fanOut{r: r, f: f, n: n}, &problemLog{}
	}
	sc := newScannerBuf(io.TeeReader(cb, contentHash), scanBuf)
	wrapper, err := splitStream(sc, r.opts.MaxRecordSize, h)
	if h.fan != nil {
		h.fan.finish(h)
	}
	if ferr := h.flush(); err == nil {
		err = ferr // only ever the run's own cancellation
	}
	if err == nil {
		f.ContentSHA256 = hex.EncodeToString(contentHash.Sum(nil))
	}
	f.Events = h.events
	notCloudTrail := h.events == 0 && h.others > 0
	if h.others > 0 && !notCloudTrail {
		h.reportNotEvents()
	}
	contentBytes := sc.pos64()
	switch wrapper {
	case "Records":
		f.Shape = ShapeRecords
	case "Events":
		f.Shape = ShapeLookup
	case "[":
		f.Shape = ShapeArray
	default:
		switch {
		case h.events > 0 || h.failed > 0:
			f.Shape = ShapeNDJSON
		case h.digests > 0:
			f.Shape = ShapeDigest
		case contentBytes == 0 && err == nil:
			f.Shape = ShapeEmpty
		default:
			f.Shape = ShapeUnknown
		}
	}
	if notCloudTrail {
		// One rule for files that are not CloudTrail, whatever their shape
		// and whether they end well: skipped, never failed, never stored.
		f.Shape = ShapeUnknown
		f.Status, f.Reason = StatusSkipped, fmt.Sprintf("JSON, but not CloudTrail events (%d records, none of them an event)", h.others)
		return
	}
	if err != nil {
		var se *syntaxError
		msg, offset := err.Error(), contentBytes
		if errors.As(err, &se) {
			msg, offset = se.Msg, se.Offset
		}
		notJSON := se != nil && se.Offset == 0 && se.Err == nil && h.events == 0
		switch {
		case notJSON && !looksLikeJSONName(f.Path):
			f.Status, f.Reason = StatusSkipped, "not a CloudTrail export (content is not JSON)"
			return
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader):
			f.Reason = fmt.Sprintf("%s after %d records: compressed file truncated or corrupt; the records before it were kept", msg, h.events)
		default:
			f.Reason = fmt.Sprintf("%s after %d records; the records before it were kept", msg, h.events)
		}
		f.Status = StatusFailed
		f.addError(-1, offset, SeverityError, f.Reason)
		return
	}
	switch f.Shape {
	case ShapeDigest:
		f.Status, f.Reason = StatusSkipped, "CloudTrail digest file: not events (its hashes are for integrity checks)"
	case ShapeEmpty:
		f.Status, f.Reason = StatusFailed, "empty file: no content"
		f.addError(-1, 0, SeverityError, f.Reason)
	case ShapeUnknown:
		if looksLikeJSONName(f.Path) && h.others == 0 && h.failed == 0 {
			f.Status, f.Reason = StatusLoaded, "no records"
		} else {
			f.Status, f.Reason = StatusSkipped, "JSON, but not CloudTrail events"
		}
	default:
		f.Status = StatusLoaded
		if h.failed > 0 {
			f.Status = StatusFailed
			f.Reason = fmt.Sprintf("%d of %d records could not be read (see ingest_errors); the rest were kept", h.failed, h.failed+h.events)
		}
	}
	if f.Status == StatusLoaded && f.Warnings > 0 {
		f.Reason = fmt.Sprintf("%d warnings (see ingest_errors)", f.Warnings)
	}
}

// decodeNested reads an archive found inside another input, member by
// member, in this worker.
func (r *run) decodeNested(n *normalizer, f *File, rd *bufio.Reader, depth int) {
	if depth >= maxNesting {
		f.Status, f.Reason = StatusFailed, fmt.Sprintf("archives nested deeper than %d levels", maxNesting)
		f.addError(-1, -1, SeverityError, f.Reason)
		return
	}
	var members int
	submit := func(u *unit) bool {
		members++
		u.depth, u.nested = depth+1, true
		r.processUnit(n, u)
		return r.ctx.Err() == nil
	}
	head, _ := rd.Peek(512)
	var err error
	if sniff(head) == zipped {
		f.Shape = "zip"
		data, rerr := io.ReadAll(io.LimitReader(rd, memberInMemory+1))
		switch {
		case rerr != nil:
			err = rerr
		case len(data) > memberInMemory:
			err = fmt.Errorf("zip inside an archive larger than %d MiB: extract it first", memberInMemory>>20)
		default:
			err = r.walkZip(bytes.NewReader(data), int64(len(data)), f.Path, depth+1, submit)
		}
	} else {
		f.Shape = "tar"
		err = r.walkTar(rd, f.Path, depth+1, submit)
	}
	f.Status, f.Reason = StatusLoaded, fmt.Sprintf("archive with %d members", members)
	if err != nil {
		f.Status, f.Reason = StatusFailed, err.Error()
		f.addError(-1, -1, SeverityError, err.Error())
	}
}

// fileHandler turns the records of one file into events.
type fileHandler struct {
	r     *run
	n     *normalizer
	f     *File
	batch []Event
	inner []byte
	plain bool // the file was not compressed (batchRoom)
	fileTally

	// fan, for a large file, hands its records to helpers (see fanOut);
	// log, when set, keeps the problems found until the file is done,
	// instead of adding them to f as they are found.
	fan *fanOut
	log *problemLog
}

// fileTally is what reading a file's records found, beside the events.
type fileTally struct {
	events  int64
	failed  int64
	digests int64
	others  int64   // records that are not CloudTrail events
	otherAt []int64 // index and offset pairs of the first of them
}

// add adds what o found (in another part of the file) to t.
func (t *fileTally) add(o *fileTally) {
	t.events += o.events
	t.failed += o.failed
	t.digests += o.digests
	t.others += o.others
	t.otherAt = firstAt(append(t.otherAt, o.otherAt...))
}

// notEvent notes a record that is not a CloudTrail event. Whether that is
// an error is known at the end of the file: only if the file has events.
func (h *fileHandler) notEvent(rec rawRecord) {
	h.others++
	if len(h.otherAt) < 2*maxStoredErrors {
		h.otherAt = append(h.otherAt, rec.index, rec.offset)
	}
}

// reportNotEvents records the non-events of a file that also has events,
// one error each.
func (h *fileHandler) reportNotEvents() {
	for i := 0; i < len(h.otherAt); i += 2 {
		h.f.addError(h.otherAt[i], h.otherAt[i+1], SeverityError, errNotEvent.Error())
	}
	h.f.ErrorCount += h.others - int64(len(h.otherAt)/2) // past the stored cap
	h.failed += h.others
}

func (h *fileHandler) recordError(index, offset int64, msg string) {
	h.failed++
	h.problem(index, offset, SeverityError, msg)
}

// problem records an error or a warning about the record at index.
func (h *fileHandler) problem(index, offset int64, severity, msg string) {
	if h.log != nil {
		h.log.add(problem{index, offset, severity, msg})
		return
	}
	h.f.addError(index, offset, severity, msg)
}

func (h *fileHandler) record(rec rawRecord) error {
	if h.fan != nil {
		return h.fan.add(rec)
	}
	data := rec.data
	ev := h.slot()
	if rec.wrapper != "Records" {
		kind, inner, err := h.n.classify(data)
		var ne *normError
		switch {
		case err == errNotObject:
			h.notEvent(rec)
			return nil
		case errors.As(err, &ne):
			h.recordError(rec.index, rec.offset, ne.msg)
			return nil
		case err != nil:
			h.recordError(rec.index, rec.offset, invalidJSON(err))
			return nil
		case kind == kindDigest:
			h.digests++
			return nil
		case kind == kindLookupItem:
			h.inner = append(h.inner[:0], inner...)
			data = h.inner
		default: // classify rewrote and indexed it already
			warn, err := h.n.fromStrict(ev)
			return h.event(rec, warn, err)
		}
	}
	warn, err := h.n.normalize(data, ev)
	return h.event(rec, warn, err)
}

// recordInPlace reads the Records element data starts with, when it can
// be read in place (see normalizePrefix), and says how long it was.
func (h *fileHandler) recordInPlace(data []byte, index, offset int64, limit int) (used int, ok bool, err error) {
	if len(data) == 0 || data[0] != '{' || h.fan != nil {
		return 0, false, nil
	}
	ev := h.slot()
	used, ok, warn, nerr := h.n.normalizePrefix(data, ev)
	if !ok || used > limit {
		return 0, false, nil
	}
	return used, true, h.event(rawRecord{offset: offset, index: index, wrapper: "Records"}, warn, nerr)
}

// slot is where the file's next event is decoded: the free end of its
// batch, which event then takes in (an event decoded elsewhere was copied
// in, 700 bytes each). What is not taken in is written over by the next.
func (h *fileHandler) slot() *Event {
	if h.batch == nil {
		h.batch = make([]Event, 0, h.batchRoom())
	}
	if len(h.batch) == cap(h.batch) {
		h.batch = append(h.batch, Event{})[:len(h.batch)]
	}
	return &h.batch[:len(h.batch)+1][len(h.batch)]
}

// event takes in what normalize made of record rec in the batch's slot.
func (h *fileHandler) event(rec rawRecord, warn warning, err error) error {
	if err == errNotEvent || err == errNotObject {
		h.notEvent(rec)
		return nil
	}
	if err != nil {
		h.recordError(rec.index, rec.offset, err.Error())
		return nil
	}
	if warn != "" {
		h.problem(rec.index, rec.offset, SeverityWarning, string(warn))
	}
	h.batch = h.batch[:len(h.batch)+1]
	ev := &h.batch[len(h.batch)-1]
	ev.FileID, ev.RecordIndex = h.f.ID, rec.index
	ev.Digest = ev.Identity().Digest()
	h.events++
	if len(h.batch) >= eventsPerMessage {
		return h.flush()
	}
	return nil
}

// batchRoom is the room a batch of the file's events starts with: the
// events its size suggests are left (a gzipped CloudTrail file holds one
// every 250-300 bytes, a plain one every 1-2 KB), at most a message's.
// Grown from nothing by doubling, the batches of the bench corpus's files
// were copied 0.9 CPU-s worth.
func (h *fileHandler) batchRoom() int {
	perEvent := int64(256)
	if h.plain {
		perEvent = 1024
	}
	left := h.f.Size/perEvent - int64(h.events)
	return int(min(max(left, 16), eventsPerMessage))
}

func (h *fileHandler) flush() error {
	if len(h.batch) == 0 {
		return nil
	}
	if !h.r.send(message{events: h.batch}) {
		return h.r.ctx.Err()
	}
	h.batch = nil // the writer owns the sent slice; most files need a small one
	return nil
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// junkName names files that operating systems leave in folders and
// archives; they are recorded as skipped without being read.
func junkName(p string) string {
	p = strings.ReplaceAll(p, "!", "/")
	base := path.Base(p)
	switch {
	case base == ".DS_Store", base == "Thumbs.db", base == "desktop.ini":
		return "not CloudTrail: operating system metadata file " + base
	case strings.HasPrefix(base, "._"), strings.Contains(p, "/__MACOSX/"):
		return "not CloudTrail: macOS resource fork"
	}
	return ""
}
