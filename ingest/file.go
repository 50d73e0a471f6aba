package ingest

import (
	"crypto/sha256"
	"encoding/binary"
)

// File statuses in the evidence manifest.
const (
	StatusLoaded    = "loaded"
	StatusSkipped   = "skipped"
	StatusFailed    = "failed"
	StatusDuplicate = "duplicate"
)

// File is one input's entry in the evidence manifest. Archives get an entry
// of their own and one per member ("archive.zip!member").
type File struct {
	ID            int64
	Path          string
	Size          int64
	SHA256        string
	ContentSHA256 string
	Shape         string
	Events        int64
	Status        string
	Reason        string
	Errors        []Error
	Warnings      int64 // warnings seen, including those past the stored cap
	ErrorCount    int64 // errors seen, including those past the stored cap
}

// Error is one problem found in an input, stored in ingest_errors.
type Error struct {
	FileID      int64
	Path        string
	RecordIndex int64 // -1 when not known
	ByteOffset  int64 // in the decompressed content; -1 when not known
	Severity    string
	Message     string
}

// Error severities.
const (
	SeverityError   = "error"   // input lost
	SeverityWarning = "warning" // input kept; a field could not be read
)

// maxStoredErrors caps the errors kept per file; the rest are counted.
const maxStoredErrors = 100

// FileID identifies one input: its path together with its content. The
// same bytes at the same path get the same id in every run (an interrupted
// run resumed later gives identical rows); a path read again with other
// content, or two different stdin inputs, get different ids. contentSHA256 is
// "" for an input that could not be read.
func FileID(path, contentSHA256 string) int64 {
	// SHA-256, not a fast hash: paths inside archives are chosen by whoever
	// made the archive, and a crafted pair must not share an id.
	h := sha256.New()
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write([]byte(contentSHA256))
	return int64(binary.BigEndian.Uint64(h.Sum(nil)) >> 1)
}

// AddError records a problem with the file, for a sink that finds one as it
// stores the file's events; errors past the cap are counted, not stored.
func (f *File) AddError(index, offset int64, severity, msg string) {
	f.addError(index, offset, severity, msg)
}

func (f *File) addError(index, offset int64, severity, msg string) {
	if severity == SeverityWarning {
		f.Warnings++
	} else {
		f.ErrorCount++
	}
	if len(f.Errors) < maxStoredErrors {
		f.Errors = append(f.Errors, Error{FileID: f.ID, Path: f.Path, RecordIndex: index, ByteOffset: offset, Severity: severity, Message: msg})
	} else if len(f.Errors) == maxStoredErrors {
		f.Errors = append(f.Errors, Error{FileID: f.ID, Path: f.Path, RecordIndex: -1, ByteOffset: -1, Severity: severity, Message: "more problems in this file; only the first ones are stored"})
	}
}
