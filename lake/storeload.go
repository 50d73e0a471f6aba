package lake

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// StagingDir is where an ingest into the DuckDB store at db stages its
// events: a Parquet dataset beside the database, never beside the evidence.
//
// Loading a DuckDB store goes through Parquet because it is faster than
// the alternatives measured (DuckDB's Appender, a Go table function): the
// dataset is written on every core, and one INSERT ... SELECT from it lets
// DuckDB read Parquet in parallel and compress full row groups, without
// the write-ahead log; the database comes out smaller too. samples/bench.sh
// measures it. The dataset has the same exactly-once rules as any other,
// so an interrupted or killed ingest resumes from it.
func StagingDir(db string) string { return db + ".staging" }

// Manifests joins the manifests of a store and of its staging dataset: a
// file staged by an interrupted run is not read again.
type Manifests []ingest.Manifest

func (ms Manifests) Has(path, sha string) bool {
	for _, m := range ms {
		if m.Has(path, sha) {
			return true
		}
	}
	return false
}

func (ms Manifests) HasContent(sha string) (string, bool) {
	for _, m := range ms {
		if p, ok := m.HasContent(sha); ok {
			return p, true
		}
	}
	return "", false
}

// LoadStore moves the staging dataset at dir into store through the
// store's own load (query.Store.Load: what counts as the same event is
// decided there), then removes dir. See Store.Load for what it returns.
func LoadStore(ctx context.Context, store *query.Store, dir string) (inserted, rejected int64, err error) {
	inserted, rejected, err = store.Load(ctx, tableSources(dir))
	if err != nil {
		return 0, 0, err
	}
	return inserted, rejected, os.RemoveAll(dir)
}

// StoreRun is what IngestStore did.
type StoreRun struct {
	ingest.Stats
	Ran      bool  // the inputs were read (false: an error stopped the run before)
	Inserted int64 // events the store did not hold before
	Rejected int64 // staged events the store finds invalid JSON: in ingest_errors, their file failed
}

// IngestStore reads inputs into store the way `trailsift ingest --db`
// does: the events are staged as a Parquet dataset beside the database
// (StagingDir; a temporary folder for an in-memory store) and loaded in
// chunks while the rest is decoded (see chunkLoader), then the last chunk
// with Finish. opts.Manifest is set here, from the store and the staging.
// beforeLoad, when not nil, runs just before the last chunk's load.
//
// What was staged is loaded even after ctx is cancelled: it is finished
// work, and each chunk is one transaction, so a second interrupt (which
// exits at once) leaves the store as it was after a chunk and the staging
// for the next run. A run cancelled at any point returns
// ingest.ErrInterrupted, so that nothing goes on after it.
func IngestStore(ctx context.Context, store *query.Store, inputs []string, opts ingest.Options, beforeLoad func()) (StoreRun, error) {
	var run StoreRun
	staging := StagingDir(store.Path)
	if store.Path == "" {
		tmp, err := os.MkdirTemp("", "trailsift-staging-")
		if err != nil {
			return run, err
		}
		defer func() { _ = os.RemoveAll(tmp) }() // temporary; nothing in it outlives the load
		staging = filepath.Join(tmp, "staging")
	}
	stored, err := store.Manifest(ctx)
	if err != nil {
		return run, err
	}
	w, err := NewStagingWriter(ctx, staging)
	if err != nil {
		return run, err
	}
	defer func() { _ = w.Close() }() // on early returns; closed and checked below
	staged, err := w.Manifest()
	if err != nil {
		return run, err
	}
	// Not ctx, which an interrupt cancels: see above.
	loader, err := store.NewLoader(context.Background())
	if err != nil {
		return run, err
	}
	defer func() { _ = loader.Close() }()
	// DuckDB's insert runs beside the decoders now, not after them: the
	// Go heap's soft cap, if any, makes room for DuckDB's share meanwhile,
	// so the peak stays what it was with one after the other (the GC
	// works a little harder instead).
	if limit := debug.SetMemoryLimit(-1); limit < math.MaxInt64 {
		debug.SetMemoryLimit(limit * 5 / 8)
		defer debug.SetMemoryLimit(limit)
	}
	chunks := startChunkLoader(w, loader)
	opts.Manifest = Manifests{stored, staged}
	var runErr error
	run.Stats, runErr = ingest.Run(ctx, inputs, w, opts)
	chunked := chunks.stop()
	run.Inserted, run.Rejected = chunks.inserted, chunks.rejected
	if _, refused := errors.AsType[*ingest.InputError](runErr); refused {
		return run, runErr
	}
	run.Ran = true
	if err := w.Close(); err != nil {
		return run, err
	}
	// The staging buffers are garbage now: hand them back to the OS before
	// DuckDB takes its share, so the peak is one or the other, not both.
	debug.FreeOSMemory()
	if beforeLoad != nil {
		beforeLoad()
	}
	// What the chunks left (all of it, if a chunk failed: the last load
	// retries it), and the end of the ingest.
	inserted, rejected, err := loader.Finish(context.Background(), tableSources(staging))
	if err == nil {
		err = os.RemoveAll(staging)
	}
	if err != nil {
		return run, fmt.Errorf("load %s into %s: %w (run the same command again to finish)", staging, store.Path, errors.Join(err, chunked))
	}
	run.Inserted += inserted
	run.Rejected += rejected
	// Records the store refused are in ingest_errors; they make the run partial.
	run.Errors += run.Rejected
	if runErr == nil && ctx.Err() != nil {
		// Cancelled after the files were read: the load finished, but the
		// caller asked to stop.
		runErr = ingest.ErrInterrupted
	}
	return run, runErr
}

