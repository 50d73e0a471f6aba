package lake

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// smallChunks makes every few events a commit and every commit a chunk, so
// that a small corpus loads in many chunks.
func smallChunks(t *testing.T) {
	events, size := commitEvents, chunkBytes
	commitEvents, chunkBytes = 100, 1
	t.Cleanup(func() { commitEvents, chunkBytes = events, size })
}

// chunkCorpus writes 30 files of 50 distinct events each.
func chunkCorpus(t *testing.T) string {
	dir := t.TempDir()
	for f := range 30 {
		var b strings.Builder
		for i := range 50 {
			fmt.Fprintf(&b, `{"eventVersion":"1.08","eventTime":"2024-03-%02dT10:%02d:%02dZ","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"%d-%d"}`+"\n",
				1+f%4, f, i, f, i)
		}
		writeInput(t, dir, fmt.Sprintf("f%02d.jsonl", f), b.String())
	}
	return dir
}

// storeFingerprint sums what must not depend on how the ingest was cut
// into runs and chunks.
func storeFingerprint(t *testing.T, db string) string {
	s, err := query.Open(context.Background(), db, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var fp string
	if err := s.DB.QueryRow(`SELECT format('{} events, {} keys, {}, {} files, {}, {} errors', count(*), count(DISTINCT event_key),
  sum(hash(event_key, file_id, record_index, raw, event_time)), (SELECT count(*) FROM files),
  (SELECT sum(hash(path, sha256, status, events)) FROM files), (SELECT count(*) FROM ingest_errors)) FROM events`).Scan(&fp); err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestKillBetweenChunks kills (SIGKILL) ingests into a store just after a
// chunk's transaction commits, before its staged parts are removed, then
// runs the ingest to the end: the store equals the one a clean run makes.
// The first killed run must have stored events already: the load runs
// while the files are decoded, not after.
func TestKillBetweenChunks(t *testing.T) {
	if n, err := strconv.Atoi(os.Getenv("TRAILSIFT_LAKE_KILL_AT_CHUNK")); err == nil {
		killAtChunk(t, n)
		return
	}
	smallChunks(t)
	evidence := chunkCorpus(t)
	clean := filepath.Join(t.TempDir(), "clean.duckdb")
	runDB(t, clean, evidence)
	want := storeFingerprint(t, clean)
	if !strings.HasPrefix(want, "1500 events, 1500 keys") || !strings.Contains(want, "30 files") {
		t.Fatalf("clean run stored %s", want)
	}
	db := filepath.Join(t.TempDir(), "killed.duckdb")
	for i, at := range []string{"1", "3"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillBetweenChunks$")
		cmd.Env = append(os.Environ(), "TRAILSIFT_LAKE_KILL_AT_CHUNK="+at, "TRAILSIFT_LAKE_DB="+db, "TRAILSIFT_LAKE_EVIDENCE="+evidence)
		out, err := cmd.CombinedOutput()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill at chunk %s: the run was not killed (%v)\n%s", at, err, out)
		}
		if i == 0 {
			if got := storeFingerprint(t, db); strings.HasPrefix(got, "0 events") {
				t.Errorf("killed after its first chunk, the store holds no event: %s", got)
			}
		}
	}
	runDB(t, db, evidence)
	if got := storeFingerprint(t, db); got != want {
		t.Errorf("after the kills and a re-run:\n got %s\nwant %s", got, want)
	}
	if _, err := os.Stat(StagingDir(db)); !os.IsNotExist(err) {
		t.Errorf("staging left behind: %v", err)
	}
}

// killAtChunk is the child of TestKillBetweenChunks: it ingests and kills
// itself after chunk n is loaded.
func killAtChunk(t *testing.T, n int) {
	smallChunks(t)
	chunks := 0
	afterChunk = func() {
		if chunks++; chunks == n {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal ends the process
		}
	}
	s, err := query.Open(context.Background(), os.Getenv("TRAILSIFT_LAKE_DB"), false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = IngestStore(context.Background(), s, []string{os.Getenv("TRAILSIFT_LAKE_EVIDENCE")}, ingest.Options{}, nil)
	t.Fatalf("ingest ended without being killed at chunk %d (%d chunks): %v", n, chunks, err)
}
