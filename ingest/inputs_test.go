package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const recordsFixture = "testdata/records/111122223333_CloudTrail_us-east-1_20230824T2110Z_abc.json.gz"

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// ndjsonEvents makes n distinct CloudTrail events as JSON lines.
func ndjsonEvents(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		b.WriteString(`{"eventVersion":"1.08","eventTime":"2024-03-05T11:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"`)
		b.WriteString(strings.Repeat("0", 24) + hex.EncodeToString([]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}))
		b.WriteString("\"}\n")
	}
	return b.Bytes()
}

// A FIFO is read once: every event is stored and the sha256 is of the whole
// content, in memory and when the content is too large for it (spooled).
func TestFIFOIsReadOnce(t *testing.T) {
	gz, err := os.ReadFile(recordsFixture)
	if err != nil {
		t.Fatal(err)
	}
	big := ndjsonEvents(500)
	for _, tc := range []struct {
		name     string
		data     []byte
		inMemory int64
		events   int
		shape    string
	}{
		{"gzip records in memory", gz, 0, 3, ShapeRecords},
		{"ndjson spooled", big, 4096, 500, ShapeNDJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			fifo := filepath.Join(t.TempDir(), "events.pipe")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			go func() {
				w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					return
				}
				w.Write(tc.data)
				w.Close()
			}()
			sink := &memSink{}
			st, err := Run(context.Background(), []string{fifo}, sink, Options{inMemory: tc.inMemory})
			if err != nil {
				t.Fatal(err)
			}
			if len(sink.events) != tc.events || st.FilesLoaded != 1 {
				t.Fatalf("events = %d, stats = %+v; want %d events, 1 file loaded", len(sink.events), st, tc.events)
			}
			f := sink.files[0]
			if f.SHA256 != hexSHA(tc.data) || f.Size != int64(len(tc.data)) || f.Shape != tc.shape {
				t.Errorf("file = %s size %d shape %s; want sha %s size %d shape %s", f.SHA256, f.Size, f.Shape, hexSHA(tc.data), len(tc.data), tc.shape)
			}
			for _, ev := range sink.events {
				if ev.FileID != f.ID {
					t.Fatalf("event of file %d, file is %d", ev.FileID, f.ID)
				}
			}
		})
	}
}

// A regular file larger than the memory threshold is hashed, then decoded
// from the start: the same result as a small one.
func TestLargeRegularFile(t *testing.T) {
	data := ndjsonEvents(300)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big.jsonl"), data, 0o644)
	sink := &memSink{}
	if _, err := Run(context.Background(), []string{dir}, sink, Options{inMemory: 1000}); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 300 || sink.files[0].SHA256 != hexSHA(data) {
		t.Fatalf("events = %d sha = %s", len(sink.events), sink.files[0].SHA256)
	}
}

// tmpWatcher is stdin that looks at the temp folder on every read.
type tmpWatcher struct {
	r    io.Reader
	dir  string
	seen []string
}

func (w *tmpWatcher) Read(p []byte) (int, error) {
	if names, _ := os.ReadDir(w.dir); len(names) > 0 {
		w.seen = append(w.seen, names[0].Name())
	}
	return w.r.Read(p[:min(len(p), 512)])
}

// Reading stdin leaves no file in the temp folder, while it is read (a
// SIGKILL then would leave it) or after.
func TestStdinLeavesNoTempFile(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	data := ndjsonEvents(200)
	in := &tmpWatcher{r: bytes.NewReader(data), dir: tmp}
	sink := &memSink{}
	if _, err := Run(context.Background(), []string{"-"}, sink, Options{Stdin: in, inMemory: 2048}); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 200 {
		t.Fatalf("events = %d, want 200", len(sink.events))
	}
	if names, _ := os.ReadDir(tmp); len(names) > 0 || len(in.seen) > 0 {
		t.Errorf("temp folder held %v while reading stdin, %d entries after", in.seen, len(names))
	}
}

