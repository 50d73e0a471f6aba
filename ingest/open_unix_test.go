//go:build unix

package ingest

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenInput: a regular file comes back with its size; a FIFO with -1,
// its writer's bytes readable, and a read of it cut short by Close (it is
// on the poller); a missing file with an error that names it.
func TestOpenInput(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "log.json")
	if err := os.WriteFile(reg, []byte(`{"Records":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, size, err := openInput(reg)
	if err != nil || size != 14 {
		t.Fatalf("regular file: size %d, err %v; want 14", size, err)
	}
	if b, _ := io.ReadAll(f); string(b) != `{"Records":[]}` {
		t.Errorf("regular file read %q", b)
	}
	f.Close()

	fifo := filepath.Join(dir, "events.pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		_, _ = w.Write([]byte("abc"))
		time.Sleep(time.Second) // the writer stays open: the read below must be cut by Close
	}()
	f, size, err = openInput(fifo)
	if err != nil || size != -1 {
		t.Fatalf("FIFO: size %d, err %v; want -1", size, err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(f, buf); err != nil || string(buf) != "abc" {
		t.Fatalf("FIFO read %q, %v", buf, err)
	}
	readErr := make(chan error, 1)
	go func() { _, err := f.Read(buf); readErr <- err }()
	time.Sleep(50 * time.Millisecond)
	f.Close()
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("read of a closed FIFO: %v; want os.ErrClosed", err)
		}
	case <-time.After(500 * time.Millisecond):
		t.Error("Close did not cut a blocked read of the FIFO")
	}
	<-written

	missing := filepath.Join(dir, "gone.json")
	if _, _, err := openInput(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v; want not exist", err)
	} else if pe := (*fs.PathError)(nil); !errors.As(err, &pe) || pe.Path != missing {
		t.Errorf("missing file: %v does not name %s", err, missing)
	}
}
