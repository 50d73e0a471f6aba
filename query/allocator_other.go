//go:build !linux || !cgo

package query

// keepFreedPages does nothing: DuckDB links jemalloc on Linux only.
func keepFreedPages() (restore func()) { return func() {} }

// jemallocDecay says DuckDB links no jemalloc here.
func jemallocDecay(string) (ms int64, linked bool) { return 0, false }
