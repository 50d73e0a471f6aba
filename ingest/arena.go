package ingest

import "unsafe"

// stringArena makes the strings of events from shared blocks instead of
// one allocation each: an event has about thirty, and allocating (then
// collecting) them one by one was a tenth of the decoder's time. A block
// is only appended to, never written again, so its strings stay valid;
// the garbage collector frees it once no string in it is referenced.
type stringArena struct {
	block []byte
}

const (
	arenaBlockSize = 256 << 10
	arenaMaxString = arenaBlockSize / 8 // larger strings get their own allocation
)

// of returns b as a string.
func (a *stringArena) of(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case len(b) > arenaMaxString:
		return string(b)
	case len(b) > cap(a.block)-len(a.block):
		a.block = make([]byte, 0, arenaBlockSize)
	}
	start := len(a.block)
	a.block = append(a.block, b...)
	return unsafe.String(&a.block[start], len(b))
}
