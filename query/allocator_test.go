package query

import (
	"context"
	"runtime"
	"testing"
)

// The sessions build keeps DuckDB's freed memory while it runs (never
// decayed), however many builds overlap, and lets it go when the last
// ends: the decay times are DuckDB's again.
func TestSessionsBuildHoldsFreedMemory(t *testing.T) {
	before, linked := jemallocDecay("dirty")
	if !linked {
		if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
			t.Fatal("DuckDB links no jemalloc here any more: holdFreedMemory does nothing, and the sessions build pays a page fault for every page it uses again")
		}
		release := holdFreedMemory() // does nothing, and says nothing
		release()
		return
	}
	muzzy, _ := jemallocDecay("muzzy")
	decays := func() (int64, int64) {
		d, _ := jemallocDecay("dirty")
		m, _ := jemallocDecay("muzzy")
		return d, m
	}
	ctx := context.Background()
	s := openTestStore(t)
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	_, drop, err := StageSessions(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if d, m := decays(); d != -1 || m != -1 {
		t.Errorf("while the build runs: decay %d ms dirty, %d muzzy; want -1 (never)", d, m)
	}
	inner := holdFreedMemory() // a second build meanwhile
	drop()
	if d, m := decays(); d != -1 || m != -1 {
		t.Errorf("one build ended, one still running: decay %d ms dirty, %d muzzy; want -1", d, m)
	}
	inner()
	inner() // a release called twice lets go once
	if d, m := decays(); d != before || m != muzzy {
		t.Errorf("after the builds: decay %d ms dirty, %d muzzy; want DuckDB's %d and %d", d, m, before, muzzy)
	}

	// A build that fails lets go too.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := StageSessions(cancelled, conn); err == nil {
		t.Fatal("a build with its context cancelled succeeded")
	}
	if d, m := decays(); d != before || m != muzzy {
		t.Errorf("after a build that failed: decay %d ms dirty, %d muzzy; want %d and %d", d, m, before, muzzy)
	}
}
