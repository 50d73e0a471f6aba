package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/valyala/fastjson"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// A commit holds at most this many events or bytes of original JSON. Each
// commit writes a file per partition it touches (a large share cut into
// a few, cutPieces), so bigger commits make fewer, larger files (better
// for scanning) at the cost of memory: two batches live at once, one
// filling while the other is written, and the column buffers of the files
// being written hold a partition's share of a batch. 25k events keeps the
// Go heap under its soft limit; larger commits made the GC run constantly
// (samples/bench.sh measures it).
const (
	commitEvents = 25_000
	commitBytes  = 24 << 20
)

// Writer is an ingest.Sink that writes a Parquet dataset. Events are
// buffered per partition; a commit writes the batch into a staging
// directory, records the moves that publish it in a commit file, and then
// makes the moves. A run killed before the commit file exists leaves only
// staging files, which the next run removes; one killed after it is
// finished by the next run. Either way a rerun stores every event once.
type Writer struct {
	dir     string
	run     string
	seq     int
	lock    *os.File
	created bool         // the directory did not exist before this run
	reader  *query.Store // reads back what the dataset holds (keys, manifest)
	options []parquet.WriterOption
	// eventWriters keeps idle writers of event parts for reuse (not a
	// sync.Pool: that drops them at every GC, and the GC runs often here).
	eventWriters  chan *parquet.GenericWriter[eventRow]
	stagedWriters chan *parquet.GenericWriter[stagedEventRow]
	manifest      manifestWriters // used by one commit at a time
	// staging writes raw as plain text, checked by LoadStore (see
	// stagedEventRow); a dataset checks each raw itself before writing it.
	staging bool
	// typed: each commit also writes a typed file (see TypedDir), decided
	// once a run (decideTyped); never for a staging.
	typed, typedDecided bool

	cur       *batch
	committed *batch // the batch of the last commit started
	lastPart  partitionMemo
	inflight  chan error // the result of the commit being written, if any
	keys      keyCache

	mu       sync.Mutex // guards the counters and recorded, written by the committer
	inserted int64
	seen     int64
	rejects  rejects
	recorded recordedFiles
}

// batch is what the next commit writes. Rows sit in one slice sized for a
// full batch, with each partition's share as indexes into it: appending to
// a growing slice per partition copied every row again and again.
type batch struct {
	rows   []eventRow
	parts  map[string][]int32
	events int
	bytes  int
	files  []*ingest.File
}

// add puts events in b, each in its partition, but for those whose raw is
// not valid JSON, which rejects keeps instead.
func (b *batch) add(events []ingest.Event, memo *partitionMemo, rejects *rejects) {
	for i := range events {
		ev := &events[i]
		if !ev.RawStrict && !validJSON(ev.Raw) {
			rejects.add(ev)
			continue
		}
		p := memo.dir(ev)
		b.parts[p] = append(b.parts[p], int32(len(b.rows)))
		b.rows = append(b.rows, newEventRow(ev))
		b.bytes += len(ev.Raw)
	}
	b.events += len(events)
}

// full says the batch is as large as a commit gets.
func (b *batch) full() bool { return b.events >= commitEvents || b.bytes >= commitBytes }

func newBatch() *batch {
	return &batch{rows: make([]eventRow, 0, commitEvents+ingestBatchSlack), parts: map[string][]int32{}}
}

// reuse empties b for the next batch, or makes one when b is nil. Rows
// sized for a full batch are 10 MB: made afresh for each batch, they were
// a twentieth of an ingest's page faults. The rows are cleared, so the
// events they point at are not kept from the collector.
func (b *batch) reuse() *batch {
	if b == nil {
		return newBatch()
	}
	clear(b.rows)
	clear(b.files)
	clear(b.parts) // a partition in parts has rows
	*b = batch{rows: b.rows[:0], parts: b.parts, files: b.files[:0]}
	return b
}

