package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// Sink stores what ingest produces. One goroutine calls it, in order: all of
// a file's events reach WriteEvents before that file reaches FileDone, so a
// sink that commits a file's manifest row with or after its events never
// claims a file it has not stored. The slice given to WriteEvents is the
// sink's from then on: it may keep it, or point into it, until it stores it.
type Sink interface {
	WriteEvents(events []Event) error
	FileDone(f *File) error
	Flush() error
}

// Manifest tells which inputs a store already holds, so a re-run skips them.
type Manifest interface {
	// Has reports that this path with this content is stored already.
	Has(path, sha256 string) bool
	// HasContent reports a stored file with this content, at any path.
	HasContent(sha256 string) (path string, ok bool)
}

// Options tune a run. The zero value works.
type Options struct {
	Workers       int      // decoders in parallel; default GOMAXPROCS
	MaxRecordSize int      // bytes; larger records are reported and skipped; default 32 MiB
	Manifest      Manifest // what is stored already; nil for an empty store
	Stdin         io.Reader
	// Progress, when set, is called from time to time from the writer goroutine.
	Progress func(Progress)

	// For tests: the in-memory threshold (see inMemory), the walker's
	// read-ahead in bytes (see queuedBytes), and a stand-in for os.ReadDir
	// that can fail on purpose (tests run as root, where chmod 000 does not
	// stop a read).
	inMemory    int64
	queuedBytes int64
	readDir     func(string) ([]os.DirEntry, error)
}

// Progress is a snapshot of a running ingest.
type Progress struct {
	Files  int64 // input files finished (members of archives count)
	Events int64
	Bytes  int64 // input bytes read, as stored
	// TotalBytes is the input bytes to read, as stored, of the files
	// listed so far. A folder's files are sized as they are opened, not
	// as they are listed (a stat a file cost a tenth of a bucket's
	// ingest): until each is, TotalEstimated is set, and their share is
	// their number times the mean size of those opened.
	TotalBytes     int64
	TotalEstimated bool
	Listing        bool // folders are still being listed: TotalBytes will grow
}

// Stats summarises a run.
type Stats struct {
	FilesLoaded    int64    `json:"files_loaded"`
	FilesSkipped   int64    `json:"files_skipped"`
	FilesFailed    int64    `json:"files_failed"`
	FilesDuplicate int64    `json:"files_duplicate"`
	FilesUnchanged int64    `json:"files_unchanged"` // stored by an earlier run, not read again
	Events         int64    `json:"events_read"`
	Errors         int64    `json:"errors"`
	Warnings       int64    `json:"warnings"`
	Bytes          int64    `json:"bytes_read"`
	Failed         []string `json:"failed_files,omitempty"`
}

// ErrInterrupted is returned when the context was cancelled; everything
// committed before stays, and running the same command again finishes.
var ErrInterrupted = errors.New("interrupted")

const defaultMaxRecord = 32 << 20

// MaxRecordLimit is the largest MaxRecordSize a run takes. CloudTrail's
// events are a few KB, its largest under a MB; the decoder indexes a
// record's rewritten bytes with 32-bit offsets, and a rewrite can be six
// times its input (every byte a repaired control byte).
const MaxRecordLimit = 256 << 20

