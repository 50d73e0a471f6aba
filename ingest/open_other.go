//go:build !unix

package ingest

import "os"

// openInput opens a file the walker reads, and returns its size when it
// is a regular file (-1 otherwise); see open_unix.go.
func openInput(path string) (*os.File, int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, -1, err
	}
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() {
		return fh, fi.Size(), nil
	}
	return fh, -1, nil
}