// ingestBatchSlack is room for the events handed over in one call after
// the batch is nearly full.
const ingestBatchSlack = 4096

// NewWriter opens (creating) the dataset at dir for one ingest run. It
// first finishes or discards what a killed run left behind.
func NewWriter(ctx context.Context, dir string) (*Writer, error) {
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create dataset %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	w := &Writer{dir: dir, run: newRunID(), lock: lock, created: created, cur: newBatch(), options: writerOptions,
		eventWriters:  make(chan *parquet.GenericWriter[eventRow], runtime.GOMAXPROCS(0)),
		stagedWriters: make(chan *parquet.GenericWriter[stagedEventRow], runtime.GOMAXPROCS(0)),
		rejects:       rejects{byFile: map[int64][]int64{}}, recorded: recordedFiles{}}
	if err := w.recover(); err != nil {
		return nil, errors.Join(err, w.Close())
	}
	if w.reader, err = openReader(); err != nil {
		return nil, errors.Join(err, w.Close())
	}
	w.keys = keyCache{parts: map[string]*partKeys{}}
	return w, nil
}

// NewStagingWriter is NewWriter for a dataset that is read once and
// deleted (an ingest into a DuckDB store stages through one): it
// compresses for speed, not size.
func NewStagingWriter(ctx context.Context, dir string) (*Writer, error) {
	w, err := NewWriter(ctx, dir)
	if err == nil {
		w.options, w.staging = stagingOptions, true
	}
	return w, err
}

// Inserted and Duplicates count the events of this run that were new and
// that were already stored (or seen twice).
func (w *Writer) Inserted() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inserted
}

func (w *Writer) Duplicates() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen - w.inserted
}

// WriteEvents buffers events by partition and starts a commit when the
// batch is full.
func (w *Writer) WriteEvents(events []ingest.Event) error {
	b := w.cur
	b.add(events, &w.lastPart, &w.rejects)
	if b.full() {
		return w.startCommit()
	}
	return nil
}

// FileDone queues a file's manifest row: its events are in this batch or
// an earlier one, so the commit that carries the row carries them too.
func (w *Writer) FileDone(f *ingest.File) error {
	w.cur.files = append(w.cur.files, f)
	if len(w.cur.files) >= 20_000 {
		return w.startCommit()
	}
	return nil
}

// Flush commits everything buffered and waits for it.
func (w *Writer) Flush() error {
	if err := w.startCommit(); err != nil {
		return err
	}
	return w.wait()
}

// Close releases the dataset; a batch not flushed is dropped (its files
// are not in the manifest, so a rerun reads them again).
func (w *Writer) Close() error {
	err := w.wait()
	if w.reader != nil {
		w.reader.Close()
		w.reader = nil
	}
	if w.lock != nil {
		// Empty bookkeeping goes, and so does a directory this run made and
		// left empty (os.Remove fails on a directory that holds anything).
		_ = os.Remove(filepath.Join(w.dir, stagingDir)) // fails, as it should, when not empty
		_ = os.Remove(filepath.Join(w.dir, commitsDir))
		unlockDir(w.lock)
		w.lock = nil
		if w.created {
			_ = os.Remove(w.dir)
		}
	}
	// Let go of the buffers and the seen keys now: a DuckDB ingest keeps
	// the writer in scope while it loads the staged events, and these
	// (about 100 MB on the bench corpus) would add to that step's peak.
	w.keys = keyCache{}
	w.cur = &batch{parts: map[string][]int32{}}
	for len(w.eventWriters) > 0 {
		<-w.eventWriters
	}
	for len(w.stagedWriters) > 0 {
		<-w.stagedWriters
	}
	return err
}

