package ingest

// bufferShelf keeps the buffers that files were read whole into, once their
// events are decoded, for the files read after them. Into a fresh buffer
// every file's read faulted in and zeroed new pages: reading the bench
// corpus's 6,915 files (48 KB each) took 0.45-0.5 s of system time so,
// 0.14-0.17 s into buffers used again. A file under minShelvedBuffer gets a
// buffer of its own size, as before: Go's allocator recycles those without
// new pages, and a bucket's files of a kilobyte or two would each hold a
// shelf's buffer while they wait for a worker.
type bufferShelf struct {
	free chan []byte
}

const (
	// shelvedBuffers is how many idle buffers the shelf keeps: enough for
	// the workers' files and the walker's next, few enough that the
	// shelf holds at most shelvedBuffers*maxShelvedBuffer bytes.
	shelvedBuffers = 16
	// maxShelvedBuffer is the largest buffer kept. CloudTrail's log files
	// are kilobytes, a busy account's a few megabytes; a larger input is
	// read into a buffer of its own, which the garbage collector takes
	// back.
	maxShelvedBuffer = 2 << 20
	// minShelvedBuffer is the least size read into a shelf's buffer (Go
	// allocates larger objects from fresh pages); the buffers are sized
	// in powers of two from it, so one fits most files after it.
	minShelvedBuffer = 32 << 10
)

func newBufferShelf() *bufferShelf {
	return &bufferShelf{free: make(chan []byte, shelvedBuffers)}
}

// get returns an empty buffer of at least n bytes' capacity: a kept one
// when one is large enough, else a new one (its content is not zeroed
// for the caller: it writes before it reads).
func (s *bufferShelf) get(n int) []byte {
	if s == nil || n < minShelvedBuffer || n > maxShelvedBuffer {
		return make([]byte, 0, n)
	}
	for range shelvedBuffers {
		select {
		case b := <-s.free:
			if cap(b) >= n {
				return b[:0]
			}
			// Too small for this file: let it go, and make one that
			// fits this file and the files like it.
		default:
			return make([]byte, 0, shelfSize(n))
		}
	}
	return make([]byte, 0, shelfSize(n))
}

// put keeps b for a later get, unless the shelf is full or b too large.
// The caller must not use b again.
func (s *bufferShelf) put(b []byte) {
	if s == nil || cap(b) < minShelvedBuffer || cap(b) > maxShelvedBuffer {
		return
	}
	select {
	case s.free <- b:
	default:
	}
}

// shelfSize is n rounded up to a power of two, at least minShelvedBuffer.
func shelfSize(n int) int {
	size := minShelvedBuffer
	for size < n {
		size *= 2
	}
	return size
}
