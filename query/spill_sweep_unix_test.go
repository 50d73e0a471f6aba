//go:build unix

package query

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The spill folders of processes that are gone are removed; this
// process's, a live process's and anything else are kept.
func TestSweepStaleSpills(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	// This test binary again, running no test: a process that is gone.
	gone := exec.Command(os.Args[0], "-test.run=^$")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name string) string {
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "duckdb_temp_block"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	stale := mk(fmt.Sprintf("trailsift-duckdb-%d-3", gone.Process.Pid))
	keep := []string{
		mk(fmt.Sprintf("trailsift-duckdb-%d-1", os.Getpid())),
		mk(fmt.Sprintf("trailsift-duckdb-%d-1", os.Getppid())),
		mk(fmt.Sprintf("trailsift-other-%d-1", gone.Process.Pid)),
	}
	sweepStaleSpills()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s: the spill folder of a process that is gone is still there (%v)", stale, err)
	}
	for _, dir := range keep {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
}
