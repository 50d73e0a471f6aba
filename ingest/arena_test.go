package ingest

import (
	"bytes"
	"strings"
	"testing"
)

// TestStringArenaKeepsEarlierStrings checks that strings cut from the
// arena keep their text when the buffer they came from is reused and the
// arena moves on to new blocks.
func TestStringArenaKeepsEarlierStrings(t *testing.T) {
	var a stringArena
	buf := make([]byte, 0, arenaMaxString+1)
	var got, want []string
	for i := 0; i < 3*arenaBlockSize/100; i++ {
		n := 1 + i%150
		if i%997 == 0 {
			n = arenaMaxString + 1 // too large for a block
		}
		buf = append(buf[:0], bytes.Repeat([]byte{byte('a' + i%26)}, n)...)
		got = append(got, a.of(buf))
		want = append(want, strings.Repeat(string(rune('a'+i%26)), n))
		clear(buf) // the caller's buffer is reused: the string must not be
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("string %d is %.20q, want %.20q", i, got[i], want[i])
		}
	}
	if a.of(nil) != "" {
		t.Fatal("an empty input gave a non-empty string")
	}
}