// startCommit hands the current batch to a background commit, after the
// previous one finished: decoding goes on while a batch is written.
func (w *Writer) startCommit() error {
	if err := w.wait(); err != nil {
		return err
	}
	b := w.cur
	if b.events == 0 && len(b.files) == 0 {
		return nil
	}
	// The previous commit has ended (wait): its batch is emptied.
	w.cur, w.committed = w.committed.reuse(), b
	w.decideTyped(b)
	id := w.nextCommitID()
	w.inflight = make(chan error, 1)
	go func(done chan<- error) {
		err := w.commit(id, b)
		b.reuse() // its events are not kept while the next batch fills
		done <- err
	}(w.inflight)
	return nil
}

// typedFromPartitions is how many partitions a run's first commit writes
// into, or how many parts the dataset has, at least, for the run to write
// typed files when the dataset has none yet (its end then writes one of
// the parts written before, backfillTyped). They cost the writer a tenth more CPU (the 1.25M-event bench
// corpus: 33 CPU-s against 29-30), and pay only when the parts are many
// and small: a bucket's partitions (an account, region and day each,
// hundreds in one commit). A dataset that has typed files gets them from
// every run: a run without would leave its parts uncovered, and its
// readers reading every part again.
var typedFromPartitions = 64

// decideTyped decides, at the run's first commit (b), whether it writes
// typed files.
func (w *Writer) decideTyped(b *batch) {
	if w.typedDecided || len(b.parts) == 0 {
		return // decided, or a commit of manifest rows only
	}
	w.typedDecided = true
	if w.staging {
		return
	}
	have, _ := filepath.Glob(filepath.Join(w.dir, TypedDir, "*.parquet"))
	parts, _ := filepath.Glob(EventsGlob(w.dir))
	w.typed = len(have) > 0 || len(b.parts) >= typedFromPartitions || len(parts) >= typedFromPartitions
}

// nextCommitID names this run's next commit (its commit file, its staging
// folder, the parts it writes): in the order the run makes them.
func (w *Writer) nextCommitID() string {
	id := fmt.Sprintf("%s-%06d", w.run, w.seq)
	w.seq++
	return id
}

func (w *Writer) wait() error {
	if w.inflight == nil {
		return nil
	}
	err := <-w.inflight
	w.inflight = nil
	return err
}

// move publishes one staged file, or removes a part that a merged file
// replaces (To empty; see Compact).
type move struct {
	From string `json:"from"`
	To   string `json:"to,omitempty"`
}

// stagedName is the path, relative to the dataset, at which commit id
// stages a file called name: one folder a commit, its files side by
// side. Staged in a copy of the partitions' folders, a run into a
// bucket's 1,440 partitions made and removed folders for every partition
// of every commit: its kernel time fell from 9.1 to 7.8 s once the files
// were staged side by side.
func stagedName(id, name string) string { return filepath.Join(stagingDir, id, name) }

