//go:build !unix

package main

import "time"

// cpuTime is not measured here: the benchmark runs on unix.
func cpuTime() time.Duration { return 0 }
