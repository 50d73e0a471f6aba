package query

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/trailsift/trailsift/ingest"
)

// sweepOnce sweeps the temporary directory the first time this process
// makes a spill folder of its own.
var sweepOnce sync.Once

// sweepStaleSpills removes the spill folders (ingest.SpillFolderPrefix) of
// trailsift processes that are gone: one killed (kill -9, a second Ctrl-C)
// cannot remove its own, and a large query's spill is gigabytes. A folder
// of a live process, or of a process this system cannot check, is kept;
// so is anything that is not a folder.
func sweepStaleSpills() {
	tmp := os.TempDir()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := ingest.SpillFolderPID(e.Name())
		if !ok || !e.IsDir() || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(filepath.Join(tmp, e.Name()))
	}
}
