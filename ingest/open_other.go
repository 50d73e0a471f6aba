//go:build !unix

package ingest

import "os"

// openInput opens a file the walker reads, and returns its size when it
// is a regular file (-1 otherwise); see open_unix.go.
func openInput(path string) (*os.File, int64, error) { return openAny(path) }
