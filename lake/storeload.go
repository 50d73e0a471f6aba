package lake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

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

// manifestFolder is where a streamed load keeps the files manifest of the
// store at db until it commits it (see streamStore).
func manifestFolder(db string) string { return db + ".manifest" }

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
// decided there), in slices of parts (loadSlices), each part deleted once
// its slice is stored, then removes dir and brings the store's sessions up
// to date (query.Store.UpdateSessions): the disk holds little more than
// the staging or the store, not both, and not the staging during the
// build's spill. See Store.Load for what it returns.
func LoadStore(ctx context.Context, store *query.Store, dir string) (inserted, rejected int64, err error) {
	var times loadTimes
	return loadStore(ctx, store, dir, &times, nil)
}

// loadTimes are how long LoadStore's two steps took.
type loadTimes struct {
	store   time.Duration // the events into the store, and the staging removed
	lineage time.Duration // the sessions rebuilt
}

func loadStore(ctx context.Context, store *query.Store, dir string, times *loadTimes, onStep OnStep) (inserted, rejected int64, err error) {
	start := time.Now()
	t := tableSources(dir)
	var slices [][]string
	st := query.Staging{Files: t.sources["files"], Errors: t.sources["ingest_errors"], RawValid: t.schemas.rawChecked(),
		Loaded: func(i int) error {
			for _, p := range slices[i] {
				if err := os.Remove(p); err != nil {
					return err
				}
			}
			return nil
		}}
	from := 0
	for _, n := range loadSlices(len(t.parts), t.schemas, runtime.GOMAXPROCS(0)) {
		slices = append(slices, t.parts[from:from+n])
		st.Events = append(st.Events, eventsSQL(t.parts[from:from+n], t.schemas.part(from, from+n)))
		from += n
	}
	inserted, rejected, err = store.Load(ctx, st)
	if err != nil {
		return 0, 0, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return inserted, rejected, err
	}
	if err := store.Checkpoint(ctx); err != nil {
		return inserted, rejected, err
	}
	times.store = time.Since(start)
	times.lineage, err = updateSessions(store, onStep)
	return inserted, rejected, err
}

// updateSessions brings the store's sessions up to date after a load
// (query.Store.UpdateSessions), unless DeferSessions, and says how long it
// took. Not a cancellable context: the events are stored, and their
// lineage is owed. onStep is told it begins.
func updateSessions(store *query.Store, onStep OnStep) (time.Duration, error) {
	if DeferSessions {
		return 0, nil
	}
	onStep.begin(StepSessions)
	start := time.Now()
	err := store.UpdateSessions(context.Background())
	return time.Since(start), err
}

// loadSlices cuts the staged parts (so many, whose footers are schemas), in path
// order (partition by partition), into at most loadSliceCount slices of
// similar row counts, and says how many parts each takes. Each slice is
// one transaction of the load: more slices lower the disk's peak (a
// slice's parts and its rows in the store coexist until it commits, the
// other slices are one or the other), but a slice must give each of
// DuckDB's threads enough rows (minSliceRowsPerThread), or DuckDB inserts
// it on one (slices of 150k rows made the bench corpus's load twice as
// long), and each slice ends its threads' last row groups part-full. Parts whose
// footers could not be read are loaded in one slice.
func loadSlices(parts int, schemas partSchemas, threads int) []int {
	if schemas.footers == nil {
		if parts == 0 {
			return nil
		}
		return []int{parts}
	}
	rows := make([]int64, len(schemas.footers))
	var total int64
	for i, f := range schemas.footers {
		rows[i] = f.rows
		total += f.rows
	}
	return cutSlices(rows, max(total/loadSliceCount, minSliceRowsPerThread*int64(threads)))
}

// cutSlices cuts parts of the given row counts, in order, into slices of
// at least target rows, and says how many parts each takes. The last slice
// takes what is left when that is less than half a slice, rather than
// loading it on fewer threads.
func cutSlices(rows []int64, target int64) []int {
	var total int64
	for _, r := range rows {
		total += r
	}
	var cuts []int
	var n, taken int64
	parts := 0
	for _, r := range rows {
		parts++
		n += r
		if n >= target && total-taken-n >= target/2 && total-taken-n > 0 {
			cuts, taken, n, parts = append(cuts, parts), taken+n, 0, 0
		}
	}
	if parts > 0 {
		cuts = append(cuts, parts)
	}
	return cuts
}

// Variables, so tests can cut small stagings into slices.
var (
	loadSliceCount int64 = 8
	// Two of DuckDB's default row groups (122,880 rows), where the
	// threshold was measured. The store's row groups are half that
	// (query.Open): slices of half as many rows lowered the bench
	// ingest's peak disk from 1.4x to 1.2x its store, but their part-full
	// row groups made the store 1.5% larger, as large as the gzipped
	// evidence.
	minSliceRowsPerThread int64 = 245_760
)

