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
	t        *testing.T
}

func (h *countingHandler) record(r rawRecord) error {
	if r.index < h.lastSeen {
		h.t.Fatalf("record index went back: %d after %d", r.index, h.lastSeen)
	}
	h.lastSeen = r.index
	h.records++
	var ev Event
	if kind, inner, err := h.n.classify(r.data); err == nil && kind == kindLookupItem {
		h.n.normalize(append([]byte(nil), inner...), &ev)
	} else {
		h.n.normalize(r.data, &ev)
	}
	return nil
}

func (h *countingHandler) recordError(index, offset int64, msg string) {
	h.errs++
	if offset < 0 {
		h.t.Fatalf("negative offset for %q", msg)
	}
}

// FuzzSplitStream feeds arbitrary bytes to the splitter and normaliser: they
// must never panic, hang or report records out of order, whatever the input.
func FuzzSplitStream(f *testing.F) {
	seedFixtures(f)
	f.Add([]byte(`{"Records":[{"eventTime":"x"}, 1, "a", [], {}]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &countingHandler{n: &normalizer{}, t: t}
		sc := newScanner(bytes.NewReader(data))
		splitStream(sc, 4096, h)
		if sc.pos64() > int64(len(data)) {
			t.Fatalf("consumed %d of %d bytes", sc.pos64(), len(data))
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
