package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/samples"
)

// BenchmarkReport times `trailsift report` (every built-in rule, then the
// HTML report) on a store of a generated corpus (TRAILSIFT_BENCH_EVENTS
// events, default 200k, over 30 days) and reports the HTML's size:
//
//	TRAILSIFT_BENCH_EVENTS=1000000 go test ./cmd/trailsift -run XXX -bench Report -benchtime 1x
//
// (with TRAILSIFT_BENCH_DIR=DIR the generated store is kept and reused).
func BenchmarkReport(b *testing.B) {
	n := 200_000
	if s := os.Getenv("TRAILSIFT_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("TRAILSIFT_BENCH_EVENTS=%q: want a positive number", s)
		}
		n = v
	}
	// TRAILSIFT_BENCH_DIR keeps the store between runs (it is reused when
	// there); by default everything goes to a temporary folder.
	dir := os.Getenv("TRAILSIFT_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	db := filepath.Join(dir, fmt.Sprintf("report-bench-%d.duckdb", n))
	var errb strings.Builder
	if _, err := os.Stat(db); err != nil {
		corpus := filepath.Join(b.TempDir(), "corpus")
		start := time.Now()
		if _, err := samples.Generate(samples.Options{Out: corpus, Events: n, Accounts: 3, Regions: 4, Days: 30,
			Start: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Seed: 1}); err != nil {
			b.Fatal(err)
		}
		if code := Main([]string{"ingest", "-q", "--db", db, filepath.Join(corpus, "AWSLogs")}, nil, io.Discard, &errb); code != exitOK {
			os.Remove(db)
			b.Fatalf("ingest: exit %d %s", code, errb.String())
		}
		b.Logf("%d events generated and ingested in %s", n, time.Since(start).Round(time.Second))
	}
	out := filepath.Join(b.TempDir(), "report.html")
	b.ResetTimer()
	for b.Loop() {
		errb.Reset()
		if code := Main([]string{"report", "--db", db, "--out", out}, nil, io.Discard, &errb); code != exitOK {
			b.Fatalf("report: exit %d %s", code, errb.String())
		}
	}
	b.StopTimer()
	fi, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size()), "html-bytes")
	b.ReportMetric(float64(n), "events")
	b.Logf("%s", strings.TrimSpace(errb.String()))
}
