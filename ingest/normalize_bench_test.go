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
	read func(b *testing.B) [][]byte
}{{"s3", s3Records}, {"lake", lakeLines}}

// BenchmarkNormalize measures the per-record work of the decoder (strict
// pass, parse, columns, key).
func BenchmarkNormalize(b *testing.B) {
	for _, set := range benchSets {
		b.Run(set.name, func(b *testing.B) {
			records := set.read(b)
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

// lakeLines are the records of the bundled Lake export, one per line; the
// benchmark's bytes per operation are theirs.
func lakeLines(b *testing.B) [][]byte {
	data, err := os.ReadFile("testdata/ndjson/lake.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	return bytes.Split(bytes.TrimSpace(data), []byte("\n"))
}

// s3Records are the records of testdata/bench's delivered file, each as
// its bytes in the file.
func s3Records(b *testing.B) [][]byte {
	f, err := os.Open("testdata/bench/s3-records.json.gz")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	var file struct{ Records []json.RawMessage }
	if err := json.NewDecoder(zr).Decode(&file); err != nil {
		b.Fatal(err)
	}
	records := make([][]byte, len(file.Records))
	size := 0
	for i, r := range file.Records {
		records[i] = r
		size += len(r)
	}
	b.SetBytes(int64(size))
	return records
}
