//go:build duckdb_arrow

package lake

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// streamStore reads inputs into store, when it holds no events yet, by
// handing DuckDB the events as Arrow record batches while they are
// decoded: an INSERT reads them, on every core, in a transaction with the
// files manifest (query.StreamedLoad). Nothing is staged on disk, and
// nothing is written twice: on the bench corpus the ingest took a fifth
// less time and CPU than through a Parquet staging, with a store as small
// (the events go in sorted as the staging sorts them). A long load
// commits as it goes (see stream.checkpoint), so a run killed late keeps
// most of its work. ok is false, and nothing done,
// when the store holds events (or a staging left by an interrupted run):
// IngestStore stages them then.
func streamStore(ctx context.Context, store *query.Store, inputs []string, opts ingest.Options, onStep OnStep) (run StoreRun, ok bool, err error) {
	if !streamLoads || hasStaging(store) {
		return run, false, nil
	}
	// The store holds no events, but may hold files (skipped ones, say):
	// those are not read again.
	manifest, err := store.Manifest(ctx)
	if err != nil {
		return run, false, err
	}
	load, err := store.StartStreamedLoad(ctx)
	if err != nil || load == nil {
		return run, false, err
	}
	defer load.Close()
	manifestDir, err := newManifestDir(store)
	if err != nil {
		return run, false, err
	}
	defer func() { _ = os.RemoveAll(manifestDir) }() // temporary: the rows are stored or the run failed
	sink := newStreamSink(manifestDir)
	st := &stream{load: load, sink: sink}
	if err := st.open(); err != nil {
		return run, false, nil // nothing read yet: stage instead (load.Close rolls back)
	}
	// From here on an INSERT reads the stream until it ends: whatever
	// happens (a panic too), it ends and the INSERT returns before the
	// stream is released.
	defer func() { _ = st.close() }()
	sink.commitEvery, sink.commitInterval, sink.checkpoint = StreamCommitEvents, StreamCommitInterval, st.checkpoint
	sink.lastCommit = time.Now()
	// DuckDB's insert runs beside the decoders: the Go heap gets less room
	// than in a staged load, where the two take turns (10M events: peak RSS
	// 985 -> 900 MiB, as fast).
	if limit := debug.SetMemoryLimit(-1); limit > streamGoMemory {
		debug.SetMemoryLimit(streamGoMemory)
		defer debug.SetMemoryLimit(limit)
	}
	start := time.Now()
	opts.Manifest = manifest
	var runErr error
	run.Stats, runErr = ingest.Run(ctx, inputs, sink, opts)
	insertErr := st.close()
	run.Read = time.Since(start)
	if _, refused := errors.AsType[*ingest.InputError](runErr); refused {
		return run, true, runErr
	}
	run.Ran = true
	notStored := func(err error) error {
		if st.commits == 0 {
			return fmt.Errorf("store the events in %s: %w (nothing was stored: run the same command again)", storeName(store), err)
		}
		return fmt.Errorf("store the events in %s: %w (the events read before its last commit are stored: run the same command again to load the rest)", storeName(store), err)
	}
	switch {
	case st.err != nil:
		return run, true, notStored(st.err)
	case insertErr != nil:
		return run, true, notStored(insertErr)
	case runErr != nil && !errors.Is(runErr, ingest.ErrInterrupted):
		return run, true, runErr
	}
	onStep.begin(StepStore)
	start = time.Now()
	if err := sink.commit(load); err != nil {
		return run, true, notStored(err)
	}
	run.Streamed, run.Commits, run.Inserted = true, st.commits+1, sink.inserted
	if err := store.Checkpoint(context.Background()); err != nil {
		return run, true, fmt.Errorf("the events are stored in %s, but writing them into its file failed (DuckDB tries again when it closes the store): %w", storeName(store), err)
	}
	run.Store = time.Since(start)
	// The sink's buffers and key cache are garbage now: hand them back to
	// the OS before DuckDB builds the sessions, as a staged load does.
	st.sink = nil
	releaseMemory()
	if run.Lineage, err = updateSessions(store, onStep); err != nil {
		return run, true, err
	}
	return run, true, run.ended(ctx, store, runErr)
}

// stream is the INSERT of a streamed load and the stream of record
// batches it reads, one per transaction.
type stream struct {
	load     *query.StreamedLoad
	sink     *streamSink
	release  func()     // hands the registered stream back; nil when none is
	inserted chan error // the running INSERT's result; nil when none runs
	commits  int        // transactions committed before the last
	err      error      // why a checkpoint failed
}

