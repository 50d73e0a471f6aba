package ingest

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadValueStringsAcrossReads checks that string skipping finds the
// true end of each value whatever the escapes and wherever a read ends.
func TestReadValueStringsAcrossReads(t *testing.T) {
	values := []string{
		`{"a":"plain","b":"x\"y","c":"\\","d":"\\\"","e":"}]{[,"}`,
		`"` + strings.Repeat(`ab\"cd\\`, 3000) + `"`,
		`["\\\\\\", "\"\"", "", "\u0022}"]`,
		`{"k":"` + strings.Repeat("x", 70000) + `\\"}`,
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	}
	for name, wrap := range readers {
		for _, v := range values {
			sc := newScanner(wrap(strings.NewReader(v + ` 7`)))
			var got []byte
			if err := sc.readValue(&got, 1<<20); err != nil {
				t.Fatalf("%s: %.40s: %v", name, v, err)
			}
			if !bytes.Equal(got, []byte(v)) {
				t.Fatalf("%s: value read as %.60q, want %.60q", name, got, v)
			}
			var next []byte
			if err := sc.readValue(&next, 10); err != nil || string(next) != "7" {
				t.Fatalf("%s: after %.40s the next value is %q (%v), want 7", name, v, next, err)
			}
		}
	}
}

func TestReadValueUnclosedString(t *testing.T) {
	sc := newScanner(strings.NewReader(`{"a":"never closed \"}`))
	var got []byte
	if err := sc.readValue(&got, 1<<20); err == nil {
		t.Fatal("an unclosed string was read as a whole value")
	}
}
