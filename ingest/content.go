package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"
)

// source is the content of one input, read once: hashed while it was read,
// and then decoded from memory or from a seekable file. Nothing is opened
// twice, so a pipe, a FIFO or stdin gives all of its bytes to both the hash
// and the decoder.
type source struct {
	data    []byte   // the content, when it fits in memory
	file    *os.File // or a seekable file holding it
	spooled bool     // file is a temporary copy (see unlinkedTemp)
	size    int64
	sha     string
	shelf   *bufferShelf // where data goes back when the source is closed
}

// reader reads the content from the start, however often it is called.
func (s *source) reader() io.Reader { return s.section() }

// section gives random access, as zip needs.
func (s *source) section() *io.SectionReader {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size)
	}
	return io.NewSectionReader(bytes.NewReader(s.data), 0, s.size)
}

// head is the first bytes of the content, for sniffing.
func (s *source) head(n int) []byte {
	if s.file == nil {
		return s.data[:min(n, len(s.data))]
	}
	b := make([]byte, n)
	m, _ := s.file.ReadAt(b, 0)
	return b[:m]
}

// close releases the file, if any; a spooled copy is already unlinked, so
// its space goes with it.
func (s *source) close() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	s.shelf.put(s.data)
	s.data = nil
}

// reading are the knobs of readSource; tests make the threshold small.
type reading struct {
	inMemory int64
	progress interface{ Add(int64) int64 }
	shelf    *bufferShelf // nil: every source in a buffer of its own
}

// readSource reads rd once. seekable, when given, is the open regular file
// behind rd: a large one is hashed and then read again from it for decoding,
// instead of being copied. Any other input larger than inMemory is spooled
// to an unlinked temporary file while it is hashed. size, when not
// negative, is what the file's size was when it was opened: a buffer of
// that size is read into, rather than one grown by doubling (a bucket is
// mostly files of a few kilobytes, read by the hundred thousand).
func (c reading) readSource(rd io.Reader, seekable *os.File, size int64) (*source, error) {
	h := sha256.New()
	counted := io.TeeReader(rd, h)
	if c.progress != nil {
		counted = &countingReader{r: counted, n: c.progress}
	}
	limit := c.inMemory
	if limit <= 0 {
		limit = inMemory
	}
	capacity := int64(512) // as io.ReadAll starts
	if size >= 0 && size <= limit {
		capacity = size + 1 // the 1: room to see the end without growing
	}
	data, err := readAll(io.LimitReader(counted, limit+1), c.shelf.get(int(capacity)))
	if err != nil {
		c.shelf.put(data)
		return nil, err
	}
	if int64(len(data)) <= limit {
		return &source{data: data, size: int64(len(data)), sha: sum(h), shelf: c.shelf}, nil
	}
	defer c.shelf.put(data) // copied to the file below, or read from it
	if seekable != nil {
		n, err := io.Copy(io.Discard, counted)
		if err != nil {
			return nil, err
		}
		return &source{file: seekable, size: int64(len(data)) + n, sha: sum(h)}, nil
	}
	tmp, err := unlinkedTemp()
	if err != nil {
		return nil, fmt.Errorf("spool a large stream: %w", err)
	}
	n, err := io.Copy(tmp, io.MultiReader(bytes.NewReader(data), counted))
	if err != nil {
		tmp.Close()
		return nil, err
	}
	return &source{file: tmp, spooled: true, size: n, sha: sum(h)}, nil
}

// readAll is io.ReadAll into buf: it grows buf only when the content is
// larger than its capacity (a file that grew since its size was taken).
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func sum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// spoolPrefix starts the name of a spooled stream's temporary file.
const spoolPrefix = "trailsift-spool-"

// SpillFolderPrefix starts the name of a folder this process's in-memory
// DuckDB databases spill into, in the system's temporary folder (see
// query.Open); the lister skips them, and spooled streams, when that
// folder is inside an input (ownTempFiles).
func SpillFolderPrefix() string { return fmt.Sprintf("%s%d-", spillFolderStem, os.Getpid()) }

const spillFolderStem = "trailsift-duckdb-"

// SpillFolderPID is the process ID in the name of a spill folder (see
// SpillFolderPrefix), false for another name.
func SpillFolderPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, spillFolderStem)
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(digits)
	return pid, ok && err == nil && pid > 0
}

// unlinkedTemp makes a temporary file (in the temp folder, never beside the
// evidence) and removes its name at once: the open descriptor keeps the
// data, and a killed process leaves nothing behind.
func unlinkedTemp() (*os.File, error) {
	f, err := os.CreateTemp("", spoolPrefix+"*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, errors.Join(err, os.Remove(f.Name()))
	}
	return f, nil
}
