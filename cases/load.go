package cases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// LoadOptions tune a load.
type LoadOptions struct {
	Workers       int // decoders in parallel; 0: one per CPU
	MaxRecordSize int // largest single event in bytes
	Stdin         io.Reader
	// Progress, when set, is called as the inputs are read, and AfterRead
	// once they are.
	Progress  func(ingest.Progress)
	AfterRead func()
	// BeforeStoreLoad, when set, runs once the inputs are read and staged,
	// just before the staged events go into the store at path.
	BeforeStoreLoad func(ctx context.Context, path string)
}

// maxProblems is how many problems of a run Loaded carries; the rest are
// in ingest_errors.
const maxProblems = 10

// Loaded is what a load did: what trailsift ingest and analyze print, as
// text or JSON.
type Loaded struct {
	Database        string   `json:"database"`
	FilesLoaded     int64    `json:"files_loaded"`
	FilesSkipped    int64    `json:"files_skipped"`
	FilesFailed     int64    `json:"files_failed"`
	FilesDuplicate  int64    `json:"files_duplicate"`
	FilesUnchanged  int64    `json:"files_unchanged"`
	EventsRead      int64    `json:"events_read"`
	EventsNew       int64    `json:"events_new"`
	EventsDuplicate int64    `json:"events_duplicate"`
	Errors          int64    `json:"errors"`
	Warnings        int64    `json:"warnings"`
	BytesRead       int64    `json:"bytes_read"`
	Seconds         float64  `json:"seconds"`
	FailedFiles     []string `json:"failed_files,omitempty"`
	Interrupted     bool     `json:"interrupted,omitempty"`
	// Problems are the first of the run's ingest_errors, errors first.
	Problems []reports.Problem `json:"-"`
	started  time.Time
}

// Partial is true when some input failed to load, whole or in part.
func (l *Loaded) Partial() bool { return l.FilesFailed > 0 || l.Errors > 0 }

// Load loads inputs into a DuckDB store. A nil Loaded means nothing ran (an
// input path is wrong, or the store cannot be read); otherwise the error is
// the run's (interrupted, or the store failed) and Loaded says how far it
// got.
func Load(ctx context.Context, store *query.Store, inputs []string, opts LoadOptions) (*Loaded, error) {
	start := time.Now()
	stored, err := store.Manifest(ctx)
	if err != nil {
		return nil, err
	}
	// Events are staged as Parquet beside the database, then loaded in one
	// transaction (see lake.StagingDir for why).
	staging := lake.StagingDir(store.Path)
	w, err := lake.NewStagingWriter(ctx, staging)
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Close() }() // on early returns; the load below closes it and checks
	staged, err := w.Manifest()
	if err != nil {
		return nil, err
	}
	sum, runErr := run(ctx, w, lake.Manifests{stored, staged}, store.Path, inputs, opts)
	if sum == nil {
		return nil, runErr
	}
	sum.started = start
	if err := w.Close(); err != nil {
		return sum, err
	}
	// The staging buffers are garbage now: hand them back to the OS before
	// DuckDB takes its share, so the peak is one or the other, not both.
	debug.FreeOSMemory()
	if opts.BeforeStoreLoad != nil {
		opts.BeforeStoreLoad(ctx, store.Path)
	}
	// Load what is staged even after Ctrl-C: it is committed work, and one
	// transaction, so a second Ctrl-C (which exits at once) leaves the
	// store as it was and the staging for the next run. Not the run's
	// context, which is cancelled then.
	n, rejected, err := lake.LoadStore(context.Background(), store, staging)
	if err != nil {
		return sum, fmt.Errorf("load %s into %s: %w (run the same command again to finish)", staging, store.Path, err)
	}
	// Records the store refused are in ingest_errors; they make the run partial.
	sum.Errors += rejected
	if runErr == nil && ctx.Err() != nil {
		// Ctrl-C came after the files were read: the load finished, but
		// the user asked to stop, and analyze must not go on.
		runErr = ingest.ErrInterrupted
		sum.Interrupted = true
	}
	sum.EventsNew, sum.EventsDuplicate = n, max(0, sum.EventsRead-n)
	sum.Seconds = time.Since(start).Seconds()
	sum.readProblems(ctx, store)
	return sum, runErr
}

// LoadDataset loads inputs into the Parquet dataset in dir, as Load does
// into a store.
func LoadDataset(ctx context.Context, dir string, inputs []string, opts LoadOptions) (sum *Loaded, err error) {
	start := time.Now()
	w, err := lake.NewWriter(ctx, dir)
	if err != nil {
		return nil, err
	}
	m, err := w.Manifest()
	if err != nil {
		return nil, errors.Join(err, w.Close())
	}
	sum, err = run(ctx, w, m, dir, inputs, opts)
	if err = errors.Join(err, w.Close()); sum == nil {
		return nil, err
	}
	sum.started = start
	// Reopen the dataset to read the problems this run recorded.
	if s, openErr := lake.Open(ctx, dir); openErr == nil {
		sum.readProblems(ctx, s)
		s.Close()
	}
	return sum, err
}

// readProblems reads the first problems of this run, when there are any.
// They only illustrate the counts, so a failure to read them is not the
// run's.
func (l *Loaded) readProblems(ctx context.Context, store *query.Store) {
	if l.Errors == 0 && l.Warnings == 0 {
		return
	}
	// ingested_at is stored in microseconds.
	l.Problems, _ = reports.Problems(context.WithoutCancel(ctx), store.DB, l.started.Truncate(time.Second), maxProblems)
}

// sink is where run puts events: a DuckDB store's staging or a Parquet
// dataset.
type sink interface {
	ingest.Sink
	Inserted() int64
	Duplicates() int64
}

// run reads inputs into w.
func run(ctx context.Context, w sink, m ingest.Manifest, name string, inputs []string, opts LoadOptions) (*Loaded, error) {
	start := time.Now()
	st, runErr := ingest.Run(ctx, inputs, w, ingest.Options{
		Workers: opts.Workers, MaxRecordSize: opts.MaxRecordSize, Manifest: m, Stdin: opts.Stdin, Progress: opts.Progress,
	})
	if opts.AfterRead != nil {
		opts.AfterRead()
	}
	var ie *ingest.InputError
	if errors.As(runErr, &ie) {
		return nil, runErr
	}
	return &Loaded{
		Database: name, FilesLoaded: st.FilesLoaded, FilesSkipped: st.FilesSkipped, FilesFailed: st.FilesFailed,
		FilesDuplicate: st.FilesDuplicate, FilesUnchanged: st.FilesUnchanged, EventsRead: st.Events,
		EventsNew: w.Inserted(), EventsDuplicate: w.Duplicates(), Errors: st.Errors, Warnings: st.Warnings,
		BytesRead: st.Bytes, Seconds: time.Since(start).Seconds(), FailedFiles: st.Failed,
		Interrupted: errors.Is(runErr, ingest.ErrInterrupted),
	}, runErr
}