// open registers a new stream with DuckDB and starts the INSERT that
// reads it.
func (st *stream) open() error {
	st.sink.restart()
	if err := st.load.Conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err == nil {
			st.release, err = ar.RegisterView(st.sink.reader(), streamView)
		}
		return err
	}); err != nil {
		return err
	}
	inserted, stopped := make(chan error, 1), st.sink.stopped
	st.inserted = inserted
	go func() {
		// Not the run's context: an interrupted run stores what it read
		// (see IngestStore).
		err := st.load.InsertEvents(context.Background(), "SELECT * FROM "+streamView)
		close(stopped) // the sink sends no more to this stream
		inserted <- err
	}()
	return nil
}

// close ends the stream, waits for its INSERT, drops the view DuckDB made
// of the stream in the transaction (it must not outlive the stream, nor
// reach the store's file), and releases the stream. It returns the
// INSERT's error, and does nothing when no stream is open.
func (st *stream) close() error {
	if st.inserted == nil {
		return nil
	}
	st.sink.finish()
	err := <-st.inserted
	st.inserted = nil
	if err == nil {
		_, err = st.load.Conn.ExecContext(context.Background(), "DROP VIEW "+streamView)
	}
	st.release()
	st.release = nil
	return err
}

// checkpoint commits the events sent so far with the files done, and
// goes on in a new transaction with a new stream: a first load of a large
// bucket is not one transaction that a kill would lose whole. The next run
// loads the rest through a staging, which compares with what is stored:
// the events of a file read partly are stored once, and a file is
// recorded only in the commit that holds all its events. It runs on the
// sink's goroutine, which waits meanwhile, and so do the decoders.
func (st *stream) checkpoint() error {
	err := st.sink.send()
	// The stream ends either way; when the INSERT failed, its error says
	// why (the send only says it stopped reading).
	if cerr := st.close(); cerr != nil {
		err = cerr
	}
	if err == nil {
		err = st.sink.commit(st.load)
	}
	if err == nil {
		st.commits++
		err = st.sink.clearManifest()
	}
	if err == nil {
		err = st.load.Begin(context.Background())
	}
	if err == nil {
		err = st.open()
	}
	if err != nil {
		st.err = err
	}
	return err
}