// chunkBytes is how much staged Parquet makes a chunk at least; a chunk
// is also at least a quarter of what the chunks before it loaded. Small
// chunks keep the staging on disk small and start DuckDB early; the
// growth bounds the number of chunks, each of which compares its events
// with every stored one. On the bench corpus 24 MiB chunks cost no more
// CPU than one load at the end, and 64 MiB ones more (samples/bench.sh
// measures it).
var chunkBytes int64 = 24 << 20

// afterChunk, when set (by tests), runs after each chunk is loaded and
// before its parts are removed.
var afterChunk func()

// A chunkLoader loads the staging writer's published commits into the
// store in chunks while decoding goes on: DuckDB's insert overlaps the
// decoders, and the staging on disk stays about chunkBytes, not the whole
// ingest. A chunk is a prefix of the commits, so each file's manifest row
// is loaded with or after its events. Its parts are removed once its
// transaction commits; a kill in between only leaves them to be loaded
// again, which stores nothing twice.
type chunkLoader struct {
	w        *Writer
	loader   *query.Loader
	notify   chan struct{}
	done     chan struct{}
	inserted int64
	rejected int64
	err      error // the first chunk that failed; no chunk is loaded after it
	loaded   int64 // bytes of staged events loaded by the chunks so far

	mu      sync.Mutex // orders wake-ups with stop: a commit may publish after it
	stopped bool
}

func startChunkLoader(w *Writer, loader *query.Loader) *chunkLoader {
	c := &chunkLoader{w: w, loader: loader, notify: make(chan struct{}, 1), done: make(chan struct{})}
	w.onPublish = func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.stopped {
			return // the last load takes it
		}
		select {
		case c.notify <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	go c.loop()
	return c
}

// stop waits for the chunk being loaded, and returns the error that
// stopped the chunks, if any.
func (c *chunkLoader) stop() error {
	c.mu.Lock()
	c.stopped = true
	close(c.notify)
	c.mu.Unlock()
	<-c.done
	return c.err
}

func (c *chunkLoader) loop() {
	defer close(c.done)
	for range c.notify {
		if c.err != nil {
			continue
		}
		events, files, errs := c.w.publishedParts(c.w.publishedCommits())
		var size int64
		for _, name := range events {
			if fi, err := os.Stat(name); err == nil {
				size += fi.Size()
			}
		}
		if size < max(chunkBytes, c.loaded/4) {
			continue
		}
		inserted, rejected, err := c.loader.LoadChunk(context.Background(), sourcesOf(fileList(events), fileList(files), fileList(errs)))
		if err == nil && afterChunk != nil {
			afterChunk()
		}
		if err == nil {
			err = c.w.removeParts(slices.Concat(events, files, errs))
		}
		if err != nil {
			c.err = err
			continue
		}
		c.inserted += inserted
		c.rejected += rejected
		c.loaded += size
	}
}
