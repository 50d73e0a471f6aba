// Command trailsift analyses exported AWS CloudTrail archives offline.
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	// A soft cap on the Go heap keeps a large ingest's memory flat: the GC
	// works harder near it instead of letting the heap double. DuckDB's own
	// memory is capped separately (query.Open). GOMEMLIMIT overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(512 << 20)
	}
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
