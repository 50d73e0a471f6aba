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
	"sync"
	"sync/atomic"
)

// Sink stores what ingest produces. One goroutine calls it, in order: all of
// a file's events reach WriteEvents before that file reaches FileDone, so a
// sink that commits a file's manifest row with or after its events never
// claims a file it has not stored.
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
}

// Progress is a snapshot of a running ingest.
type Progress struct {
	Files      int64 // input files finished (members of archives count)
	Events     int64
	Bytes      int64 // input bytes read, as stored
	TotalBytes int64 // input bytes to read, as stored
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
	tops, total, err := expandInputs(inputs)
	if err != nil {
		return Stats{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{
		ctx:   ctx,
		opts:  opts,
		out:   make(chan message, 4*opts.Workers),
		units: make(chan *unit, opts.Workers),
		seen:  map[string]string{},
	}
	r.total.Store(total)

	// Walk: one goroutine lists inputs and opens archives.
	var walkErr error
	go func() {
		defer close(r.units)
		walkErr = r.walk(tops)
	}()
	// Decode: workers in parallel.
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := &normalizer{}
			for u := range r.units {
				r.processUnit(n, u)
				if u.done != nil {
					close(u.done)
				}
			}
		}()
	}
	go func() { wg.Wait(); close(r.out) }()

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
			prog.Bytes, prog.TotalBytes = r.read.Load(), r.total.Load()
			opts.Progress(prog)
		}
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
	ctx   context.Context
	opts  Options
	out   chan message
	units chan *unit

	read      atomic.Int64 // input bytes read (as stored)
	total     atomic.Int64
	unchanged atomic.Int64

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

// topInput is one file to read: a path, or stdin.
type topInput struct {
	path string // absolute path, or "-"
	size int64
}

// expandInputs resolves the command-line inputs to files, walking
// directories (following symbolic links, surviving loops). A path that does
// not exist is a usage error, reported before anything is read.
func expandInputs(inputs []string) ([]topInput, int64, error) {
	var out []topInput
	var total int64
	for _, in := range inputs {
		if in == "-" {
			out = append(out, topInput{path: "-"})
			continue
		}
		abs, err := filepath.Abs(in)
		if err != nil {
			return nil, 0, &InputError{Path: in, Err: err}
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, 0, &InputError{Path: in, Err: err}
		}
		if !fi.IsDir() {
			out = append(out, topInput{path: abs, size: fi.Size()})
			total += fi.Size()
			continue
		}
		visited := map[fileKey]bool{}
		if err := walkDir(abs, visited, func(p string, size int64) {
			out = append(out, topInput{path: p, size: size})
			total += size
		}); err != nil {
			return nil, 0, &InputError{Path: in, Err: err}
		}
	}
	return out, total, nil
}

// InputError is an input path that cannot be used at all.
type InputError struct {
	Path string
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("input %s: %v", e.Path, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

func walkDir(dir string, visited map[fileKey]bool, add func(string, int64)) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if k, ok := keyOf(fi); ok {
		if visited[k] {
			return nil // a symbolic link loop, or the same folder twice
		}
		visited[k] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p) // follows links
		if err != nil {
			continue // a dangling link
		}
		switch {
		case fi.IsDir():
			if err := walkDir(p, visited, add); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			add(p, fi.Size())
		}
	}
	return nil
}
