package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// The decoder's benchmarks run on two sets of records: "s3" is a file of
// a generated bucket as CloudTrail delivers it (compact, 121 records of
// the bench corpus's mix of calls), the shape almost all evidence has;
// "lake" is the bundled Lake export's three events, pretty-printed.
var benchSets = []struct {
	name string
	read func(tb testing.TB) [][]byte
}{{"s3", s3Records}, {"lake", lakeLines}}

// BenchmarkNormalize measures the per-record work of the decoder (strict
// pass, parse, columns, key).
func BenchmarkNormalize(b *testing.B) {
	for _, set := range benchSets {
		b.Run(set.name, func(b *testing.B) {
			records := set.read(b)
			b.SetBytes(recordBytes(records))
			var n normalizer
			var ev Event
			b.ResetTimer()
			for range b.N {
				for _, r := range records {
					if _, err := n.normalize(r, &ev); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkStrictJSON measures the strict rewrite alone on the same
// records.
func BenchmarkStrictJSON(b *testing.B) {
	for _, set := range benchSets {
		b.Run(set.name, func(b *testing.B) {
			records := set.read(b)
			b.SetBytes(recordBytes(records))
			var dst []byte
			var scratch strictScratch
			var rep repairs
			b.ResetTimer()
			for range b.N {
				for _, r := range records {
					var err error
					if dst, err = strictJSON(dst[:0], r, &scratch, &rep); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// lakeLines are the records of the bundled Lake export, one per line.
func lakeLines(tb testing.TB) [][]byte {
	data, err := os.ReadFile("testdata/ndjson/lake.ndjson")
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(data), []byte("\n"))
}

// s3Records are the records of testdata/bench's delivered file, each as
// its bytes in the file.
func s3Records(tb testing.TB) [][]byte {
	f, err := os.Open("testdata/bench/s3-records.json.gz")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var file struct{ Records []json.RawMessage }
	if err := json.NewDecoder(zr).Decode(&file); err != nil {
		tb.Fatal(err)
	}
	records := make([][]byte, len(file.Records))
	for i, r := range file.Records {
		records[i] = r
	}
	return records
}

// recordBytes is the benchmark's bytes per operation: the records'.
func recordBytes(records [][]byte) int64 {
	var n int64
	for _, r := range records {
		n += int64(len(r))
	}
	return n
}
