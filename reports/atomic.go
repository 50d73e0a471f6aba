package reports

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteAtomically writes to a temporary file beside path, syncs it and
// renames it over path only when everything was written, so a reader never
// sees half a file and a failed write leaves path as it was.
func WriteAtomically(path string, write func(tmp string) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	if err := tmp.Close(); err != nil {
		return err
	}
	_ = os.Remove(name)                    // DuckDB's COPY wants to create the file itself
	defer func() { _ = os.Remove(name) }() // gone after the rename; left over on failure
	if err := write(name); err != nil {
		return err
	}
	if err := syncFile(name); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	// Best effort: the rename survives a crash where folders can be synced.
	_ = syncFile(dir)
	return nil
}

// syncFile flushes a file's (or a folder's) contents to the disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteFileAtomically writes data to path as WriteAtomically does.
func WriteFileAtomically(path string, data []byte) error {
	return WriteAtomically(path, func(tmp string) error { return os.WriteFile(tmp, data, 0o644) })
}
