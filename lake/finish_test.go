package lake

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// EndRun merges the run's parts and stores the sessions; a cancel that
// comes once the sessions are stored (or current already) leaves nothing
// undone, so it is no interruption; one before the build is. Each step
// is announced as it begins.
func TestEndRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ds")
	var steps []Step
	end, err := EndRun(context.Background(), commitsOf(t, dir, 3), true, func(s Step) { steps = append(steps, s) })
	if err != nil || end.Interrupted || len(end.Warnings) > 0 {
		t.Fatalf("first run: %+v, %v", end, err)
	}
	if !slices.Equal(steps, []Step{StepMerge, StepSessions}) {
		t.Errorf("steps announced: %q", steps)
	}
	// cancelAtBuild cancels as the sessions' build begins.
	cancelAtBuild := func(cancel context.CancelFunc) OnStep {
		return func(s Step) {
			if s == StepSessions {
				cancel()
			}
		}
	}
	for folder, n := range partsIn(dir) {
		if n != 1 {
			t.Errorf("%s: %d parts after the merge, want 1", folder, n)
		}
	}
	sessions, _ := filepath.Glob(filepath.Join(dir, SessionsDir, "sessions-*.parquet"))
	if len(sessions) != 1 {
		t.Fatalf("sessions files: %v", sessions)
	}
	if parts, _ := filepath.Glob(EventsGlob(dir)); len(loadFooterCache(dir).Files) <= len(parts) {
		t.Errorf("the footer cache has %d files, fewer than the %d parts and the manifest's", len(loadFooterCache(dir).Files), len(parts))
	}

	// Nothing new: the sessions are current, and a cancel as the build
	// starts finds nothing left to do.
	w, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	end, err = EndRun(ctx, w, true, cancelAtBuild(cancel))
	if err != nil || end.Interrupted || len(end.Warnings) > 0 {
		t.Errorf("a cancel once nothing was left to do: %+v, %v", end, err)
	}

	// New events, and a cancel before the build: interrupted, the sessions
	// left for the next run.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	w = commitsOf(t, filepath.Join(t.TempDir(), "other"), 1)
	end, err = EndRun(ctx, w, false, cancelAtBuild(cancel))
	if err != nil || !end.Interrupted {
		t.Errorf("a cancel before the build: %+v, %v", end, err)
	}
	if _, err := os.Stat(filepath.Join(w.dir, SessionsDir)); !os.IsNotExist(err) {
		t.Errorf("sessions stored though the run was cancelled before the build: %v", err)
	}
}