// A folder that cannot be listed is a failed manifest row; the rest loads.
// Dangling links and special files are skipped with a reason. Tests run as
// root, where chmod 000 stops nothing, so the listing fails through the
// walker's injectable ReadDir.
func TestWalkProblemsAreRecordedAndTheRestLoads(t *testing.T) {
	dir := t.TempDir()
	data, _ := os.ReadFile("testdata/ndjson/lake.ndjson")
	os.WriteFile(filepath.Join(dir, "a.ndjson"), data, 0o644)
	os.Mkdir(filepath.Join(dir, "locked"), 0o755)
	os.WriteFile(filepath.Join(dir, "locked", "hidden.json"), data, 0o644)
	os.Symlink(filepath.Join(dir, "gone.json"), filepath.Join(dir, "dangling.json"))
	syscall.Mkfifo(filepath.Join(dir, "pipe.json"), 0o600)
	ln, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	readDir := func(p string) ([]os.DirEntry, error) {
		if filepath.Base(p) == "locked" {
			return nil, &os.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return os.ReadDir(p)
	}
	sink := &memSink{}
	st, err := Run(context.Background(), []string{dir}, sink, Options{readDir: readDir})
	if err != nil {
		t.Fatalf("Run: %v (a bad subfolder must not stop the ingest)", err)
	}
	if len(sink.events) != 3 || st.FilesLoaded != 1 || st.FilesFailed != 1 || st.FilesSkipped != 3 {
		t.Fatalf("events = %d, stats = %+v", len(sink.events), st)
	}
	locked := sink.file(t, "/locked")
	if locked.Status != StatusFailed || !strings.Contains(locked.Reason, "cannot read folder") || !strings.Contains(locked.Reason, "permission denied") || len(locked.Errors) != 1 {
		t.Errorf("locked folder: %+v", locked)
	}
	for suffix, want := range map[string]string{"dangling.json": "dangling symbolic link", "pipe.json": "named pipe", "sock": "socket"} {
		if f := sink.file(t, suffix); f.Status != StatusSkipped || !strings.Contains(f.Reason, want) {
			t.Errorf("%s: %s %q, want skipped, %q", suffix, f.Status, f.Reason, want)
		}
	}
}

// A file's id depends on its path and its content.
func TestFileIDIsPathAndContent(t *testing.T) {
	run := func(inputs []string, stdin []byte) *File {
		sink := &memSink{}
		if _, err := Run(context.Background(), inputs, sink, Options{Stdin: bytes.NewReader(stdin)}); err != nil {
			t.Fatal(err)
		}
		return sink.files[0]
	}
	a, b := ndjsonEvents(1), ndjsonEvents(2)
	s1, s2, s1again := run([]string{"-"}, a), run([]string{"-"}, b), run([]string{"-"}, a)
	if s1.ID == s2.ID || s1.Path == s2.Path || !strings.HasPrefix(s1.Path, "stdin:") {
		t.Errorf("two stdin inputs: %s %d and %s %d", s1.Path, s1.ID, s2.Path, s2.ID)
	}
	if s1.ID != s1again.ID || s1.Path != s1again.Path {
		t.Errorf("same stdin twice: %s %d and %s %d", s1.Path, s1.ID, s1again.Path, s1again.ID)
	}
	p := filepath.Join(t.TempDir(), "x.jsonl")
	os.WriteFile(p, a, 0o644)
	f1 := run([]string{p}, nil)
	os.WriteFile(p, b, 0o644)
	f2 := run([]string{p}, nil)
	if f1.ID == f2.ID {
		t.Errorf("a path re-read with new content kept its id %d", f1.ID)
	}
	if f1.ID != FileID(p, hexSHA(a)) {
		t.Errorf("id %d is not FileID(path, sha256)", f1.ID)
	}
}

func TestMissingInputCreatesNothing(t *testing.T) {
	var ie *InputError
	if err := CheckInputs([]string{"-", "testdata/records", "testdata/nope"}); !errors.As(err, &ie) || ie.Path != "testdata/nope" {
		t.Fatalf("CheckInputs = %v", err)
	}
}

// TestFilesAreReadWhileFoldersAreListed: the first folder's file is
// decoded while a later folder is still being listed; meanwhile the
// progress says the listing goes on, with the total found so far, and once
// it ends and every file is opened the total is whole, and no estimate.
func TestFilesAreReadWhileFoldersAreListed(t *testing.T) {
	dir := t.TempDir()
	first, second := ndjsonEvents(3), ndjsonEvents(2)
	writeFiles(t, dir, map[string][]byte{"a/1.jsonl": first, "b/2.jsonl": second})
	seen := make(chan struct{}) // closed once the progress showed a's events while b was listed
	var once sync.Once
	readDir := func(p string) ([]os.DirEntry, error) {
		if filepath.Base(p) == "b" {
			select {
			case <-seen:
			case <-time.After(10 * time.Second):
				return nil, errors.New("the first folder's file was not read while this one was listed")
			}
		}
		return os.ReadDir(p)
	}
	whole := int64(len(first) + len(second))
	var problems []string // the callback runs on one goroutine, the one that calls the sink
	listed := false
	var last Progress
	progress := func(p Progress) {
		listed = listed || !p.Listing
		last = p
		switch {
		case p.Listing && p.Events > 0 && p.TotalBytes == int64(len(first)) && !p.TotalEstimated:
			once.Do(func() { close(seen) })
		case p.TotalEstimated:
			// b's file is listed and not yet opened: a's size stands for it.
		case p.Listing && (p.TotalBytes < int64(len(first)) || p.TotalBytes > whole):
			problems = append(problems, fmt.Sprintf("while listing: total %d bytes", p.TotalBytes))
		case !p.Listing && p.TotalBytes != whole:
			problems = append(problems, fmt.Sprintf("after the listing: total %d bytes, want %d", p.TotalBytes, whole))
		}
	}
	sink := &memSink{}
	st, err := Run(context.Background(), []string{dir}, sink, Options{readDir: readDir, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 5 || st.FilesLoaded != 2 || st.FilesFailed != 0 {
		t.Fatalf("events = %d, stats = %+v; want 5 events from 2 files", len(sink.events), st)
	}
	for _, p := range problems {
		t.Error("progress " + p)
	}
	if !listed {
		t.Error("no progress said the listing had ended")
	}
	if last.Listing || last.TotalEstimated || last.TotalBytes != whole {
		t.Errorf("last progress %+v, want the whole %d bytes, listed and known", last, whole)
	}
}

// TestTotalOfFilesSizedAtOpen: the files a listing did not size count in
// the progress's total at the mean size of those opened, until each is
// opened; then the total is exact.
func TestTotalOfFilesSizedAtOpen(t *testing.T) {
	var r run
	r.total.Add(100) // a file named on the command line, sized as listed
	r.unsized.Add(4)
	if total, est := r.totalBytes(); total != 100 || !est {
		t.Fatalf("none opened: %d %v, want 100 true", total, est)
	}
	r.sizedAtOpen(10, true)
	r.sizedAtOpen(30, true)
	if total, est := r.totalBytes(); total != 100+40+2*20 || !est {
		t.Fatalf("two of four opened: %d %v, want 180 true", total, est)
	}
	// One that could not be opened: the last is still estimated at the
	// mean of those opened, not at a mean that counts it as empty.
	r.sizedAtOpen(0, false)
	if total, est := r.totalBytes(); total != 100+40+20 || !est {
		t.Fatalf("one unopenable, one left: %d %v, want 160 true", total, est)
	}
	r.sizedAtOpen(5, true)
	if total, est := r.totalBytes(); total != 145 || est {
		t.Fatalf("all opened: %d %v, want 145 false", total, est)
	}
}

// TestListingStopsWhenCancelled: a run cancelled while a folder is listed
// lists no further folder, and returns only once its lister has stopped.
func TestListingStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"a/1.jsonl": ndjsonEvents(3)}
	for i := range 50 {
		files[fmt.Sprintf("b/sub%02d/x.jsonl", i)] = ndjsonEvents(1)
	}
	writeFiles(t, dir, files)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var after atomic.Int64 // folders listed after the cancel
	var cancelled atomic.Bool
	var slowDone atomic.Int64 // when the slow listing of b ended (UnixNano)
	readDir := func(p string) ([]os.DirEntry, error) {
		if cancelled.Load() {
			after.Add(1)
		}
		if filepath.Base(p) == "b" {
			cancelled.Store(true)
			cancel()
			time.Sleep(200 * time.Millisecond) // a slow folder: the run must wait for it
			defer func() { slowDone.Store(time.Now().UnixNano()) }()
		}
		return os.ReadDir(p)
	}
	_, err := Run(ctx, []string{dir}, &memSink{}, Options{readDir: readDir})
	returned := time.Now().UnixNano()
	if !errors.Is(err, ErrInterrupted) {
		t.Errorf("run cancelled while listing: %v; want ErrInterrupted", err)
	}
	if n := after.Load(); n != 0 {
		t.Errorf("%d folders listed after the cancel", n)
	}
	if done := slowDone.Load(); done == 0 || done > returned {
		t.Errorf("Run returned before its lister stopped (lister done at %d, Run at %d)", done, returned)
	}
}

// TestListingSkipsOwnTempFiles: when the temporary folder is inside an
// input, however the input names it, the run's own spooled streams and
// DuckDB spill folders found there are not read as evidence; anything
// else there is, and so is a file of such a name elsewhere.
func TestListingSkipsOwnTempFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"case/tmp/" + spoolPrefix + "123":                 ndjsonEvents(1),
		"case/tmp/" + SpillFolderPrefix() + "1/spill.bin": ndjsonEvents(1),
		"case/tmp/trailsift-duckdb-1-1/other.jsonl":       ndjsonEvents(2), // another process's
		"case/tmp/keep.jsonl":                             ndjsonEvents(3),
		"case/logs/" + spoolPrefix + "evidence.jsonl":     ndjsonEvents(4), // not in the temporary folder
	})
	if err := os.Symlink(filepath.Join(dir, "case"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", filepath.Join(dir, "case", "tmp"))
	for _, input := range []string{"case", "link"} {
		sink := &memSink{}
		if _, err := Run(context.Background(), []string{filepath.Join(dir, input)}, sink, Options{}); err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, f := range sink.files {
			paths = append(paths, strings.TrimPrefix(f.Path, filepath.Join(dir, input)+"/"))
		}
		want := []string{"logs/" + spoolPrefix + "evidence.jsonl", "tmp/keep.jsonl", "tmp/trailsift-duckdb-1-1/other.jsonl"}
		if slices.Sort(paths); !slices.Equal(paths, want) {
			t.Errorf("input %s: files read %v, want %v", input, paths, want)
		}
	}
}

// writeFiles writes files (relative path -> content) under dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