// commit writes batch b as commit id.
func (w *Writer) commit(id string, b *batch) error {
	stage := filepath.Join(w.dir, stagingDir, id)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return err
	}
	var moves []move
	var seen, kept int64
	var parts []piece // one a partition, then cut (cutPieces)
	for _, p := range slices.Sorted(maps.Keys(b.parts)) {
		idx := b.parts[p]
		seen += int64(len(idx))
		fresh, err := w.keys.filter(p, b.rows, idx, func(p string) (map[[32]byte]struct{}, error) {
			return readIDs(w.reader.DB, filepath.Join(w.dir, p))
		})
		if err != nil {
			return err
		}
		kept += int64(len(fresh))
		if len(fresh) > 0 {
			parts = append(parts, piece{part: p, rows: fresh})
		}
	}
	workers := runtime.GOMAXPROCS(0)
	onWorkers(largestFirst(parts), workers, func(i int) error {
		sortRows(b.rows, parts[i].rows)
		return nil
	})
	pieces := cutPieces(parts, workers)
	for i, pc := range pieces {
		moves = append(moves, move{stagedName(id, fmt.Sprintf("events-%06d.parquet", i)), filepath.Join(pc.part, pc.name(id))})
	}
	var typed func() error
	if w.typed && len(pieces) > 0 {
		covered := map[string][]int32{}
		for i, pc := range pieces {
			covered[moves[i].To] = pc.rows
		}
		rows, covers, err := typedRows(b.rows, covered)
		if err != nil {
			return err
		}
		m := move{stagedName(id, "typed.parquet"), filepath.Join(TypedDir, partName(id))}
		moves = append(moves, m)
		typed = func() error {
			pw := w.manifest.typedWriter(w.options)
			pw.SetKeyValueMetadata(typedCoversKey, covers)
			return writeParquet(filepath.Join(w.dir, m.From), rows, pw)
		}
	}
	// The pieces are encoded in parallel (compressing the original JSON is
	// most of the work), and the typed file beside them.
	typedErr := make(chan error, 1)
	go func() {
		if typed != nil {
			typedErr <- typed()
		}
		close(typedErr)
	}()
	errs := onWorkers(largestFirst(pieces), workers, func(i int) error {
		return w.writePart(filepath.Join(w.dir, moves[i].From), b.rows, pieces[i].rows) // piece i's move, made with it above
	})
	if err := errors.Join(append(errs, <-typedErr)...); err != nil {
		return err
	}
	var fresh []*ingest.File
	w.mu.Lock()
	for _, f := range b.files {
		w.rejects.report(f)
		if w.recorded.first(f) {
			fresh = append(fresh, f)
		}
	}
	w.mu.Unlock()
	if len(fresh) > 0 {
		files, errRows := manifestRows(fresh)
		m := move{stagedName(id, "files.parquet"), filepath.Join(FilesDir, partName(id))}
		if err := writeParquet(filepath.Join(w.dir, m.From), files, w.manifest.filesWriter(w.options)); err != nil {
			return err
		}
		moves = append(moves, m)
		if len(errRows) > 0 {
			m := move{stagedName(id, "errors.parquet"), filepath.Join(ErrorsDir, partName(id))}
			if err := writeParquet(filepath.Join(w.dir, m.From), errRows, w.manifest.errorsWriter(w.options)); err != nil {
				return err
			}
			moves = append(moves, m)
		}
	}
	// The staged files' names are durable before the commit file names
	// them: one folder to sync, as the files are staged side by side.
	for _, d := range []string{stage, filepath.Dir(stage)} {
		if err := syncPath(d); err != nil {
			return err
		}
	}
	// The commit file is the commit point: once it exists, the moves happen
	// (now, or in the next run's recovery).
	if err := writeCommitFile(w.dir, id, moves); err != nil {
		return err
	}
	if err := w.rollForward(id, moves); err != nil {
		return err
	}
	w.mu.Lock()
	w.seen += seen
	w.inserted += kept
	w.mu.Unlock()
	return nil
}

func manifestRows(files []*ingest.File) ([]fileRow, []errorRow) {
	now := time.Now().UTC()
	var fr []fileRow
	var er []errorRow
	for _, f := range files {
		fr = append(fr, fileRow{FileID: f.ID, Path: f.Path, Size: f.Size, SHA256: str(f.SHA256), ContentSHA256: str(f.ContentSHA256),
			Shape: str(f.Shape), Events: f.Events, Status: f.Status, Reason: str(f.Reason), IngestedAt: now})
		for _, e := range f.Errors {
			er = append(er, errorRow{FileID: e.FileID, Path: e.Path, RecordIndex: knownOrNull(e.RecordIndex),
				ByteOffset: knownOrNull(e.ByteOffset), Severity: e.Severity, Message: e.Message})
		}
	}
	return fr, er
}

