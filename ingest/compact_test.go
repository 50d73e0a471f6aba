package ingest

import (
	"bytes"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"
)

// checkCompactAgrees fails when compactRecord takes data (with or without
// prefix) and the general rewrite does not find the same record: the same
// bytes, unchanged and unrepaired, the same member index and depth, the
// same end. It reports whether compactRecord took it.
func checkCompactAgrees(t *testing.T, data []byte, prefix bool) bool {
	t.Helper()
	var fast, slow strictScratch
	fast.reset()
	end, ok := compactRecord(data, &fast, prefix)
	if !ok {
		return false
	}
	var rep repairs
	slow.reset()
	out, err := rewriteRecord([]byte("pre"), data, &slow, &rep, prefix)
	switch {
	case err != nil:
		t.Fatalf("%q (prefix %v): the fast path took a record the rewrite refuses: %v", data, prefix, err)
	case !bytes.Equal(out[3:], data[:end]):
		t.Fatalf("%q (prefix %v): the fast path kept %q, the rewrite wrote %q", data, prefix, data[:end], out[3:])
	case rep != repairs{}:
		t.Fatalf("%q (prefix %v): the fast path took a record the rewrite repairs: %+v", data, prefix, rep)
	case !reflect.DeepEqual(fast.members, slow.members):
		t.Fatalf("%q (prefix %v): members\n%v\nagainst the rewrite's\n%v", data, prefix, fast.members, slow.members)
	case fast.depth != slow.depth:
		t.Fatalf("%q (prefix %v): depth %d, the rewrite's %d", data, prefix, fast.depth, slow.depth)
	case prefix && end != slow.end:
		t.Fatalf("%q: ends at %d, the rewrite's at %d", data, end, slow.end)
	case !prefix && end != len(data):
		t.Fatalf("%q: ends at %d of %d", data, end, len(data))
	}
	return true
}

// The fast path takes every record of a delivered file, and finds each as
// the general rewrite does; it also agrees on thousands of variations of
// them (bytes inserted, removed, cut off), whichever of them it takes.
func TestCompactRecordAgreesWithRewrite(t *testing.T) {
	records := s3Records(t)
	for _, r := range records {
		for _, prefix := range []bool{false, true} {
			if !checkCompactAgrees(t, r, prefix) {
				t.Fatalf("the fast path declined a compact delivered record: %.200s", r)
			}
		}
		if !checkCompactAgrees(t, append(append([]byte(nil), r...), `,{"next":1}]}`...), true) {
			t.Fatalf("the fast path declined a record followed by the next: %.200s", r)
		}
	}
	lake, err := os.ReadFile("testdata/ndjson/lake.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	seeds := append(bytes.Split(bytes.TrimSpace(lake), []byte("\n")), records...)
	inserts := []string{" ", "\n", "\\", `"`, "\x01", "\xff", "\xc3", `\u`, `\ud800`, `\ud83d\ude00`, `\u00e9`, `\/`, "é",
		"{", "}", "[", "]", ",", ":", "1", "-", "0", "e", "N", `"a":1,`, `"eventName":"x",`, "[]", "{}", "null", "tru"}
	rng := rand.New(rand.NewPCG(7, 9))
	taken, tried := 0, 0
	for _, seed := range seeds {
		for range 200 {
			m := append([]byte(nil), seed...)
			for k := rng.IntN(3) + 1; k > 0; k-- {
				at := rng.IntN(len(m) + 1)
				switch rng.IntN(4) {
				case 0, 1:
					m = slicesInsert(m, at, inserts[rng.IntN(len(inserts))])
				case 2:
					if at < len(m) {
						m = append(m[:at], m[at+1:]...)
					}
				case 3:
					m = m[:at]
				}
			}
			for _, prefix := range []bool{false, true} {
				tried++
				if checkCompactAgrees(t, m, prefix) {
					taken++
				}
			}
		}
	}
	// Both paths must have been tried: most variations break the record
	// or need a repair, a good share do not.
	if taken < tried/20 || taken > tried*9/10 {
		t.Fatalf("the fast path took %d of %d variations", taken, tried)
	}
}

func slicesInsert(b []byte, at int, s string) []byte {
	return append(b[:at:at], append([]byte(s), b[at:]...)...)
}

// The fast path declines whatever the rewrite would change or warn about,
// so those records get the rewrite's repairs and warnings.
func TestCompactRecordDeclinesWhatTheRewriteChanges(t *testing.T) {
	for _, in := range []string{
		`{"a": 1}`,              // white space
		` {"a":1}`,              // before the record
		"\xef\xbb\xbf{\"a\":1}", // a byte order mark
		"{\"a\":\"x\x01\"}",     // a control byte
		"{\"a\":\"\xff\"}",      // not UTF-8
		`{"a":"\ud800"}`,        // a lone surrogate
		`{"a":"\x"}`,            // an unknown escape
		`{"a":"\u12"}`,          // a short escape
		`{"a":01}`,              // not a strict number
		`{"a":NaN}`,             // nor this
		`{"a":1,"a":2}`,         // a repeated key
		`{"\u0061":1,"a":2}`,    // the same key, escaped
		`{"a":1}x`,              // something after the record
		`{"a":1`,                // cut off
		`[{"a":1}]`,             // not an object
		`{"a":[1,2}`,            // broken
	} {
		var sc strictScratch
		sc.reset()
		if _, ok := compactRecord([]byte(in), &sc, false); ok {
			t.Errorf("%q: taken by the fast path", in)
		}
	}
	// Past a depth the rewrite reports, too.
	deep := []byte(`{"a":` + string(bytes.Repeat([]byte("["), maxJSONDepth+1)) + string(bytes.Repeat([]byte("]"), maxJSONDepth+1)) + "}")
	var sc strictScratch
	sc.reset()
	if _, ok := compactRecord(deep, &sc, false); ok {
		t.Errorf("a record %d levels deep taken by the fast path", maxJSONDepth+2)
	}
	// What it does take: escapes that stay as written, UTF-8, and
	// surrogate pairs are left to the rewrite, which keeps them.
	for _, in := range []string{`{"a":"\"\\\/\b\f\n\r\t\u00e9","b":"é€𝄞","c":[],"d":{},"e":[1,-0.5,2e10,true,false,null]}`, `{}`} {
		if !checkCompactAgrees(t, []byte(in), false) {
			t.Errorf("%q: declined by the fast path", in)
		}
	}
	if checkCompactAgrees(t, []byte(`{"a":"\ud83d\ude00"}`), false) {
		t.Errorf("a surrogate pair taken by the fast path (left to the rewrite)")
	}
}

// FuzzCompactRecord checks the fast path against the general rewrite on
// any input it takes.
func FuzzCompactRecord(f *testing.F) {
	f.Add([]byte(`{"a":"\u00e9","b":[1,{"c":null}],"d":{}}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCompactAgrees(t, data, false)
		checkCompactAgrees(t, data, true)
	})
}
