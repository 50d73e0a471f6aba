package main

import (
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
func BenchmarkReport(b *testing.B) {
	n := 200_000
	if s := os.Getenv("TRAILSIFT_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("TRAILSIFT_BENCH_EVENTS=%q: want a positive number", s)
		}
		n = v
	}
	dir := b.TempDir()
	corpus := filepath.Join(dir, "corpus")
	start := time.Now()
	if _, err := samples.Generate(samples.Options{Out: corpus, Events: n, Accounts: 3, Regions: 4, Days: 30,
		Start: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Seed: 1}); err != nil {
		b.Fatal(err)
	}
	db := filepath.Join(dir, "case.duckdb")
	var errb strings.Builder
	if code := Main([]string{"ingest", "-q", "--db", db, filepath.Join(corpus, "AWSLogs")}, nil, io.Discard, &errb); code != exitOK {
		b.Fatalf("ingest: exit %d %s", code, errb.String())
	}
	b.Logf("%d events generated and ingested in %s", n, time.Since(start).Round(time.Second))
	out := filepath.Join(dir, "report.html")
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