// Run ingests the inputs (files, directories, archives, "-" for stdin) into
// sink. Bad input is recorded in the manifest and the stats and never stops
// the rest; the error is for the run itself (the sink failed, or ctx ended).
func Run(ctx context.Context, inputs []string, sink Sink, opts Options) (Stats, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = defaultMaxRecord
	}
	if opts.MaxRecordSize > MaxRecordLimit {
		return Stats{}, fmt.Errorf("a record size limit of %d bytes is over the %d bytes (256 MiB) the decoder takes", opts.MaxRecordSize, MaxRecordLimit)
	}
	readDir := opts.readDir
	if readDir == nil {
		readDir = os.ReadDir
	}
	tops, err := resolveInputs(inputs)
	if err != nil {
		return Stats{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	queued := int64(queuedBytes)
	if opts.queuedBytes > 0 {
		queued = opts.queuedBytes
	}
	r := &run{
		ctx:         ctx,
		opts:        opts,
		out:         make(chan message, 4*opts.Workers),
		units:       make(chan *unit, queuedUnits),
		queued:      semaphore.NewWeighted(queued),
		queuedBytes: queued,
		chunks:      make(chan *chunk, opts.Workers),
		shelf:       newBufferShelf(),
		seen:        map[string]string{},
	}
	// List: one goroutine lists the folders, ahead of the walker, so the
	// workers start with the first file found, and the total the progress
	// shows is whole as soon as the listing ends.
	listed := newInputList()
	r.listing.Store(true)
	listDone := make(chan struct{})
	go func() {
		defer close(listDone)
		defer listed.finish()
		defer r.listing.Store(false) // before the walker sees the list end
		r.list(tops, readDir, listed)
	}()
	// Run cancels its context when it returns, and returns once the lister
	// has stopped: a cancelled one stops at its next folder or entry.
	defer func() {
		cancel()
		<-listDone
	}()
	// Walk: one goroutine reads each file and opens archives.
	var walkErr error
	go func() {
		defer close(r.units)
		walkErr = r.walk(listed)
	}()
	// Decode: workers in parallel.
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := &normalizer{}
			for u := range r.units {
				r.queued.Release(u.held)
				r.processUnit(n, u)
				if u.done != nil {
					close(u.done)
				}
			}
		}()
	}
	// Helpers read the chunks of large files (see fanOut). Every file
	// waits for its chunks, so once the workers are done none is left.
	var helpers sync.WaitGroup
	for range opts.Workers {
		helpers.Go(r.help)
	}
	go func() {
		wg.Wait()
		close(r.chunks)
		helpers.Wait()
		close(r.out)
	}()

	// Write: this goroutine is the only one that talks to the sink.
	var sinkErr error
	var st Stats
	var prog Progress
	for m := range r.out {
		if sinkErr != nil {
			continue // drain so the workers can finish
		}
		switch {
		case m.events != nil:
			sinkErr = sink.WriteEvents(m.events)
			prog.Events += int64(len(m.events))
		case m.file != nil:
			sinkErr = sink.FileDone(m.file)
			st.add(m.file)
			prog.Files++
		}
		if sinkErr != nil {
			cancel()
		}
		if opts.Progress != nil {
			// The flag first: once it reads false, every size listed is in
			// the total.
			prog.Listing = r.listing.Load()
			prog.Bytes = r.read.Load()
			prog.TotalBytes, prog.TotalEstimated = r.totalBytes()
			opts.Progress(prog)
		}
	}
	if opts.Progress != nil && sinkErr == nil {
		// Everything is read, so the listing is over: the last message
		// can come before the lister says so, and the last progress
		// would then say it goes on.
		prog.Listing = false
		prog.Bytes = r.read.Load()
		prog.TotalBytes, prog.TotalEstimated = r.totalBytes()
		opts.Progress(prog)
	}
	st.Events = prog.Events
	st.Bytes = r.read.Load()
	st.FilesUnchanged = r.unchanged.Load()
	if sinkErr == nil {
		sinkErr = sink.Flush()
	}
	if sinkErr != nil {
		return st, sinkErr
	}
	if walkErr != nil && !errors.Is(walkErr, context.Canceled) {
		return st, walkErr
	}
	if ctx.Err() != nil {
		return st, ErrInterrupted
	}
	return st, nil
}

func (s *Stats) add(f *File) {
	switch f.Status {
	case StatusLoaded:
		s.FilesLoaded++
	case StatusSkipped:
		s.FilesSkipped++
	case StatusFailed:
		s.FilesFailed++
		if len(s.Failed) < 1000 {
			s.Failed = append(s.Failed, f.Path)
		}
	case StatusDuplicate:
		s.FilesDuplicate++
	}
	s.Errors += f.ErrorCount
	s.Warnings += f.Warnings
}

// message goes from a worker to the writer: a chunk of events or a finished
// file.
type message struct {
	events []Event
	file   *File
}