// writePart writes the rows of all at idx, a piece of one partition's
// share of a commit, in idx's order: by event source, event name and time
// (sortRows). A partition is one day already; within it, like events side
// by side compress better than in time order, and a reader looking for one
// kind of event (ConsoleLogin, say) skips the pages whose event_name
// statistics rule them out. The indexes are sorted, not the rows (each
// some 500 bytes), which are then copied once, in order.
func (w *Writer) writePart(path string, all []eventRow, idx []int32) error {
	if w.staging {
		staged := make([]stagedEventRow, len(idx))
		for i, j := range idx {
			staged[i] = stagedEventRow(all[j])
		}
		pw := takeWriter(w.stagedWriters, w.options)
		defer putWriter(w.stagedWriters, pw)
		return writeParquet(path, staged, pw)
	}
	rows := make([]eventRow, len(idx))
	for i, j := range idx {
		rows[i] = all[j]
	}
	pw := takeWriter(w.eventWriters, w.options)
	defer putWriter(w.eventWriters, pw)
	holds := partHolds(rows)
	for _, key := range slices.Sorted(maps.Keys(holds)) {
		pw.SetKeyValueMetadata(key, strconv.FormatBool(holds[key])) // every part sets every key: a pooled writer keeps them
	}
	return writeParquet(path, rows, pw)
}

// rejects remembers the events a sink left out because their raw is not
// valid JSON, for their file's manifest row: one such value would make
// every read of the store or dataset fail (DuckDB checks the whole column
// as it reads raw as JSON). Only events that did not come through the
// decoder's strict rewriter are checked (ingest.Event.RawStrict), so a
// staging holds valid JSON only, and a store's load need not scan it
// (rawCheckedKey).
type rejects struct {
	mu     sync.Mutex
	byFile map[int64][]int64 // file id -> record indexes
}

func (r *rejects) add(ev *ingest.Event) {
	r.mu.Lock()
	r.byFile[ev.FileID] = append(r.byFile[ev.FileID], ev.RecordIndex)
	r.mu.Unlock()
}

// validJSON is true for what DuckDB takes as JSON. fastjson's validator
// (3x faster than encoding/json's here) is strict on numbers and escapes
// but lets raw control bytes through inside strings; those are checked
// apart, and only a value that holds one pays for the scan that finds
// whether it is inside a string (where it is invalid) or white space.
func validJSON(s string) bool {
	if !utf8.ValidString(s) || fastjson.Validate(s) != nil {
		return false
	}
	i := 0
	for i < len(s) && s[i] >= 0x20 {
		i++
	}
	if i == len(s) {
		return true
	}
	inString := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case c < 0x20 && inString:
			return false
		}
	}
	return true
}

// report records on f the events of f that were not stored because their
// JSON was invalid. Called once the events of f were handed over (they
// come before f).
func (r *rejects) report(f *ingest.File) {
	r.mu.Lock()
	idx := r.byFile[f.ID]
	delete(r.byFile, f.ID)
	r.mu.Unlock()
	if len(idx) == 0 {
		return
	}
	slices.Sort(idx)
	for _, i := range idx {
		f.AddError(i, -1, ingest.SeverityError, "record not stored: its JSON is not valid (a raw control character or a bad number)")
	}
	f.Events -= int64(len(idx))
	f.Status = ingest.StatusFailed
	f.Reason = fmt.Sprintf("%d records not stored: not valid JSON (see ingest_errors); the rest were kept", len(idx))
}

