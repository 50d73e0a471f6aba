package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestBufferShelf(t *testing.T) {
	s := newBufferShelf()
	if b := s.get(100); cap(b) != 100 {
		t.Errorf("a small file's buffer has capacity %d; want its own size, 100", cap(b))
	}
	b := s.get(40 << 10)
	if cap(b) != 64<<10 || len(b) != 0 {
		t.Fatalf("buffer len %d cap %d; want an empty one of 64 KiB (a power of two)", len(b), cap(b))
	}
	b = append(b, "stale"...)
	s.put(b)
	again := s.get(50 << 10)
	if &again[:1][0] != &b[0] || len(again) != 0 {
		t.Errorf("the shelved buffer was not given again, emptied")
	}
	s.put(again)
	if big := s.get(100 << 10); cap(big) != 128<<10 {
		t.Errorf("a larger file got capacity %d; want 128 KiB", cap(big))
	}
	if len(s.free) != 0 {
		t.Errorf("%d buffers kept; the one too small should have gone", len(s.free))
	}
	s.put(make([]byte, 0, maxShelvedBuffer+1))
	s.put(make([]byte, 0, 1024))
	if len(s.free) != 0 {
		t.Errorf("kept a buffer over the largest or under the least size")
	}
	for range shelvedBuffers + 3 {
		s.put(make([]byte, 0, minShelvedBuffer))
	}
	if len(s.free) != shelvedBuffers {
		t.Errorf("%d buffers kept; want at most %d", len(s.free), shelvedBuffers)
	}
	var none *bufferShelf // a reading without a shelf
	if b := none.get(1 << 20); cap(b) != 1<<20 {
		t.Errorf("no shelf: capacity %d", cap(b))
	}
	none.put(b)
}

// A closed source's buffer is read into again by the next source, and
// each source holds its own content and hash.
func TestSourcesShareBuffersInTurn(t *testing.T) {
	c := reading{shelf: newBufferShelf()}
	first := bytes.Repeat([]byte("a"), 60<<10)
	second := bytes.Repeat([]byte("b"), 50<<10)
	src, err := c.readSource(bytes.NewReader(first), nil, int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src.data, first) {
		t.Fatalf("first source's content differs")
	}
	at := &src.data[0]
	src.close()
	src.close() // a second close gives nothing back twice
	if len(c.shelf.free) != 1 {
		t.Fatalf("%d buffers on the shelf after close; want 1", len(c.shelf.free))
	}
	next, err := c.readSource(bytes.NewReader(second), nil, int64(len(second)))
	if err != nil {
		t.Fatal(err)
	}
	if &next.data[0] != at {
		t.Errorf("the second source was not read into the first's buffer")
	}
	sum := sha256.Sum256(second)
	if !bytes.Equal(next.data, second) || next.sha != hex.EncodeToString(sum[:]) || next.size != int64(len(second)) {
		t.Errorf("second source: %d bytes, sha %s; want its own %d bytes and hash", len(next.data), next.sha, len(second))
	}
}
