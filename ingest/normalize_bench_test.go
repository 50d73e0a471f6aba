package ingest

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkNormalize measures the per-record work of the decoder (strict
// pass, parse, columns, key) on the bundled Lake export's events.
func BenchmarkNormalize(b *testing.B) {
	data, err := os.ReadFile("testdata/ndjson/lake.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var n normalizer
	var ev Event
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		for _, l := range lines {
			if _, err := n.normalize(l, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
}