type run struct {
	ctx         context.Context
	opts        Options
	out         chan message
	units       chan *unit
	queued      *semaphore.Weighted // bytes of content waiting in units
	queuedBytes int64               // its size (queuedBytes, or a test's)
	chunks      chan *chunk         // of large files, for the helpers
	shelf       *bufferShelf        // the buffers of sources decoded, for the next

	read  atomic.Int64 // input bytes read (as stored)
	total atomic.Int64 // input bytes of the files listed so far, but for those sized at open
	// unsized counts the files listed and not yet opened whose size is
	// learnt at open (sizeAtOpen); opened and openedBytes the others'.
	unsized, opened, openedBytes atomic.Int64
	listing                      atomic.Bool // folders are still being listed
	unchanged                    atomic.Int64

	mu   sync.Mutex
	seen map[string]string // content sha256 -> first path, this run
}

func (r *run) send(m message) bool {
	select {
	case r.out <- m:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// topInput is one file to read: a path, or stdin; or a path found in a
// folder that cannot be read, with the reason, for the manifest.
type topInput struct {
	path    string // absolute path, or "-"
	size    int64  // sizeAtOpen for a file the listing did not stat
	problem string // why it is not read
	skip    bool   // the problem is a skip (a dangling link, a socket), not a failure
}

// CheckInputs reports the first command-line input that does not exist, so
// a caller can refuse a mistyped path before it creates anything.
func CheckInputs(inputs []string) error {
	for _, in := range inputs {
		if in == "-" {
			continue
		}
		if _, err := os.Stat(in); err != nil {
			return &InputError{Path: in, Err: err}
		}
	}
	return nil
}

// commandInput is an input named on the command line: "-" (stdin), a
// file, or a folder to list.
type commandInput struct {
	path string // absolute, or "-"
	fi   os.FileInfo
}

// resolveInputs checks the command-line inputs. A path given that does not
// exist is a usage error, reported before anything is read; the folders
// are listed while the files found are read (run.list).
func resolveInputs(inputs []string) ([]commandInput, error) {
	if err := CheckInputs(inputs); err != nil {
		return nil, err
	}
	var out []commandInput
	for _, in := range inputs {
		if in == "-" {
			out = append(out, commandInput{path: "-"})
			continue
		}
		abs, err := filepath.Abs(in)
		if err != nil {
			return nil, &InputError{Path: in, Err: err}
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, &InputError{Path: in, Err: err}
		}
		out = append(out, commandInput{path: abs, fi: fi})
	}
	return out, nil
}

// sizeAtOpen is the size of a listed file whose size is added to the
// run's total as it is opened (walkTop).
const sizeAtOpen = -1

// sizedAtOpen adds the size of a file listed without one, now opened, to
// the total; opened false (it could not be) adds nothing, and leaves the
// mean size the rest are estimated at as it was.
func (r *run) sizedAtOpen(size int64, opened bool) {
	if opened {
		r.total.Add(size)
		r.openedBytes.Add(size)
		r.opened.Add(1)
	}
	r.unsized.Add(-1) // last: see totalBytes
}

// totalBytes is Progress.TotalBytes and TotalEstimated.
func (r *run) totalBytes() (int64, bool) {
	unsized := r.unsized.Load() // first: once it reads 0, every size is in total
	total := r.total.Load()
	if unsized == 0 {
		return total, false
	}
	if n := r.opened.Load(); n > 0 {
		total += unsized * (r.openedBytes.Load() / n)
	}
	return total, true
}

// list finds the files of the inputs, in order, walking folders
// (following symbolic links, surviving loops), and adds each to out with
// its size to the run's total (or, for most files of a folder, as it is
// opened). What goes wrong inside a folder (a
// subfolder that cannot be listed, a dangling link, a socket) is an entry
// of its own for the manifest, and the rest of the folder is still read.
// It stops at the next folder or entry once the run is cancelled.
func (r *run) list(inputs []commandInput, readDir func(string) ([]os.DirEntry, error), out *inputList) {
	add := func(t topInput) {
		if t.size == sizeAtOpen {
			r.unsized.Add(1)
		} else {
			r.total.Add(t.size)
		}
		out.add(t)
	}
	own := ownTempFiles()
	for _, in := range inputs {
		if r.ctx.Err() != nil {
			return
		}
		switch {
		case in.path == "-":
			add(topInput{path: "-"})
		case !in.fi.IsDir():
			// A FIFO or a device named on the command line is read as given.
			add(topInput{path: in.path, size: in.fi.Size()})
		default:
			w := dirWalker{readDir: readDir, visited: map[fileKey]bool{}, add: add, ctx: r.ctx, skip: own}
			w.walk(in.path, in.fi)
		}
	}
}

// ownTempFiles says whether an entry is one of the temporary files this
// process makes while it reads: a spooled stream (unlinked as soon as it
// is made) or a DuckDB spill folder. A folder being listed while files are
// read could otherwise catch one, when the system's temporary folder is
// inside an input.
func ownTempFiles() func(dir os.FileInfo, name string) bool {
	tmp, err := os.Stat(os.TempDir())
	spill := SpillFolderPrefix()
	return func(dir os.FileInfo, name string) bool {
		// The same folder, however the input names it (a link, a
		// relative TMPDIR).
		if err != nil || !os.SameFile(dir, tmp) {
			return false
		}
		return strings.HasPrefix(name, spoolPrefix) || strings.HasPrefix(name, spill)
	}
}

// inputList is the files found so far, which the walker reads while the
// lister is still adding to it. It holds every file of the run, as the
// whole listing made before reading did (some 100 bytes a file).
type inputList struct {
	mu    sync.Mutex
	items []topInput
	done  bool
	more  chan struct{} // a token when items grew or the list ended
}

func newInputList() *inputList { return &inputList{more: make(chan struct{}, 1)} }

func (l *inputList) add(t topInput) {
	l.mu.Lock()
	l.items = append(l.items, t)
	l.mu.Unlock()
	l.signal()
}

func (l *inputList) finish() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
	l.signal()
}

func (l *inputList) signal() {
	select {
	case l.more <- struct{}{}:
	default: // a token is waiting already
	}
}

// next returns the i-th file, waiting for it to be listed; false when the
// list ended before it, or ctx did.
func (l *inputList) next(ctx context.Context, i int) (topInput, bool) {
	for {
		l.mu.Lock()
		if i < len(l.items) {
			t := l.items[i]
			l.mu.Unlock()
			return t, true
		}
		done := l.done
		l.mu.Unlock()
		if done {
			return topInput{}, false
		}
		select {
		case <-l.more:
		case <-ctx.Done():
			return topInput{}, false
		}
	}
}

// InputError is an input path that cannot be used at all.
type InputError struct {
	Path string
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("input %s: %v", e.Path, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// dirWalker lists a folder tree in name order, handing each entry to add
// but those skip names; it stops when ctx is done.
type dirWalker struct {
	readDir func(string) ([]os.DirEntry, error)
	visited map[fileKey]bool
	add     func(topInput)
	ctx     context.Context
	skip    func(dir os.FileInfo, name string) bool
}

func (w *dirWalker) walk(dir string, dirInfo os.FileInfo) {
	if k, ok := keyOf(dirInfo); ok {
		if w.visited[k] {
			return // a symbolic link loop, or the same folder twice
		}
		w.visited[k] = true
	}
	if w.ctx.Err() != nil {
		return
	}
	entries, err := w.readDir(dir)
	if err != nil {
		// The entries listed before the error are still read.
		w.add(topInput{path: dir, problem: fmt.Sprintf("cannot read folder: %v", err)})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if w.ctx.Err() != nil {
			return
		}
		if w.skip != nil && w.skip(dirInfo, e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if e.Type().IsRegular() {
			// The listing says what it is: its size is learnt as it is
			// opened. A stat a file was 1.4 of the 32 CPU-s of an ingest
			// of a bucket's 209,000 files.
			w.add(topInput{path: p, size: sizeAtOpen})
			continue
		}
		fi, err := os.Stat(p) // follows links
		switch {
		case err != nil:
			if target, lerr := os.Readlink(p); lerr == nil {
				w.add(topInput{path: p, problem: fmt.Sprintf("dangling symbolic link to %s: not read", target), skip: true})
			} else {
				w.add(topInput{path: p, problem: fmt.Sprintf("cannot read: %v", err)})
			}
		case fi.IsDir():
			w.walk(p, fi)
		case fi.Mode().IsRegular():
			w.add(topInput{path: p, size: fi.Size()})
		default:
			// Reading a FIFO found in a folder could wait forever; a socket
			// or a device is not a log file.
			w.add(topInput{path: p, problem: fmt.Sprintf("not a regular file (%s): not read", fileType(fi.Mode())), skip: true})
		}
	}
}

func fileType(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return m.Type().String()
}
