package query

import "sync"

// DuckDB's allocator (the jemalloc it links on Linux) hands a freed page
// back to the OS about a second after it is freed (its decay), and using
// that memory again costs a page fault a page. On the 2-core VMs the bench
// runs on a fault costs about 17 us (1 GB touched afresh: 4.3 s, huge
// pages or not), and an ingest of the bench corpus makes about 400,000 of
// them. The sessions build runs right after the load has freed much of
// DuckDB's memory, and is a chain of statements, each freeing what the
// next allocates again: while it runs, the allocator keeps what it frees,
// and hands it all back once the build ends. Peak memory stays the load's
// (DuckDB reuses what it kept); the bench ingest's build took 1.9-2.7 s
// instead of 3.0-3.6 s (three interleaved pairs). Kept for the whole load,
// the ingest was faster still, but peaked 300 MB higher.

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
