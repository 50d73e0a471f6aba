package query

import "sync"

// DuckDB's allocator (the jemalloc it links on Linux) hands a freed page
// back to the OS about a second after it is freed (its decay), and using
// that memory again costs a page fault a page. On the 2-core VMs the bench
// runs on a fault costs about 17 us (1 GB touched afresh: 4.3 s), and an
// ingest of the bench corpus made about 400,000 of them. The sessions
// build is a chain of statements, each freeing what the next allocates
// again: while it runs, the allocator keeps what it frees, and hands it
// all back once the build ends. Peak memory stays the build's own (DuckDB
// reuses what it kept); the bench ingest's build took 1.8-2.6 s instead
// of 2.3-3.4 s.

// freedMemory counts the builds that hold the allocator's freed memory:
// the first one holds it, the last one's release lets it go.
var freedMemory struct {
	sync.Mutex
	holds   int
	restore func()
}

// holdFreedMemory keeps DuckDB's allocator from handing freed memory back
// to the OS until release is called. Where the allocator cannot be told
// (another platform, or a DuckDB built without jemalloc), it does nothing.
func holdFreedMemory() (release func()) {
	freedMemory.Lock()
	defer freedMemory.Unlock()
	if freedMemory.holds == 0 {
		freedMemory.restore = keepFreedPages()
	}
	freedMemory.holds++
	var once sync.Once
	return func() {
		once.Do(func() {
			freedMemory.Lock()
			defer freedMemory.Unlock()
			if freedMemory.holds--; freedMemory.holds == 0 {
				freedMemory.restore()
			}
		})
	}
}