// newManifestDir makes the folder where a streamed load keeps its files
// manifest until the commit: beside the store, where the user put the
// case (a killed run's is cleared first), or a temporary one for an
// in-memory store.
func newManifestDir(store *query.Store) (string, error) {
	if store.Path == "" {
		return os.MkdirTemp("", "trailsift-manifest-")
	}
	dir := manifestFolder(store.Path)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// storeName names the store in a message.
func storeName(store *query.Store) string {
	if store.Path == "" {
		return "the in-memory store"
	}
	return store.Path
}

// streamLoads turns the streamed load on; tests turn it off to compare
// with the staged one.
var streamLoads = true

// hasStaging says whether an earlier run left a staging beside the store:
// its events are loaded through it, with the new ones.
func hasStaging(store *query.Store) bool {
	if store.Path == "" {
		return false
	}
	_, err := os.Stat(StagingDir(store.Path))
	return err == nil
}

// streamBatchEvents bounds a streamed load's batch, the events sorted
// together: half a Parquet commit. The Go heap holds it while DuckDB holds
// its row groups, where a staged load's two never meet: with half the
// batch and two record batches queued (not four), the bench ingest's peak
// RSS was 870-900 MiB instead of 950-1000, as fast, the store as small.
// Tests make it smaller.
var streamBatchEvents = commitEvents / 2

// streamGoMemory is the Go heap's soft limit during a streamed load. With
// the record batch pool (live buffers, fewer collections) the heap grew
// to its limit; at 448 MiB some bench ingests peaked over 1 GiB of RSS
// (DuckDB's share moves by 100 MB from run to run), at 352 MiB five
// peaked at 760-846 MiB, no slower.
const streamGoMemory = 352 << 20

// streamPoolBytes bounds the record batch buffers a streamed load keeps
// for the next batches (bufferPool): two or three batches of the bench
// corpus's events (at 32 MB, most of raw's buffers were made anew).
const streamPoolBytes = 64 << 20

// streamView is the name DuckDB knows the stream of events by.
const streamView = "trailsift_decoded_events"

// Record batches are cut at this many rows, or this many bytes of raw
// (Arrow's text offsets are 32-bit, and a hostile file may hold many
// events of tens of megabytes).
const (
	streamRecordRows  = 8192
	streamRecordBytes = 64 << 20
)

// streamSink is the ingest.Sink of a streamed load: it batches events as
// the Writer does (per partition, rows sorted the same way, so the store
// compresses as well), drops the run's repeats with the same key cache,
// and sends the rows on as record batches.
type streamSink struct {
	cur      *batch
	memo     partitionMemo
	rejects  rejects
	keys     keyCache
	loaded   map[string]bool         // partitions the key cache has started
	revisits map[string]*partitionOf // those that came back after the cache let them go

	// The files manifest goes to Parquet parts in manifestDir as the files
	// are done (a year of one account is a million files), read back at
	// the commit as a staged load reads its staging's.
	manifestDir string
	recorded    recordedFiles
	files       []fileRow
	errs        []errorRow
	parts       int
	writers     manifestWriters

	records *recordBuilder // the record batch being built

	out      chan arrow.RecordBatch
	stopped  chan struct{} // DuckDB reads no more of out
	finished bool
	inserted int64

	// checkpoint, when set, commits what was sent (stream.checkpoint);
	// the sink calls it once commitEvery events have been sent and
	// commitInterval has passed since the last commit.
	checkpoint     func() error
	commitEvery    int
	commitInterval time.Duration
	sent           int
	lastCommit     time.Time
}

func newStreamSink(manifestDir string) *streamSink {
	s := &streamSink{cur: newBatch(), rejects: rejects{byFile: map[int64][]int64{}},
		keys: keyCache{parts: map[string]*partKeys{}}, loaded: map[string]bool{}, revisits: map[string]*partitionOf{},
		manifestDir: manifestDir, recorded: recordedFiles{},
		records: newRecordBuilder(newBufferPool(streamPoolBytes))}
	s.restart()
	return s
}

// restart begins a new stream for DuckDB to read.
func (s *streamSink) restart() {
	s.out, s.stopped, s.finished = make(chan arrow.RecordBatch, 2), make(chan struct{}), false
}

// errStoreStopped ends a run whose store stopped reading its events (the
// INSERT failed; its error is the one reported).
var errStoreStopped = errors.New("the store stopped taking events")

func (s *streamSink) WriteEvents(events []ingest.Event) error {
	s.cur.add(events, &s.memo, &s.rejects)
	if s.cur.full() || s.cur.events >= streamBatchEvents {
		if err := s.send(); err != nil {
			return err
		}
	}
	// Commits wait for a file's end (FileDone), unless one file goes on
	// and on.
	return s.maybeCheckpoint(2 * s.commitEvery)
}

// maybeCheckpoint commits once after events were sent and the interval
// has passed since the last commit.
func (s *streamSink) maybeCheckpoint(after int) error {
	if s.checkpoint == nil || s.sent < after || time.Since(s.lastCommit) < s.commitInterval {
		return nil
	}
	err := s.checkpoint()
	s.sent, s.lastCommit = 0, time.Now()
	return err
}

// FileDone adds the file's manifest rows, once per path, content and
// outcome (an input listed twice is recorded once, as by the Writer). Its
// rejected records were handed over before it.
func (s *streamSink) FileDone(f *ingest.File) error {
	s.rejects.report(f)
	if s.recorded.first(f) {
		files, errs := manifestRows([]*ingest.File{f})
		s.files, s.errs = append(s.files, files...), append(s.errs, errs...)
	}
	if len(s.files) >= manifestPartFiles {
		if err := s.writeManifest(); err != nil {
			return err
		}
	}
	return s.maybeCheckpoint(s.commitEvery)
}

// manifestPartFiles is how many files' rows a manifest part holds (a
// variable: tests make parts of a few).
var manifestPartFiles = 20_000

// writeManifest writes the manifest rows not written yet as one part.
func (s *streamSink) writeManifest() error {
	name := fmt.Sprintf("part-%06d.parquet", s.parts)
	s.parts++
	if len(s.files) > 0 {
		if err := writeParquet(filepath.Join(s.manifestDir, FilesDir, name), s.files, s.writers.filesWriter(stagingOptions)); err != nil {
			return err
		}
	}
	if len(s.errs) > 0 {
		if err := writeParquet(filepath.Join(s.manifestDir, ErrorsDir, name), s.errs, s.writers.errorsWriter(stagingOptions)); err != nil {
			return err
		}
	}
	s.files, s.errs = nil, nil
	return nil
}

// clearManifest removes the manifest parts a commit stored.
func (s *streamSink) clearManifest() error {
	for _, dir := range []string{FilesDir, ErrorsDir} {
		if err := os.RemoveAll(filepath.Join(s.manifestDir, dir)); err != nil {
			return err
		}
	}
	return nil
}

// Flush sends what is batched and ends the stream.
func (s *streamSink) Flush() error {
	err := s.send()
	s.finish()
	return err
}

// finish ends the stream (once): DuckDB's INSERT then returns.
func (s *streamSink) finish() {
	if !s.finished {
		s.finished = true
		close(s.out)
	}
}

// send sends the batch's new events, partition by partition, each sorted
// as a Parquet part is (sortRows).
func (s *streamSink) send() error {
	b := s.cur
	// The rows are in the record batches once sent (raw referenced by a
	// buffer of its own): the batch takes the next events.
	defer b.reuse()
	for _, p := range slices.Sorted(maps.Keys(b.parts)) {
		if s.loaded[p] && s.keys.parts[p] == nil && s.revisits[p] == nil {
			// Met before, and the key cache let it go.
			s.revisits[p] = partitionOfRow(&b.rows[b.parts[p][0]])
		}
		fresh, err := s.keys.filter(p, b.rows, b.parts[p], s.load)
		if err != nil {
			return err
		}
		sortRows(b.rows, fresh)
		s.sent += len(fresh)
		for len(fresh) > 0 {
			// The rows up to the record batch's limits go in at once.
			n, rows, bytes := 0, s.records.rows, s.records.rawBytes()
			for n < len(fresh) && !batchFull(rows, bytes) {
				bytes += len(b.rows[fresh[n]].Raw)
				rows++
				n++
			}
			s.records.add(b.rows, fresh[:n])
			fresh = fresh[n:]
			if s.records.full() {
				if err := s.cut(); err != nil {
					return err
				}
			}
		}
	}
	return s.cut()
}

// cut sends the rows built so far as one record batch.
func (s *streamSink) cut() error {
	if s.records.rows == 0 {
		return nil
	}
	rec := s.records.finish()
	select {
	case s.out <- rec:
		return nil
	case <-s.stopped:
		rec.Release()
		return errStoreStopped
	}
}

// load starts the key cache's set for a partition: empty, as the store
// held no events. A partition the cache let go and meets again is empty
// to it too: its repeats are found in the store before the commit (send
// keeps it in revisits).
func (s *streamSink) load(part string) (map[[32]byte]struct{}, error) {
	s.loaded[part] = true
	return map[[32]byte]struct{}{}, nil
}

// partitionOf is what puts an event in its partition: account, region and
// day (nil when unknown, as they are NULL in the store).
type partitionOf struct {
	account, region *string
	day             *time.Time
}

func partitionOfRow(r *eventRow) *partitionOf {
	p := &partitionOf{account: r.AccountID, region: r.AWSRegion}
	if r.EventTime != nil {
		t := r.EventTime.UTC()
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		p.day = &day
	}
	return p
}

// commit stores, on the load's transaction, what the events left to do:
// the repeats the key cache could not see dropped, the files and
// ingest_errors rows, the commit.
func (s *streamSink) commit(load *query.StreamedLoad) error {
	ctx := context.Background()
	if len(s.revisits) > 0 {
		where, args := s.revisitedSQL()
		if _, err := load.DropRepeats(ctx, where, args...); err != nil {
			return err
		}
	}
	if err := s.writeManifest(); err != nil {
		return err
	}
	t := tableSources(s.manifestDir)
	var err error
	s.inserted, err = load.Commit(ctx, t.sources["files"], t.sources["ingest_errors"])
	return err
}

// revisitedSQL selects the events of the partitions the key cache met
// again: an event and its copies are always in one partition.
func (s *streamSink) revisitedSQL() (string, []any) {
	var conds []string
	var args []any
	for _, p := range s.revisits {
		c := "account_id IS NOT DISTINCT FROM ? AND aws_region IS NOT DISTINCT FROM ?"
		args = append(args, nullableText(p.account), nullableText(p.region))
		if p.day == nil {
			c += " AND event_time IS NULL"
		} else {
			c += " AND event_time >= ? AND event_time < ?"
			args = append(args, *p.day, p.day.AddDate(0, 0, 1))
		}
		conds = append(conds, "("+c+")")
	}
	if len(conds) == 0 {
		return "false", nil
	}
	return strings.Join(conds, " OR "), args
}

func nullableText(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// reader is the stream DuckDB reads: the batches as they are sent.
func (s *streamSink) reader() array.RecordReader {
	return &batchStream{schema: s.records.schema, in: s.out}
}

// batchStream is an array.RecordReader over a channel of record batches.
// DuckDB calls it from one thread at a time.
type batchStream struct {
	schema *arrow.Schema
	in     <-chan arrow.RecordBatch
	cur    arrow.RecordBatch
}

func (r *batchStream) Retain()                        {}
func (r *batchStream) Release()                       {}
func (r *batchStream) Schema() *arrow.Schema          { return r.schema }
func (r *batchStream) Err() error                     { return nil }
func (r *batchStream) Record() arrow.RecordBatch      { return r.cur }
func (r *batchStream) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *batchStream) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	rec, ok := <-r.in
	if !ok {
		return false
	}
	r.cur = rec
	return true
}