// Compression, page and row group sizes. A part file holds one partition's
// share of a commit (at most commitEvents rows), so it is one row group:
// readers plan their work by row group, and one per file keeps the footer
// small. zstd's fastest level: raw, nearly all of a dataset, comes out
// as small as at the default level (1% smaller on the bench corpus: its
// pages are long runs of similar JSON) in 40% less time, and the whole
// ingest --parquet took 10% less (medians of three interleaved runs, 18.6
// s against 20.7 s); the columns of random ids and times keep the
// default level (the zstd tag on eventRow). On a bucket's small
// partitions (a page or two of raw each) the dataset is 4.5% larger.
// The default level made a dataset 5% larger than the "better" level in
// a fifth less time, and the "best" level gains little more at nearly
// twice the time (samples/bench.sh measures it).
//
// Pages are cut at pageBytes of values, which raw reaches (and, rarely,
// error_message: 25,000 long messages in one part): the typed columns
// stay in one page each, so a reader filtering on event_time or
// event_name reads a few small pages per file. Bigger pages
// compress raw only a little better, and cost more to make: parquet-go
// encodes a page into a buffer it pools, which every garbage collection
// between two commits empties, and the next one grows again value by
// value, at 1.25x a step. With 8 MiB pages that regrowth was 1.3-1.7 CPU-s
// of a 1.25M-event ingest --parquet (31 times, 40 MB copied each); at 2 MiB
// the ingest took 6% less time and CPU (medians of 5 interleaved runs,
// 19.9 s against 21.2 s) and 40-70 MB less memory, for a dataset 0.2%
// larger; 1 MiB measured the same as 2.
//
// raw's page headers carry no minimum and maximum: two whole events (2-3
// KB) per page that no reader filters by, which on a bucket's small files
// (a partition per account, region and day, a few dozen events each) were
// a fourteenth of the dataset. The footer keeps them: parquet-go's
// SkipPageBounds would also write a page index whose bounds are empty
// strings, which readers that prune pages by it (Spark, Trino) would trust.
const pageBytes = 2 << 20

var writerOptions = []parquet.WriterOption{
	parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
	parquet.PageBufferSize(pageBytes),
	parquet.MaxRowsPerRowGroup(1 << 20),
	parquet.CreatedBy("trailsift", "", ""),
	parquet.SkipPageStatistics("raw"),
}

// stagingOptions write a staging dataset, read once and deleted: zstd's
// fastest level, which loaded a store as fast as snappy with smaller
// staging files, and faster than no compression, lz4 or the dataset
// settings above (samples/bench.sh measures it).
var stagingOptions = []parquet.WriterOption{
	parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
	parquet.KeyValueMetadata(rawCheckedKey, "true"),
	parquet.PageBufferSize(pageBytes),
	parquet.MaxRowsPerRowGroup(1 << 20),
	parquet.CreatedBy("trailsift", "", ""),
}

// rawCheckedKey marks, in a staged part's footer, that its writer left out
// every raw that is not valid JSON (rejects). A store loads such a
// staging without scanning raw again; one left by an older trailsift,
// whose parts lack the mark, is scanned (query.Store.Load).
const rawCheckedKey = "trailsift.raw_checked"

// writeParquet writes rows to path, creating its directory, and syncs it
// so the later rename publishes a whole file.
func writeParquet[T any](path string, rows []T, pw *parquet.GenericWriter[T]) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	pw.Reset(f)
	if _, err := pw.Write(rows); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := pw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// newParquetWriter makes a writer for writeParquet, which gives it its file.
func newParquetWriter[T any](opts []parquet.WriterOption) *parquet.GenericWriter[T] {
	return parquet.NewGenericWriter[T](io.Discard, opts...)
}

// manifestWriters are the writers of manifest parts (the files and
// ingest_errors tables), one per table, made the first time and reused:
// a fresh one grew its buffers from nothing, 50 MB of garbage for the
// rows of 20k files. One goroutine uses them at a time.
type manifestWriters struct {
	files  *parquet.GenericWriter[fileRow]
	errors *parquet.GenericWriter[errorRow]
	typed  *parquet.GenericWriter[eventRow] // with typedRaw
}

func (m *manifestWriters) filesWriter(opts []parquet.WriterOption) *parquet.GenericWriter[fileRow] {
	return reused(&m.files, opts)
}

func (m *manifestWriters) typedWriter(opts []parquet.WriterOption) *parquet.GenericWriter[eventRow] {
	return reused(&m.typed, slices.Concat(opts, []parquet.WriterOption{typedRaw}))
}

