//go:build unix

package main

import (
	"syscall"
	"time"
)

// cpuTime is the user and system time this process has used.
func cpuTime() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r) // cannot fail for RUSAGE_SELF
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
