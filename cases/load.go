package cases

import (
	"context"
	"errors"
	"io"
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
	// Step, when set, is called as each step after the reading begins
	// (lake.Step: storing the events into a store, merging a dataset's
	// parts, building the sessions), after AfterRead; target is the store's
	// path or the dataset's folder.
	Step func(ctx context.Context, s lake.Step, target string)
}

// steps tells a load's caller where it is once the reading ends:
// AfterRead once, then Step as each step begins.
type steps struct {
	ctx    context.Context
	opts   LoadOptions
	target string
	read   bool // AfterRead was called
}

// readDone calls AfterRead, the first time only.
func (s *steps) readDone() {
	if !s.read && s.opts.AfterRead != nil {
		s.opts.AfterRead()
	}
	s.read = true
}

// begin is lake.OnStep: the reading is done, and step begins.
func (s *steps) begin(step lake.Step) {
	s.readDone()
	if s.opts.Step != nil {
		s.opts.Step(s.ctx, step, s.target)
	}
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
	Phases          Phases   `json:"phase_seconds"`
	FailedFiles     []string `json:"failed_files,omitempty"`
	Interrupted     bool     `json:"interrupted,omitempty"`
	// RunWarnings are the warnings about the run itself, not about an
	// input file (the merge of a dataset's parts failed, the sessions were
	// not built): counted in Warnings.
	RunWarnings []string `json:"run_warnings,omitempty"`
	// Problems are the first of the run's ingest_errors, errors first.
	Problems []reports.Problem `json:"-"`
	started  time.Time
}

// Phases says where a load's time went, in seconds: reading the inputs
// (decoding, and writing the dataset or the store's staging), storing the
// staged events in the store (--db only), merging each partition's parts
// (--parquet only), and building the sessions table, the credential
// lineage. They add up to Seconds but for the
// opening and closing around them.
type Phases struct {
	Read    float64 `json:"read"`
	Store   float64 `json:"store"`
	Compact float64 `json:"compact,omitempty"` // --parquet only: merging each partition's parts
	Lineage float64 `json:"lineage"`
}

// Partial is true when some input failed to load, whole or in part.
func (l *Loaded) Partial() bool { return l.FilesFailed > 0 || l.Errors > 0 }

// Load loads inputs into a DuckDB store, through lake.IngestStore (the
// path every store is built by, tests' too). A nil Loaded means nothing ran
// (an input path is wrong, or the store cannot be read); otherwise the
// error is the run's (interrupted, or the store failed) and Loaded says how
// far it got.
func Load(ctx context.Context, store *query.Store, inputs []string, opts LoadOptions) (*Loaded, error) {
	start := time.Now()
	st := &steps{ctx: ctx, opts: opts, target: store.Path}
	r, runErr := lake.IngestStore(ctx, store, inputs, opts.ingestOptions(), st.begin)
	st.readDone() // when no step began
	if !r.Ran {
		return nil, runErr
	}
	sum := loadedOf(r.Stats, store.Path, r.Inserted, r.Events-r.Inserted, start, runErr)
	sum.Phases = Phases{Read: r.Read.Seconds(), Store: r.Store.Seconds(), Lineage: r.Lineage.Seconds()}
	sum.readProblems(ctx, store)
	if store.SessionsSkipped != nil {
		// Counted in the run's warnings already, and in ingest_errors.
		sum.listRunWarning(lake.EndWarning{Step: "sessions", Message: store.SessionsSkipped.Error()})
	}
	return sum, runErr
}

