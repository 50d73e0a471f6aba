package ingest

import "unsafe"

// stringArena makes the strings of events from shared blocks instead of
// one allocation each: an event has about thirty, and allocating (then
// collecting) them one by one was a tenth of the decoder's time. A block
// is only appended to, never written again, so its strings stay valid;
// the garbage collector frees it once no string in it is referenced.
//
// A record's strict rewrite is written straight into a block's free end
// (tail, then keep): the stored event is the bytes the rewrite made, not
// a copy of them, and its columns are cut from it.
type stringArena struct {
	block []byte
}

const (
	arenaBlockSize = 256 << 10
	arenaMaxString = arenaBlockSize / 8 // larger strings get their own allocation
	// arenaMinTail is the least free space tail offers: a CloudTrail
	// record (1-3 KB) fits; a larger one that does not grows a buffer
	// of its own out of it.
	arenaMinTail = 8 << 10
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

// tail is the free end of the current block, empty, for a writer that
// appends to it: keep then makes what it wrote a string. Until keep, the
// next tail (or of) may write over it.
func (a *stringArena) tail() []byte {
	if cap(a.block)-len(a.block) < arenaMinTail {
		a.block = make([]byte, 0, arenaBlockSize)
	}
	return a.block[len(a.block):len(a.block)]
}

// keep returns b, which was appended to the last tail, as a string, and
// never writes over it again. When b outgrew the tail, append moved it to
// an allocation of its own, which is kept as it is unless mostly empty.
func (a *stringArena) keep(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case a.inTail(b):
		a.block = a.block[:len(a.block)+len(b)]
		return unsafe.String(&b[0], len(b))
	case cap(b)-len(b) > len(b)/4:
		return string(b) // do not hold the grown buffer's spare room
	}
	return unsafe.String(&b[0], len(b))
}

// inTail says whether b starts at the free end of the current block and
// fits in it.
func (a *stringArena) inTail(b []byte) bool {
	free := a.block[len(a.block):cap(a.block)]
	return len(free) > 0 && len(b) <= len(free) && &free[0] == &b[0]
}
