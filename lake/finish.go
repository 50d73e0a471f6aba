package lake

import (
	"context"
	"time"
)

// RunEnd is what the end of a run into a dataset did (EndRun).
type RunEnd struct {
	// Merge is the merge's time, and the typed file's of older parts
	// (backfillTyped); Sessions the sessions build's.
	Merge, Sessions time.Duration
	// Warnings are the steps that failed without losing an event.
	Warnings []EndWarning
	// Interrupted: ctx was cancelled before the end was done. Every event
	// is stored; the next run builds the sessions (a merge left undone
	// stays so: a run merges only its own parts).
	Interrupted bool
}

// EndWarning is a step of the end of a run that failed, and what that
// leaves: a problem of the run, not of an input.
type EndWarning struct {
	Step    string // "merging parts", "typed files", "sessions" or "footer cache"
	Message string
}

// EndRun ends a run that wrote into the dataset through w, whose events
// are all stored by then: it merges the parts the run wrote when merge is
// set (Compact: fewer, larger files for every later read), writes a typed
// file of the parts no typed file covers (backfillTyped), closes w, then
// stores the dataset's sessions (WriteSessions), telling onStep as each
// begins (where the caller can also let go of memory the build will
// want), and last the footer cache (WriteFooterCache). The writer's
// buffers are garbage by the build: they go back to the OS before DuckDB
// takes its share, as a store's load does, so the peak is one or the
// other, not both (1.25M events: 1.16 GiB). The events are stored either
// way, so a merge, a typed file, a build or a cache that fails (a full
// disk) is a warning; a cancelled ctx stops what is left and sets
// Interrupted. The error is w.Close's. ingest --parquet and export both
// end this way.
func EndRun(ctx context.Context, w *Writer, merge bool, onStep OnStep) (RunEnd, error) {
	var end RunEnd
	if merge {
		onStep.begin(StepMerge)
		start := time.Now()
		_, err := w.Compact(ctx)
		end.Merge = time.Since(start)
		if err != nil && ctx.Err() == nil {
			end.Warnings = append(end.Warnings, EndWarning{"merging parts",
				err.Error() + "; every event is stored, in more files than needed (they stay so: a later run merges only the parts it writes)"})
		}
	}
	if ctx.Err() == nil {
		start := time.Now()
		err := w.backfillTyped(ctx)
		end.Merge += time.Since(start)
		if err != nil && ctx.Err() == nil {
			end.Warnings = append(end.Warnings, EndWarning{"typed files",
				err.Error() + "; every event is stored: commands read every part, as before typed files"})
		}
	}
	closeErr := w.Close()
	if ctx.Err() != nil {
		end.Interrupted = true
		return end, closeErr
	}
	onStep.begin(StepSessions)
	releaseMemory()
	start := time.Now()
	err := WriteSessions(ctx, w.dir)
	end.Sessions = time.Since(start)
	switch {
	case err == nil:
		// Stored (or current already), even if ctx was cancelled meanwhile.
	case ctx.Err() != nil:
		end.Interrupted = true
	default:
		// lake.Open builds the sessions itself when they are missing: a
		// build that fails costs every later read the time of one.
		end.Warnings = append(end.Warnings, EndWarning{"sessions",
			err.Error() + "; every event is stored: each command reading the dataset builds the sessions until an ingest stores them"})
	}
	if end.Interrupted {
		return end, closeErr
	}
	if err := WriteFooterCache(w.dir); err != nil {
		end.Warnings = append(end.Warnings, EndWarning{"footer cache",
			err.Error() + "; every event is stored: each command reading the dataset reads every file's footer until an ingest stores the cache"})
	}
	return end, closeErr
}
