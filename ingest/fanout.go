package ingest

import (
	"cmp"
	"slices"
	"sync"
)

// A large file's records are spread over helpers: the worker that reads it
// splits the records and hands them on in chunks, so that one big file (a
// multi-gigabyte JSON-lines export, a year of Event history in one
// download) keeps every core busy, as many small files do. Whoever reads a
// record, its problems are kept in file order (by byte offset), so the
// manifest stores the errors a worker reading alone stores.

// fanOutSize is the stored size from which a file is read with helpers.
// A variable: tests make it small.
var fanOutSize int64 = 16 << 20

// A chunk holds about this many bytes of records, or this many records.
// Variables: tests make chunks of a few records.
var (
	chunkBytes   = 1 << 20
	chunkRecords = 2048
)

// chunk is records of one file, copied out of its read buffer.
type chunk struct {
	fan  *fanOut
	data []byte
	recs []chunkRecord
}

type chunkRecord struct {
	start, end    int // in chunk.data
	offset, index int64
	wrapper       string
}

// fanOut is the helpers' share of one file's reading: what they found,
// added to the file's own handler when the file ends (finish).
type fanOut struct {
	r   *run
	f   *File       // read only while the helpers run
	n   *normalizer // the reader's, which reads a chunk itself when every helper is busy
	cur *chunk
	wg  sync.WaitGroup

	mu    sync.Mutex // guards the rest, which helpers add to
	found fileTally
	log   problemLog
}

// add copies a record into the chunk being filled, and hands the chunk on
// once it is full. A record larger than a chunk is read here, where it
// is, not copied. It fails only when the run is cancelled: the file's
// reading stops then.
func (fo *fanOut) add(rec rawRecord) error {
	if err := fo.r.ctx.Err(); err != nil {
		return err
	}
	if len(rec.data) > chunkBytes {
		fo.wg.Add(1)
		fo.r.readChunk(fo.n, &chunk{fan: fo, data: rec.data, recs: []chunkRecord{{0, len(rec.data), rec.offset, rec.index, rec.wrapper}}})
		return nil
	}
	if c := fo.cur; c != nil && len(c.data)+len(rec.data) > cap(c.data) {
		fo.dispatch() // full: a chunk is never grown (each growth copied it whole)
	}
	c := fo.cur
	if c == nil {
		c = &chunk{fan: fo, data: make([]byte, 0, chunkBytes)}
		fo.cur = c
	}
	start := len(c.data)
	c.data = append(c.data, rec.data...)
	c.recs = append(c.recs, chunkRecord{start, len(c.data), rec.offset, rec.index, rec.wrapper})
	if len(c.recs) >= chunkRecords {
		fo.dispatch()
	}
	return nil
}

// dispatch hands the chunk being filled to a helper, or reads it here
// when every helper is busy (the reader would only wait).
func (fo *fanOut) dispatch() {
	c := fo.cur
	if c == nil {
		return
	}
	fo.cur = nil
	fo.wg.Add(1)
	select {
	case fo.r.chunks <- c:
	default:
		fo.r.readChunk(fo.n, c)
	}
}

// finish waits for the file's chunks and adds what they found to h, the
// file's handler, as if h had read every record itself.
func (fo *fanOut) finish(h *fileHandler) {
	fo.dispatch()
	fo.wg.Wait()
	h.add(&fo.found)
	h.log.merge(&fo.log)
	h.log.replay(h.f)
	h.log, h.fan = nil, nil
}

// readChunk reads a chunk's records with normalizer n, as its file's
// handler would, and adds what it found to the file's fanOut.
func (r *run) readChunk(n *normalizer, c *chunk) {
	fo := c.fan
	defer fo.wg.Done()
	h := &fileHandler{r: r, n: n, f: fo.f, log: &problemLog{}, batch: make([]Event, 0, min(len(c.recs), eventsPerMessage))}
	for _, cr := range c.recs {
		if r.ctx.Err() != nil {
			break
		}
		if h.record(rawRecord{data: c.data[cr.start:cr.end], offset: cr.offset, index: cr.index, wrapper: cr.wrapper}) != nil {
			break // the run was cancelled
		}
	}
	_ = h.flush() // fails only when the run was cancelled
	fo.mu.Lock()
	defer fo.mu.Unlock()
	fo.found.add(&h.fileTally)
	fo.log.merge(h.log)
}

// help reads chunks until the run has no more.
func (r *run) help() {
	n := &normalizer{}
	for c := range r.chunks {
		r.readChunk(n, c)
	}
}

// firstAt sorts index and offset pairs by offset and keeps the first
// maxStoredErrors: the records a file reports as not events, in file
// order whichever chunk found them.
func firstAt(at []int64) []int64 {
	pairs := make([][2]int64, len(at)/2)
	for i := range pairs {
		pairs[i] = [2]int64{at[2*i], at[2*i+1]}
	}
	slices.SortStableFunc(pairs, func(a, b [2]int64) int { return cmp.Compare(a[1], b[1]) })
	out := at[:0]
	for _, p := range pairs[:min(len(pairs), maxStoredErrors)] {
		out = append(out, p[0], p[1])
	}
	return out
}

// problem is an error or a warning about one record, kept until its file
// is done.
type problem struct {
	index, offset int64
	severity, msg string
}

// problemLog keeps a file's first problems in file order, as many as a
// File stores (and one more, for its "more problems" row), and counts the
// rest.
type problemLog struct {
	kept                     []problem
	moreErrors, moreWarnings int64
}

func (l *problemLog) add(p problem) {
	l.kept = append(l.kept, p)
	if len(l.kept) > 2*(maxStoredErrors+1) {
		l.trim()
	}
}

// merge adds what o holds to l.
func (l *problemLog) merge(o *problemLog) {
	l.kept = append(l.kept, o.kept...)
	l.moreErrors += o.moreErrors
	l.moreWarnings += o.moreWarnings
	l.trim()
}

// trim sorts the kept problems by offset and counts those past the first
// maxStoredErrors+1.
func (l *problemLog) trim() {
	slices.SortStableFunc(l.kept, func(a, b problem) int { return cmp.Compare(a.offset, b.offset) })
	if len(l.kept) <= maxStoredErrors+1 {
		return
	}
	for _, p := range l.kept[maxStoredErrors+1:] {
		if p.severity == SeverityWarning {
			l.moreWarnings++
		} else {
			l.moreErrors++
		}
	}
	l.kept = l.kept[:maxStoredErrors+1]
}

// replay adds the problems to f in file order: the stored rows and counts
// a worker reading alone makes.
func (l *problemLog) replay(f *File) {
	l.trim()
	for _, p := range l.kept {
		f.addError(p.index, p.offset, p.severity, p.msg)
	}
	f.ErrorCount += l.moreErrors
	f.Warnings += l.moreWarnings
}
