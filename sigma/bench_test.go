package sigma

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/samples"
)

func envInt(b *testing.B, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("%s=%q: want a positive number", name, s)
		}
		return v
	}
	return def
}

// BenchmarkDetect runs N generated Sigma rules (TRAILSIFT_SIGMA_RULES,
// default 800: one per API call the corpus generator emits, in a few
// shapes, plus some that no eventName narrows) over a generated corpus of
// TRAILSIFT_BENCH_EVENTS events (default 100k) in a database file opened
// read-only, and prints the time of one run.
//
//	TRAILSIFT_BENCH_EVENTS=1000000 go test ./sigma/ -run '^$' -bench Detect -benchtime 1x
func BenchmarkDetect(b *testing.B) {
	nEvents := envInt(b, "TRAILSIFT_BENCH_EVENTS", 100_000)
	nRules := envInt(b, "TRAILSIFT_SIGMA_RULES", 800)
	ctx := context.Background()
	// TRAILSIFT_BENCH_DB keeps the database of the generated events, to
	// measure several builds on the same events: it is made once, when
	// the file does not exist yet.
	path := os.Getenv("TRAILSIFT_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.duckdb")
	}
	_, statErr := os.Stat(path)
	s, err := query.Open(ctx, path, false)
	if err != nil {
		b.Fatal(err)
	}
	if statErr != nil {
		corpus := b.TempDir()
		if _, err := samples.Generate(samples.Options{Out: corpus, Events: nEvents, Days: 2, Seed: 7}); err != nil {
			b.Fatal(err)
		}
		if _, err := lake.IngestStore(ctx, s, []string{corpus}, ingest.Options{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	var stored int
	if err := s.DB.QueryRow("SELECT count(*) FROM events").Scan(&stored); err != nil {
		b.Fatal(err)
	}
	rows, err := s.DB.Query("SELECT DISTINCT event_source, event_name FROM events ORDER BY 1, 2")
	if err != nil {
		b.Fatal(err)
	}
	var calls [][2]string
	for rows.Next() {
		var src, name string
		if err := rows.Scan(&src, &name); err != nil {
			b.Fatal(err)
		}
		calls = append(calls, [2]string{src, name})
	}
	rows.Close()
	s.Close()

	docs := benchRules(calls, nRules)
	set, rep := Parse("bench.yml", []byte(strings.Join(docs, "---\n")))
	if len(rep.Failed) > 0 {
		b.Fatal(rep.Failed[0])
	}
	ro, err := query.Open(ctx, path, true)
	if err != nil {
		b.Fatal(err)
	}
	defer ro.Close()
	var found []query.Finding
	for b.Loop() {
		start := time.Now()
		if found, err = set.Detect(ctx, ro.DB, query.DetectOptions{}); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start).Seconds()
		// The target is 800 rules over 10M events in under 30 s. The
		// linear projection scales the fixed cost (planning, about half a
		// second) too, and so errs high.
		b.Logf("%d Sigma rules (%d API calls) over %d events: %d findings in %.2fs (10M events at this rate: %.0fs)",
			set.Len(), len(calls), stored, len(found), took, took*10e6/float64(stored))
	}
	b.ReportMetric(float64(stored)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(found)), "findings")
}

// benchRules writes n rules over the API calls.
func benchRules(calls [][2]string, nRules int) []string {
	// One rule per API call, then the same calls again with a narrower
	// selection each (as packs have several rules on one call), until there
	// are nRules; every 50th rule has no eventName to narrow it.
	narrower := []string{
		"    userAgent|contains: 'bench-%d'\n",
		"    errorCode: 'Bench%d'\n",
		"    sourceIPAddress|cidr: 203.0.113.%d/32\n",
		"    requestParameters.userName|startswith: 'bench-%d'\n",
		"    userIdentity.arn|endswith: ':user/bench-%d'\n",
	}
	var docs []string
	for i := 0; len(docs) < nRules; i++ {
		c := calls[i%len(calls)]
		sel := fmt.Sprintf("    eventSource: %s\n    eventName: %s\n", c[0], c[1])
		if i >= len(calls) {
			sel += fmt.Sprintf(narrower[i%len(narrower)], i%256)
		}
		if i%50 == 49 {
			sel = fmt.Sprintf("    requestParameters.userName|startswith: 'adm'\n    userAgent|contains: 'bench-%d'\n", i)
		}
		docs = append(docs, fmt.Sprintf("title: bench %d\nid: bench-%d\nlevel: low\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n%s  condition: sel\n", i, i, sel))
	}
	return docs
}
