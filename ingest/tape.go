package ingest

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// A tape is a record as strictJSON writes it (compact, strict JSON) with
// the index strictJSON builds on the way: every object member, in order,
// with where its key and value are. Reading the typed columns out of it
// needs no second parse: a field is found by walking its object's members,
// and a member's subtree is skipped in one step. (A full parse of each
// record, for about fifteen fields, was a quarter of the decoder's time.)
type tape struct {
	json    []byte
	members []member
	// stable: json is never written again (an event's kept raw), so
	// strings may point into it.
	stable bool
}

// member is one key and its value in tape.json. next is the index of the
// first member after the value's own members: the member's next sibling,
// if it has one.
type member struct {
	keyStart, keyEnd int32 // the key, quotes included
	valStart, valEnd int32
	next             int32
	keyEscaped       bool
}

// node is a value in a tape: the member m's value, or the whole record
// when m is -1. The zero node (no tape) is a missing value.
type node struct {
	t *tape
	m int32
}

func (t *tape) root() node { return node{t, -1} }

// raw is the value's JSON text; nil when it is missing.
func (v node) raw() []byte {
	switch {
	case v.t == nil:
		return nil
	case v.m < 0:
		return v.t.json
	}
	m := &v.t.members[v.m]
	return v.t.json[m.valStart:m.valEnd]
}

func (v node) kind() byte {
	if b := v.raw(); len(b) > 0 {
		return b[0]
	}
	return 0
}

func (v node) isObject() bool { return v.kind() == '{' }

// children calls fn with each member of the object v, in order, until fn
// returns false.
func (v node) children(fn func(m int32) bool) {
	if !v.isObject() {
		return
	}
	first, end := v.memberRange()
	for m := first; m < end; m = v.t.members[m].next {
		if !fn(m) {
			return
		}
	}
}

// memberRange is where the object v's members lie in the tape: its first
// is first, and each one's next leads to the following, until end.
func (v node) memberRange() (first, end int32) {
	if v.m < 0 {
		return 0, int32(len(v.t.members))
	}
	return v.m + 1, v.t.members[v.m].next
}

// key is member m's key as text: escapes decoded, which keys almost
// never have (scratch holds the decoded text).
func (t *tape) key(m int32, scratch *[]byte) []byte {
	mm := &t.members[m]
	quoted := t.json[mm.keyStart:mm.keyEnd]
	if !mm.keyEscaped {
		return quoted[1 : len(quoted)-1]
	}
	*scratch = unescapeString((*scratch)[:0], quoted)
	return *scratch
}

// get is the value of key in the object v, matched as every lookup in
// trailsift matches keys (some exports lower-case them): an exact match
// wins over a case-folded one, and the last of repeated keys wins.
func (v node) get(key string) node {
	if !v.isObject() {
		return node{}
	}
	t := v.t
	first, end := v.memberRange()
	exact, folded := int32(-1), int32(-1)
	var scratch []byte
	for m := first; m < end; m = t.members[m].next {
		mm := &t.members[m]
		if !mm.keyEscaped && int(mm.keyEnd-mm.keyStart) != len(key)+2 {
			continue // an escaped key's text may be shorter than its bytes
		}
		k := t.key(m, &scratch)
		switch {
		case len(k) != len(key):
		case string(k) == key:
			exact = m
		case strings.EqualFold(string(k), key):
			folded = m
		}
	}
	switch {
	case exact >= 0:
		return node{t, exact}
	case folded >= 0:
		return node{t, folded}
	}
	return node{}
}

// path follows dotted keys through objects from v, each matched as get
// does; missing when a step is missing or not an object.
func (v node) path(p string) node {
	for v.t != nil && p != "" {
		var key string
		key, p, _ = strings.Cut(p, ".")
		v = v.get(key)
	}
	return v
}

// unescapeString appends the text of the quoted strict JSON string s to
// dst. strictJSON has checked every escape, paired every surrogate and
// replaced what was broken, so nothing here can fail.
func unescapeString(dst, s []byte) []byte {
	s = s[1 : len(s)-1]
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		switch c := s[1]; c {
		case 'u':
			r := hexRune(s[2:6])
			s = s[6:]
			if r >= 0xD800 && r <= 0xDBFF && len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
				lo := hexRune(s[2:6])
				r = (r-0xD800)<<10 | (lo - 0xDC00) + 0x10000
				s = s[6:]
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, unescaped[c])
			s = s[2:]
		}
	}
	return dst
}

// unescaped is the byte each one-letter escape stands for.
var unescaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hexRune reads four hex digits that strictJSON has checked.
func hexRune(h []byte) rune {
	r, _ := hexValue(h)
	return r
}