// LoadDataset loads inputs into the Parquet dataset in dir, as Load does
// into a store.
func LoadDataset(ctx context.Context, dir string, inputs []string, opts LoadOptions) (sum *Loaded, err error) {
	w, err := lake.NewWriter(ctx, dir)
	if err != nil {
		return nil, err
	}
	m, err := w.Manifest()
	if err != nil {
		return nil, errors.Join(err, w.Close())
	}
	sum, err = run(ctx, w, m, dir, inputs, opts)
	if sum == nil {
		return nil, errors.Join(err, w.Close())
	}
	// The parts merged (only after a whole read) and the sessions stored.
	st := &steps{ctx: ctx, opts: opts, target: dir, read: true} // run called AfterRead
	end, closeErr := lake.EndRun(ctx, w, err == nil, st.begin)
	err = errors.Join(err, closeErr)
	if end.Interrupted && !errors.Is(err, ingest.ErrInterrupted) {
		err = errors.Join(err, ingest.ErrInterrupted) // as export does
	}
	sum.Interrupted = sum.Interrupted || end.Interrupted
	sum.Phases.Compact, sum.Phases.Lineage = end.Merge.Seconds(), end.Sessions.Seconds()
	sum.Seconds = time.Since(sum.started).Seconds()
	// Reopen the dataset to read the problems this run recorded, if any
	// (an open reads every part's footer).
	if sum.hasProblems() {
		if s, openErr := lake.Open(ctx, dir); openErr == nil {
			sum.readProblems(ctx, s)
			s.Close()
		}
	}
	sum.runWarnings(end.Warnings)
	return sum, err
}

// runWarnings adds warnings about the run itself (a merge that failed, the
// sessions not stored) to its count and its problems: they are in no
// ingest_errors row, so --json lists them (run_warnings).
func (l *Loaded) runWarnings(ws []lake.EndWarning) {
	for _, w := range ws {
		l.Warnings++
		l.listRunWarning(w)
	}
}

// listRunWarning lists a warning about the run in its problems and in
// RunWarnings.
func (l *Loaded) listRunWarning(w lake.EndWarning) {
	l.Problems = append(l.Problems, reports.Problem{Path: "(" + w.Step + ")", Severity: "warning", Message: w.Message})
	l.RunWarnings = append(l.RunWarnings, w.Message)
}

// hasProblems says the run recorded errors or warnings.
func (l *Loaded) hasProblems() bool { return l.Errors > 0 || l.Warnings > 0 }

// readProblems reads the first problems of this run, when there are any.
// They only illustrate the counts, so a failure to read them is not the
// run's.
func (l *Loaded) readProblems(ctx context.Context, store *query.Store) {
	if !l.hasProblems() {
		return
	}
	// ingested_at is stored in microseconds.
	l.Problems, _ = reports.Problems(context.WithoutCancel(ctx), store.DB, l.started.Truncate(time.Second), maxProblems)
}

// ingestOptions are the options of ingest.Run; the manifest is the
// caller's.
func (o LoadOptions) ingestOptions() ingest.Options {
	return ingest.Options{Workers: o.Workers, MaxRecordSize: o.MaxRecordSize, Stdin: o.Stdin, Progress: o.Progress}
}

// run reads inputs into a Parquet dataset.
func run(ctx context.Context, w *lake.Writer, m ingest.Manifest, name string, inputs []string, opts LoadOptions) (*Loaded, error) {
	start := time.Now()
	iopts := opts.ingestOptions()
	iopts.Manifest = m
	st, runErr := ingest.Run(ctx, inputs, w, iopts)
	read := time.Since(start)
	if opts.AfterRead != nil {
		opts.AfterRead()
	}
	var ie *ingest.InputError
	if errors.As(runErr, &ie) {
		return nil, runErr
	}
	sum := loadedOf(st, name, w.Inserted(), w.Duplicates(), start, runErr)
	sum.Phases.Read = read.Seconds()
	return sum, runErr
}

// loadedOf is the summary of a run.
func loadedOf(st ingest.Stats, name string, inserted, duplicates int64, start time.Time, runErr error) *Loaded {
	return &Loaded{
		Database: name, FilesLoaded: st.FilesLoaded, FilesSkipped: st.FilesSkipped, FilesFailed: st.FilesFailed,
		FilesDuplicate: st.FilesDuplicate, FilesUnchanged: st.FilesUnchanged, EventsRead: st.Events,
		EventsNew: inserted, EventsDuplicate: max(0, duplicates), Errors: st.Errors, Warnings: st.Warnings,
		BytesRead: st.Bytes, Seconds: time.Since(start).Seconds(), FailedFiles: st.Failed,
		Interrupted: errors.Is(runErr, ingest.ErrInterrupted), started: start,
	}
}
