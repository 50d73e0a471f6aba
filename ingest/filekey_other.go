//go:build !unix

package ingest

import "os"

type fileKey struct{ name string }

// keyOf has no inode here; the absolute name stands in, which still stops
// plain loops through links to parent folders.
func keyOf(fi os.FileInfo) (fileKey, bool) { return fileKey{}, false }
