//go:build unix

package ingest

import (
	"os"
	"syscall"
)

// openInput opens a file the walker reads, and returns its size when it
// is a regular file (-1 otherwise). os.Open tries every file on the
// runtime's poller (a failed epoll_ctl and three fcntl calls for a regular
// file, which cannot be polled); os.NewFile of a blocking descriptor skips
// that: four system calls fewer per file, of some ten, on a bucket of
// hundreds of thousands of small logs. Anything else (a FIFO named among
// the inputs) goes on the poller, so that a read of it stays cancellable.
func openInput(path string) (*os.File, int64, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG {
		return os.NewFile(uintptr(fd), path), st.Size, nil
	}
	// Not reopened: a FIFO's writer would lose its reader. A non-blocking
	// descriptor goes on the poller, as os.Open puts it.
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd) // the error that matters is SetNonblock's
		return nil, -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), -1, nil
}
