package ingest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// seedFixtures adds every decompressed fixture under testdata as a seed.
func seedFixtures(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			if plain, err := io.ReadAll(zr); err == nil {
				data = plain
			}
		}
		f.Add(data)
	}
}

type countingHandler struct {
	n        *normalizer
	records  int
	errs     int
	lastSeen int64
	indexes  map[int64]int // how often each record index was handed out
	t        *testing.T
}

func (h *countingHandler) record(r rawRecord) error {
	if r.index < h.lastSeen {
		h.t.Fatalf("record index went back: %d after %d", r.index, h.lastSeen)
	}
	h.lastSeen = r.index
	h.indexes[r.index]++
	h.records++
	var ev Event
	data := r.data
	if kind, inner, err := h.n.classify(r.data); err == nil && kind == kindLookupItem {
		data = append([]byte(nil), inner...)
	}
	if _, err := h.n.normalize(data, &ev); err == nil {
		if err := strictOK(ev.Raw); err != nil {
			h.t.Fatalf("raw a strict parser refuses: %v", err)
		}
	}
	return nil
}

func (h *countingHandler) recordError(index, offset int64, msg string) {
	h.errs++
	if offset < 0 {
		h.t.Fatalf("negative offset for %q", msg)
	}
	if index >= 0 { // -1: bytes between records, not a record
		h.indexes[index]++
	}
}

// FuzzSplitStream feeds arbitrary bytes to the splitter and normaliser: they
// must never panic, hang or report records out of order, every stored raw
// event is strict JSON, and every record index from 0 up is accounted for
// exactly once, as a record or as an error.
func FuzzSplitStream(f *testing.F) {
	seedFixtures(f)
	f.Add([]byte(`{"Records":[{"eventTime":"x"}, 1, "a", [], {}]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`))
	f.Add([]byte("{\"eventVersion\":\"1\",\"a\":\"cut\n{\"eventVersion\":\"1\"}\n{\"x\":[}\ngarbage\n"))
	f.Add([]byte(`{"Records":[{"eventVersion":"1","a":{"b":1},{"eventVersion":"2"}]} [{"eventID":1} {"eventID":2}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &countingHandler{n: &normalizer{}, t: t, indexes: map[int64]int{}}
		sc := newScanner(bytes.NewReader(data))
		splitStream(sc, 4096, h)
		if sc.pos64() > int64(len(data)) {
			t.Fatalf("consumed %d of %d bytes", sc.pos64(), len(data))
		}
		for i := range int64(len(h.indexes)) {
			if h.indexes[i] != 1 {
				t.Fatalf("record index %d handed out %d times (indexes %v)", i, h.indexes[i], h.indexes)
			}
		}
	})
}

// FuzzNormalize checks one event's decoding never panics and keeps the
// raw event as valid UTF-8.
func FuzzNormalize(f *testing.F) {
	seedFixtures(f)
	f.Add([]byte(`{"eventTime":"2024-02-30T00:00:00Z","userIdentity":{"type":"Root"},"requestParameters":"{\"a\":1}"}`))
	f.Add([]byte("{\"a\":\"\x00\\ud800\",\"a\":{\"b\":1,\"b\":NaN},\"c\":01}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var sc strictScratch
		var rep repairs
		if out, err := strictJSON(nil, data, &sc, &rep); err == nil {
			if err := strictOK(string(out)); err != nil {
				t.Fatalf("strictJSON output a strict parser refuses: %v", err)
			}
			checkTape(t, &tape{json: out, members: sc.members})
		}
		n := &normalizer{}
		var ev Event
		if _, err := n.normalize(data, &ev); err != nil {
			return
		}
		if ev.HasTime && ev.Time.Location().String() != "UTC" {
			t.Fatalf("time not in UTC: %v", ev.Time)
		}
		if ev.Raw == "" {
			t.Fatal("accepted event with empty raw")
		}
		if err := strictOK(ev.Raw); err != nil {
			t.Fatalf("raw a strict parser refuses: %v", err)
		}
	})
}