// releaseMemory returns the Go heap's garbage to the OS, before DuckDB
// takes its share of memory. Two collections: the first moves what
// sync.Pools hold (decompressors, encoders, parsers: 124 MB after the
// decoding of the bench corpus) to their victim caches, the second frees
// it (peak RSS of ingest --db 813 -> 683 MiB).
func releaseMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// DeferSessions leaves a store's sessions pending after a load (the next
// load builds them; a read-only open reads lineage from the events
// meanwhile): set from TRAILSIFT_DEFER_SESSIONS, for measuring what the
// build adds to an ingest.
var DeferSessions bool

// A streamed load (stream.go, built with the duckdb_arrow tag) commits
// once it has sent StreamCommitEvents events and StreamCommitInterval has
// passed since its last commit: a kill loses a few minutes of reading at
// most. Each commit ends DuckDB's inserting
// threads' row groups part-full, so the store grows (1 to 3 MB a commit:
// the 10M-event bench store was 2,559.8 MB in one commit, 2,563.8 MB with
// a commit a minute), and lets the decoders wait while it writes: every
// 100k events, the bench corpus's load was 30% slower. Variables: tests
// commit every few events.
var (
	StreamCommitEvents   = 2_000_000
	StreamCommitInterval = 3 * time.Minute
)

// StoreRun is what IngestStore did.
type StoreRun struct {
	ingest.Stats
	Ran      bool  // the inputs were read (false: an error stopped the run before)
	Streamed bool  // the events went into the store as they were read, with no staging (see streamStore)
	Commits  int   // transactions a streamed load committed (see StreamCommitEvents)
	Inserted int64 // events the store did not hold before
	Rejected int64 // staged events the store finds invalid JSON: in ingest_errors, their file failed
	// How long each step took: reading the inputs into the staging,
	// loading it into the store, and rebuilding the sessions (lineage).
	Read, Store, Lineage time.Duration
}

// IngestStore reads inputs into store the way `trailsift ingest --db`
// does. Into a store that holds no events yet the events stream as they
// are decoded (streamStore). Otherwise they are staged as a Parquet dataset
// beside the database (StagingDir; a temporary folder for an in-memory
// store), then loaded (LoadStore). opts.Manifest is set here, from the
// store and the staging. onStep is told as the load begins (for a streamed
// one: its last commit), and the sessions' build.
//
// What was staged is loaded even after ctx is cancelled: it is finished
// work, in transactions whose staged parts go only once they commit, so a
// second interrupt (which exits at once) leaves what was not stored staged
// for the next run. A run cancelled at any point returns
// ingest.ErrInterrupted, so that nothing goes on after it.
func IngestStore(ctx context.Context, store *query.Store, inputs []string, opts ingest.Options, onStep OnStep) (StoreRun, error) {
	if run, streamed, err := streamStore(ctx, store, inputs, opts, onStep); streamed || err != nil {
		return run, err
	}
	var run StoreRun
	staging := StagingDir(store.Path)
	if store.Path != "" {
		// A streamed load killed after a commit leaves its manifest's
		// folder: the rows it held are stored or read again now.
		if err := os.RemoveAll(manifestFolder(store.Path)); err != nil {
			return run, err
		}
	}
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
	opts.Manifest = Manifests{stored, staged}
	var runErr error
	start := time.Now()
	run.Stats, runErr = ingest.Run(ctx, inputs, w, opts)
	if _, refused := errors.AsType[*ingest.InputError](runErr); refused {
		return run, runErr
	}
	run.Ran = true
	if err := w.Close(); err != nil {
		return run, err
	}
	run.Read = time.Since(start)
	// The staging buffers are garbage now: hand them back to the OS before
	// DuckDB takes its share, so the peak is one or the other, not both.
	releaseMemory()
	onStep.begin(StepStore)
	// Not ctx, which an interrupt cancels: see above.
	var times loadTimes
	run.Inserted, run.Rejected, err = loadStore(context.Background(), store, staging, &times, onStep)
	run.Store, run.Lineage = times.store, times.lineage
	if err != nil {
		return run, fmt.Errorf("load %s into %s: %w (run the same command again to finish)", staging, store.Path, err)
	}
	// Records the store refused are in ingest_errors; they make the run partial.
	run.Errors += run.Rejected
	return run, run.ended(ctx, store, runErr)
}

// ended counts what the end of a load adds to the run, and returns the
// run's error: a sessions build that failed is a warning (the events are
// stored, their lineage is not: in ingest_errors), and a run cancelled
// after its files were read stored them but was asked to stop.
func (run *StoreRun) ended(ctx context.Context, store *query.Store, runErr error) error {
	if store.SessionsSkipped != nil {
		run.Warnings++
	}
	if runErr == nil && ctx.Err() != nil {
		return ingest.ErrInterrupted
	}
	return runErr
}