func (m *manifestWriters) errorsWriter(opts []parquet.WriterOption) *parquet.GenericWriter[errorRow] {
	return reused(&m.errors, opts)
}

// reused is *pw, made with opts the first time.
func reused[T any](pw **parquet.GenericWriter[T], opts []parquet.WriterOption) *parquet.GenericWriter[T] {
	if *pw == nil {
		*pw = newParquetWriter[T](opts)
	}
	return *pw
}

// takeWriter takes a writer of event parts from a pool. Reusing them
// keeps their page and compression buffers: a fresh writer grew them from
// nothing for every part file, which on a profile of the bench corpus cost
// about as much CPU as the encoding itself.
func takeWriter[T any](pool chan *parquet.GenericWriter[T], opts []parquet.WriterOption) *parquet.GenericWriter[T] {
	select {
	case pw := <-pool:
		return pw
	default:
		return newParquetWriter[T](opts)
	}
}

func putWriter[T any](pool chan *parquet.GenericWriter[T], pw *parquet.GenericWriter[T]) {
	select {
	case pool <- pw:
	default: // enough are kept already
	}
}

func writeCommitFile(dir, id string, moves []move) error {
	data, err := json.Marshal(moves)
	if err != nil {
		return err
	}
	cdir := filepath.Join(dir, commitsDir)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(cdir, "."+id+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(cdir, id+".json")); err != nil {
		return err
	}
	return syncPath(cdir)
}

// syncPath makes the file or directory at path durable: a file's bytes,
// a directory's names (a file's own fsync does not cover its name).
func syncPath(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// rollForward makes the moves of a commit; it is idempotent, so recovery
// can repeat it after a crash part-way.
func (w *Writer) rollForward(id string, moves []move) error {
	for _, m := range moves {
		from, to := filepath.Join(w.dir, m.From), filepath.Join(w.dir, m.To)
		if m.To == "" {
			if err := os.Remove(from); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove %s, merged into another part: %w", m.From, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.Rename(from, to); err != nil {
			_, statErr := os.Stat(to)
			switch {
			case errors.Is(err, os.ErrNotExist) && statErr == nil:
				continue // moved before a crash
			case errors.Is(err, os.ErrNotExist) && mergeOf(moves):
				// A merge whose staged file was lost (a crash before its
				// name was on disk): its parts are all still there, as
				// they go after it; the merge is dropped.
				if err := os.Remove(filepath.Join(w.dir, commitsDir, id+".json")); err != nil {
					return err
				}
				return os.RemoveAll(filepath.Join(w.dir, stagingDir, id))
			}
			return fmt.Errorf("publish %s: %w", m.To, err)
		}
	}
	if err := os.Remove(filepath.Join(w.dir, commitsDir, id+".json")); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(w.dir, stagingDir, id))
}

// mergeOf says moves are a merge's (see Compact): they remove parts.
func mergeOf(moves []move) bool {
	return slices.ContainsFunc(moves, func(m move) bool { return m.To == "" })
}

// recover finishes the commits a killed run had made and drops what it had
// only staged.
func (w *Writer) recover() error {
	commits, _ := filepath.Glob(filepath.Join(w.dir, commitsDir, "*.json"))
	for _, c := range commits {
		data, err := os.ReadFile(c)
		if err != nil {
			return err
		}
		var moves []move
		if err := json.Unmarshal(data, &moves); err != nil {
			return fmt.Errorf("dataset %s: unreadable commit file %s: %w", w.dir, c, err)
		}
		for _, m := range moves {
			if !filepath.IsLocal(m.From) || m.To != "" && !filepath.IsLocal(m.To) {
				return fmt.Errorf("dataset %s: commit file %s names a path outside the dataset", w.dir, c)
			}
		}
		if err := w.rollForward(filepath.Base(c[:len(c)-len(".json")]), moves); err != nil {
			return err
		}
	}
	return os.RemoveAll(filepath.Join(w.dir, stagingDir))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
