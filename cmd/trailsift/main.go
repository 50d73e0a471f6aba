// Command trailsift analyses exported AWS CloudTrail archives offline.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/trailsift/trailsift/lake"
)

func main() {
	// A soft cap on the Go heap keeps a large ingest's memory flat: the GC
	// works harder near it instead of letting the heap double. DuckDB's own
	// memory is capped separately (query.Open). GOMEMLIMIT overrides it.
	// 640 MiB costs little time against no cap and keeps the peak far lower;
	// less left the GC too little room (samples/bench.sh measures it).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(640 << 20)
	}
	// A measuring knob, like the profile: samples/bench.sh times ingest
	// with and without the sessions build this way.
	lake.DeferSessions = os.Getenv("TRAILSIFT_DEFER_SESSIONS") != ""
	stop := startCPUProfile(os.Getenv("TRAILSIFT_CPUPROFILE"))
	code := Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// startCPUProfile writes a CPU profile to path (for `go tool pprof`) when
// it is set: how the ingest benchmark's figures are explained.
func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trailsift: TRAILSIFT_CPUPROFILE:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
