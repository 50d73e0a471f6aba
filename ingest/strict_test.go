package ingest

import (
	"math/rand/v2"
	"testing"
)

// plainRunByTable is plainRun a byte at a time, as the table says.
func plainRunByTable(data []byte, i int) int {
	for i < len(data) && plainStringByte[data[i]] {
		i++
	}
	return i
}

// plainRun finds the same byte as the table, for every byte value at every
// lane of a word and across words, with other bytes (plain or not) after
// it to borrow from, from every starting point.
func TestPlainRunMatchesTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 27)
	for v := range 256 {
		for at := range len(buf) {
			for trial := range 4 {
				for k := range buf {
					buf[k] = 'a' + byte(k%26)
					if k > at && trial > 0 {
						buf[k] = byte(rng.IntN(256)) // anything after it
					}
				}
				buf[at] = byte(v)
				for start := 0; start <= len(buf); start++ {
					if got, want := plainRun(buf, start), plainRunByTable(buf, start); got != want {
						t.Fatalf("byte %#x at %d of %q, from %d: plainRun %d, want %d", v, at, buf, start, got, want)
					}
				}
			}
		}
	}
	// Random text, dense in the bytes that stop a run.
	for range 20000 {
		n := rng.IntN(40)
		data := make([]byte, n)
		for k := range data {
			switch rng.IntN(6) {
			case 0:
				data[k] = byte(rng.IntN(256))
			case 1:
				data[k] = "\"\\\x00\x1f\x7f\x80\xff "[rng.IntN(8)]
			default:
				data[k] = byte(0x20 + rng.IntN(0x60))
			}
		}
		start := 0
		if n > 0 {
			start = rng.IntN(n)
		}
		if got, want := plainRun(data, start), plainRunByTable(data, start); got != want {
			t.Fatalf("%q from %d: plainRun %d, want %d", data, start, got, want)
		}
	}
}

// go test ./ingest -run '^$' -bench PlainRun
func BenchmarkPlainRun(b *testing.B) {
	s := []byte(`Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"`)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if plainRun(s, 0) != len(s)-1 {
			b.Fatal("wrong end")
		}
	}
}
