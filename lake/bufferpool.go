//go:build duckdb_arrow

package lake

import (
	"math/bits"
	"sync"
)

// bufferPool is an Arrow allocator (memory.Allocator) that hands out the
// buffers of record batches DuckDB has released again. A streamed load
// builds a record batch of about 15 MB every few milliseconds, on the
// one goroutine that every event passes through: allocated fresh, each
// buffer was zeroed by Go, faulted into memory page by page and collected
// again, about a third of that goroutine's time. Buffers come in powers of
// two, so one freed serves any request of its class; the pool keeps at
// most maxBytes of them, dropping those of the class used longest ago to
// keep what is freed (what it drops is left to the collector).
//
// Buffers handed out again are not cleared: Arrow's builders clear the
// validity bitmaps they grow and write every value they append; what lies
// under a NULL is not read.
type bufferPool struct {
	mu       sync.Mutex
	free     [poolClasses][][]byte // by class: buffers of 1<<class bytes
	bytes    int                   // held in free
	maxBytes int
	used     [poolClasses]int // by class: the clock when last handed out or given back
	clock    int
}

const (
	minPoolClass = 6  // 64 bytes: Arrow's alignment
	poolClasses  = 31 // up to 1 GiB; larger requests are not pooled
)

func newBufferPool(maxBytes int) *bufferPool { return &bufferPool{maxBytes: maxBytes} }

// poolClass is the smallest class whose buffers hold size bytes.
func poolClass(size int) int {
	if size <= 1<<minPoolClass {
		return minPoolClass
	}
	return bits.Len(uint(size - 1))
}

func (p *bufferPool) Allocate(size int) []byte {
	c := poolClass(size)
	if c >= poolClasses {
		return make([]byte, size)
	}
	p.mu.Lock()
	if n := len(p.free[c]); n > 0 {
		b := p.free[c][n-1]
		p.free[c][n-1] = nil
		p.free[c] = p.free[c][:n-1]
		p.bytes -= cap(b)
		p.clock++
		p.used[c] = p.clock
		p.mu.Unlock()
		return b[:size]
	}
	p.mu.Unlock()
	return make([]byte, size, 1<<c)
}

func (p *bufferPool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free takes back a buffer this pool gave; DuckDB's threads free record
// batches through the Arrow stream's release callbacks.
func (p *bufferPool) Free(b []byte) {
	c := cap(b)
	class := poolClass(c)
	if c < 1<<minPoolClass || c != 1<<class || class >= poolClasses || c > p.maxBytes {
		return // not one of ours, or larger than the pool: the collector takes it
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Room is made by dropping buffers of the class used longest ago: a
	// pool full of a class no longer asked for would take no other.
	p.clock++
	p.used[class] = p.clock
	for p.bytes+c > p.maxBytes {
		stale := -1
		for k := minPoolClass; k < poolClasses; k++ {
			if k != class && len(p.free[k]) > 0 && (stale < 0 || p.used[k] < p.used[stale]) {
				stale = k
			}
		}
		if stale < 0 {
			break
		}
		n := len(p.free[stale]) - 1
		p.bytes -= cap(p.free[stale][n])
		p.free[stale][n] = nil
		p.free[stale] = p.free[stale][:n]
	}
	if p.bytes+c > p.maxBytes {
		return
	}
	p.free[class] = append(p.free[class], b[:0])
	p.bytes += c
}
