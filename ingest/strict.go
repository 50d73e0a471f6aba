package ingest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// The stored raw event must be JSON that a strict parser (DuckDB's yyjson)
// accepts, or one record makes the whole load fail. fastjson is lenient, so
// every record is first rewritten by strictJSON: it checks the grammar,
// removes white space and repairs what can be repaired without losing
// anything, counting each repair so the record gets a warning.

// repairs counts what strictJSON changed in one record; first is the byte
// in the record of the first repair.
type repairs struct {
	controls   int // raw bytes below 0x20 in strings, now \u00XX
	surrogates int // lone UTF-16 surrogate escapes, now \ufffd
	badUTF8    int // bytes in strings that are not UTF-8, now \ufffd
	escapes    int // unknown escapes (\x, short \u): the backslash is now \\
	numbers    int // NaN, Inf, 01, +1, 1.: now strings
	dupKeys    int // keys that repeat in an object
	dupKey     string
	first      int
}

// repaired says whether the rewrite changed what a value says (repeated
// keys aside).
func (r *repairs) repaired() bool {
	return r.controls+r.surrogates+r.badUTF8+r.escapes+r.numbers > 0
}

func (r *repairs) note(at int) *repairs {
	if !r.repaired() {
		r.first = at
	}
	return r
}

// warnings describes the repairs for the record's warning.
func (r *repairs) warnings() []string {
	var w []string
	if r.controls > 0 {
		w = append(w, fmt.Sprintf("%d raw control bytes in strings escaped as \\u00XX", r.controls))
	}
	if r.surrogates > 0 {
		w = append(w, fmt.Sprintf("%d lone UTF-16 surrogate escapes replaced by \\ufffd", r.surrogates))
	}
	if r.badUTF8 > 0 {
		w = append(w, fmt.Sprintf("%d bytes that are not UTF-8 replaced by \\ufffd", r.badUTF8))
	}
	if r.escapes > 0 {
		w = append(w, fmt.Sprintf("%d invalid escapes kept as text", r.escapes))
	}
	if r.numbers > 0 {
		w = append(w, fmt.Sprintf("%d values that are not JSON numbers (NaN, Inf, 01...) stored as strings", r.numbers))
	}
	if len(w) > 0 {
		w[0] = fmt.Sprintf("%s (first at byte %d of the record)", w[0], r.first)
	}
	if r.dupKeys > 0 {
		w = append(w, fmt.Sprintf("%d duplicate keys (first %s): the last value of each is kept, earlier ones dropped from the stored event", r.dupKeys, quoteShort(r.dupKey)))
	}
	return w
}

// keySpan is a key's bytes in the output, quotes included; escaped says
// it has a backslash, so only its decoded text can be compared.
type keySpan struct {
	start, end int
	escaped    bool
	// head is the key's length and first bytes: two keys without escapes
	// whose heads differ are different keys, found without comparing
	// their bytes (the search for a repeated key was a third of the
	// rewrite).
	head uint64
}

// keyHead is the head of the quoted key kt (see keySpan): equal keys have
// equal heads, and most different ones different heads.
func keyHead(kt []byte) uint64 {
	n := uint64(len(kt))
	if len(kt) >= 9 {
		return binary.LittleEndian.Uint64(kt[1:9]) ^ n<<56
	}
	var b [8]byte
	copy(b[:], kt[min(1, len(kt)):])
	return binary.LittleEndian.Uint64(b[:]) ^ n<<56
}

// strictScratch is reused from record to record.
type strictScratch struct {
	stack  []byte                // open containers: '{' or '['
	keys   []keySpan             // keys of the open objects, innermost last
	levels []int                 // index in keys where each open object's keys start
	heads  []uint64              // per open object: its keys' bits (keyBit)
	maps   []map[string]struct{} // per open object: its keys, once it has many
	cur    []int32               // per open object: its member being read (index in members)

	members []member // every object member of the output, in order (see tape)
	depth   int      // deepest value: 1 for the record itself
	end     int      // where the record ended in the input (strictJSONPrefix)
}

// reset readies sc for a record.
func (sc *strictScratch) reset() {
	sc.stack, sc.keys, sc.levels, sc.heads, sc.maps, sc.cur = sc.stack[:0], sc.keys[:0], sc.levels[:0], sc.heads[:0], sc.maps[:0], sc.cur[:0]
	if cap(sc.members) > maxKeptMembers {
		sc.members = nil // a huge record's index is not kept for the next record
	}
	sc.members, sc.depth = sc.members[:0], 0
}

// pushObject opens an object: its '{' is read.
func (sc *strictScratch) pushObject() {
	sc.stack = append(sc.stack, '{')
	sc.levels = append(sc.levels, len(sc.keys))
	sc.heads = append(sc.heads, 0)
	sc.maps = append(sc.maps, nil)
	sc.cur = append(sc.cur, -1)
}

// popObject closes the innermost object: its '}' is read.
func (sc *strictScratch) popObject() {
	sc.stack = sc.stack[:len(sc.stack)-1]
	top := len(sc.levels) - 1
	sc.keys = sc.keys[:sc.levels[top]]
	sc.levels, sc.heads, sc.maps, sc.cur = sc.levels[:top], sc.heads[:top], sc.maps[:top], sc.cur[:top]
}

// valueDone notes that a value ended at out byte end: when it is an
// object member's value, the member's span and subtree end there.
func (sc *strictScratch) valueDone(end int) {
	if len(sc.stack) == 0 || sc.stack[len(sc.stack)-1] != '{' {
		return
	}
	m := &sc.members[sc.cur[len(sc.cur)-1]]
	m.valEnd, m.next = int32(end), int32(len(sc.members))
}

// maxKeptMembers bounds the member index a worker keeps between records
// (24 bytes a member); CloudTrail's records have tens to hundreds.
const maxKeptMembers = 1 << 16

const maxLinearKeys = 64 // past this many keys, duplicates are found with a map

// strictJSON appends data to dst as compact strict JSON, repairing what it
// can. Invalid UTF-8 and broken structure are errors: the record is lost
// and reported.
func strictJSON(dst, data []byte, sc *strictScratch, rep *repairs) ([]byte, error) {
	return strictRewrite(dst, data, sc, rep, false)
}

// strictJSONPrefix is strictJSON of the record data starts with: it stops
// where that record's value ends, and sc.end says where that is in data.
// A record data holds only part of fails as strictJSON fails at the end.
func strictJSONPrefix(dst, data []byte, sc *strictScratch, rep *repairs) ([]byte, error) {
	return strictRewrite(dst, data, sc, rep, true)
}

// strictRewrite is strictJSON, or strictJSONPrefix with prefix. A record
// that is compact strict JSON already, as nearly all are, is checked and
// indexed by compactRecord and copied; any other is rewritten.
func strictRewrite(dst, data []byte, sc *strictScratch, rep *repairs, prefix bool) ([]byte, error) {
	*rep = repairs{}
	sc.reset()
	if end, ok := compactRecord(data, sc, prefix); ok {
		if prefix {
			sc.end = end // only a prefix's: a record read again (deduplicated) must not move it
		}
		return append(dst, data[:end]...), nil
	}
	sc.reset()
	return rewriteRecord(dst, data, sc, rep, prefix)
}

// rewriteRecord is strictRewrite for any record: it writes the record
// token by token, repairing what it can. sc must be reset, rep zero.
func rewriteRecord(dst, data []byte, sc *strictScratch, rep *repairs, prefix bool) ([]byte, error) {
	base := len(dst) // member spans are relative to the record's first byte
	i := skipSpace(data, 0)
	if len(data)-i >= 3 && data[i] == 0xEF && data[i+1] == 0xBB && data[i+2] == 0xBF {
		i = skipSpace(data, i+3) // a byte order mark
	}
	const (
		wantValue = iota
		wantKey   // after '{' or ',' in an object
		wantColon
		afterValue
	)
	state := wantValue
	for {
		if prefix && state == afterValue && len(sc.stack) == 0 {
			sc.end = i
			return dst, nil
		}
		i = skipSpace(data, i)
		if i == len(data) {
			if state == afterValue && len(sc.stack) == 0 {
				return dst, nil
			}
			return dst, strictError(i, "unexpected end of the record")
		}
		c := data[i]
		switch state {
		case wantKey:
			if c == '}' && len(dst) > 0 && dst[len(dst)-1] == '{' {
				state = afterValue
				i++
				dst = append(dst, '}')
				sc.popObject()
				sc.valueDone(len(dst) - base)
				continue
			}
			if c != '"' {
				return dst, strictError(i, fmt.Sprintf("expected an object key, found %s", quoteByte(c)))
			}
			start := len(dst)
			var escaped bool
			var err error
			if dst, i, escaped, err = strictString(dst, data, i, rep); err != nil {
				return dst, err
			}
			noteKey(dst, keySpan{start, len(dst), escaped, keyHead(dst[start:])}, sc, rep)
			sc.cur[len(sc.cur)-1] = int32(len(sc.members))
			sc.members = append(sc.members, member{keyStart: int32(start - base), keyEnd: int32(len(dst) - base), keyEscaped: escaped})
			state = wantColon
		case wantColon:
			if c != ':' {
				return dst, strictError(i, fmt.Sprintf("expected ':' after an object key, found %s", quoteByte(c)))
			}
			dst = append(dst, ':')
			i++
			sc.members[sc.cur[len(sc.cur)-1]].valStart = int32(len(dst) - base)
			state = wantValue
		case afterValue:
			if len(sc.stack) == 0 {
				return dst, strictError(i, fmt.Sprintf("unexpected %s after the record's end", quoteByte(c)))
			}
			open := sc.stack[len(sc.stack)-1]
			switch {
			case c == ',':
				dst = append(dst, ',')
				i++
				state = wantValue
				if open == '{' {
					state = wantKey
				}
			case c == '}' && open == '{' || c == ']' && open == '[':
				dst = append(dst, c)
				i++
				if open == '{' {
					sc.popObject()
				} else {
					sc.stack = sc.stack[:len(sc.stack)-1]
				}
				sc.valueDone(len(dst) - base)
			default:
				return dst, strictError(i, fmt.Sprintf("expected ',' or the container's end, found %s", quoteByte(c)))
			}
		case wantValue:
			sc.depth = max(sc.depth, len(sc.stack)+1)
			switch {
			case c == '{' || c == '[':
				dst = append(dst, c)
				i++
				if c == '{' {
					sc.pushObject()
					state = wantKey
					continue
				}
				sc.stack = append(sc.stack, c)
				if i = skipSpace(data, i); i < len(data) && data[i] == ']' {
					dst = append(dst, ']')
					i++
					sc.stack = sc.stack[:len(sc.stack)-1]
					sc.valueDone(len(dst) - base)
					state = afterValue
				}
				continue
			case c == '"':
				var err error
				if dst, i, _, err = strictString(dst, data, i, rep); err != nil {
					return dst, err
				}
			default:
				end := tokenEnd(data, i)
				tok := data[i:end]
				switch {
				case isStrictLiteral(tok):
					dst = append(dst, tok...)
				case isLooseNumber(tok):
					rep.note(i).numbers++
					dst = append(dst, '"')
					dst = append(dst, tok...)
					dst = append(dst, '"')
				default:
					return dst, strictError(i, fmt.Sprintf("expected a value, found %s", quoteShort(string(tok))))
				}
				i = end
			}
			sc.valueDone(len(dst) - base)
			state = afterValue
		}
	}
}

// skipSpace is the index of the first byte of data from i on that is not
// JSON white space. CloudTrail's files have none between tokens, so the
// first test almost always ends it.
func skipSpace(data []byte, i int) int {
	for i < len(data) && data[i] <= ' ' && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// strictError is a record's grammar error at byte i.
func strictError(i int, msg string) error { return fmt.Errorf("byte %d of the record: %s", i, msg) }

// tokenEnd is where the bare token (a number, true, false, null, or
// something else) that starts at data[i] ends.
func tokenEnd(data []byte, i int) int {
	for i < len(data) && !isDelimiter(data[i]) {
		i++
	}
	return i
}

// isStrictLiteral says a bare token is one strict JSON allows as it is.
func isStrictLiteral(tok []byte) bool {
	return string(tok) == "true" || string(tok) == "false" || string(tok) == "null" || isStrictNumber(tok)
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', ']', '}', ':', ' ', '\t', '\n', '\r', '"', '{', '[':
		return true
	}
	return false
}

// isStrictNumber is RFC 8259's number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func isStrictNumber(b []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	start := i
	if n := digits(); n == 0 || n > 1 && b[start] == '0' {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// isLooseNumber is what fastjson reads as a number although strict JSON
// does not: digits and signs in any order, or NaN and Inf.
func isLooseNumber(b []byte) bool {
	s := strings.TrimLeft(string(b), "+-")
	if strings.EqualFold(s, "nan") || strings.EqualFold(s, "inf") || strings.EqualFold(s, "infinity") {
		return true
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return false
		}
	}
	return len(b) > 0
}

// strictString copies the string that starts at data[i] (a quote).
// escaped says the copy holds a backslash (an escape kept or made), so
// its text is not its bytes.
func strictString(dst, data []byte, i int, rep *repairs) (_ []byte, _ int, escaped bool, _ error) {
	start := i
	dst = append(dst, '"')
	i++
	for {
		run := plainRun(data, i)
		dst = append(dst, data[i:run]...)
		i = run
		if i == len(data) {
			return dst, i, escaped, fmt.Errorf("byte %d of the record: string never closed", start)
		}
		c := data[i]
		switch {
		case c == '"':
			return append(dst, '"'), i + 1, escaped, nil
		case c < 0x20:
			escaped = true
			rep.note(i).controls++
			dst = fmt.Appendf(dst, `\u%04x`, c)
			i++
		case c >= 0x80:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				// One bad byte must not cost the event (a mangled user
				// agent, say): it becomes U+FFFD, and the record is warned.
				escaped = true
				rep.note(i).badUTF8++
				dst = append(dst, `\ufffd`...)
				i++
				continue
			}
			dst = append(dst, data[i:i+size]...)
			i += size
		default: // a backslash
			escaped = true
			if i+1 < len(data) && unescaped[data[i+1]] != 0 {
				dst = append(dst, data[i:i+2]...)
				i += 2
				continue
			}
			hi, ok := hex4(data, i+1)
			if !ok {
				rep.note(i).escapes++
				dst = append(dst, `\\`...)
				i++
				continue
			}
			switch {
			case hi < 0xD800 || hi > 0xDFFF:
				dst = append(dst, data[i:i+6]...)
				i += 6
			case hi <= 0xDBFF:
				if i+6 < len(data) && data[i+6] == '\\' {
					if lo, ok := hex4(data, i+7); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						dst = append(dst, data[i:i+12]...)
						i += 12
						continue
					}
				}
				fallthrough
			default:
				rep.note(i).surrogates++
				dst = append(dst, `\ufffd`...)
				i += 6
			}
		}
	}
}

// plainStringByte marks the bytes a string's content copies as they are:
// printable ASCII but the quote and the backslash. One table load per byte
// instead of four comparisons: the copy loop is most of the rewrite.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun is the index of the first byte of data from i on that is not
// plainStringByte, or len(data). It tests eight bytes at a time (a byte at
// a time was the largest part of the rewrite): a lane's high bit is set in
// x-0x20 when it is below 0x20, in q-1 when it is the quote, in b-1 when
// it is the backslash, and in x itself from 0x80 up. Only a lane flagged
// so borrows from the next one up, so the lowest flag is the first such
// byte.
func plainRun(data []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		q, b := x^(ones*'"'), x^(ones*'\\')
		if m := ((x - ones*0x20) | (q - ones) | (b - ones) | x) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(data) && plainStringByte[data[i]] {
		i++
	}
	return i
}

// hex4 reads the four hex digits of a \u escape whose 'u' is at data[i].
func hex4(data []byte, i int) (rune, bool) {
	if i+5 > len(data) || data[i] != 'u' {
		return 0, false
	}
	return hexValue(data[i+1 : i+5])
}

// hexValue reads hex digits.
func hexValue(h []byte) (rune, bool) {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// noteKey counts a key that repeats one of its object's earlier keys.
func noteKey(out []byte, k keySpan, sc *strictScratch, rep *repairs) {
	level := len(sc.levels) - 1
	kt := out[k.start:k.end]
	dup := false
	if m := sc.maps[level]; m != nil {
		_, dup = m[keyText(kt)]
		m[keyText(kt)] = struct{}{}
	} else {
		siblings := sc.keys[sc.levels[level]:]
		bit := keyBit(k)
		if sc.heads[level]&bit != 0 {
			for _, s := range siblings {
				if s.head != k.head && !s.escaped && !k.escaped {
					continue
				}
				if sameKey(out, s, k) {
					dup = true
					break
				}
			}
		}
		sc.heads[level] |= bit
		sc.keys = append(sc.keys, k)
		if len(siblings) >= maxLinearKeys {
			// A quadratic search would let one hostile object cost
			// minutes: past this size the object's keys go in a map.
			m := make(map[string]struct{}, 2*maxLinearKeys)
			for _, s := range sc.keys[sc.levels[level]:] {
				m[keyText(out[s.start:s.end])] = struct{}{}
			}
			sc.maps[level] = m
		}
	}
	if dup {
		if rep.dupKeys == 0 {
			rep.dupKey = keyText(kt)
		}
		rep.dupKeys++
	}
}

// keyBit is the bit of k's head in its object's heads: one of 64 chosen
// by a multiplicative hash, or all of them for a key with an escape,
// whose head says nothing of its text. A key whose bit its object's heads
// lack repeats none of its keys, found without comparing it to each.
func keyBit(k keySpan) uint64 {
	if k.escaped {
		return ^uint64(0)
	}
	return 1 << (k.head * 0x9E3779B97F4A7C15 >> 58)
}

// sameKey says whether keys a and b of out are the same key. Objects
// are searched linearly (see noteKey), so the common case, two keys
// without escapes, is a plain comparison.
func sameKey(out []byte, a, b keySpan) bool {
	if !a.escaped && !b.escaped {
		return bytes.Equal(out[a.start:a.end], out[b.start:b.end])
	}
	return keyText(out[a.start:a.end]) == keyText(out[b.start:b.end])
}

// keyText is a quoted key as its text ("\u0061" and "a" are the same key).
func keyText(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1])
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return string(quoted)
	}
	return s
}

// appendJSON writes v as compact strict JSON. With dedupe, an object key
// that appears again later is left out: the last value wins, as in
// JSON.parse, Go and Python, and as the typed columns read it.
func appendJSON(dst []byte, v *fastjson.Value, dedupe bool) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		type kv struct {
			k string
			v *fastjson.Value
		}
		var kvs []kv
		o.Visit(func(k []byte, v *fastjson.Value) { kvs = append(kvs, kv{string(k), v}) })
		var last map[string]int
		if dedupe && len(kvs) > 1 {
			last = make(map[string]int, len(kvs))
			for i, e := range kvs {
				last[e.k] = i
			}
		}
		dst = append(dst, '{')
		first := true
		for i, e := range kvs {
			if last != nil && last[e.k] != i {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, e.k)
			dst = append(dst, ':')
			dst = appendJSON(dst, e.v, dedupe)
		}
		return append(dst, '}')
	case fastjson.TypeArray:
		dst = append(dst, '[')
		for i, e := range v.GetArray() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e, dedupe)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		return appendJSONString(dst, string(v.GetStringBytes()))
	}
	return v.MarshalTo(dst) // numbers as written, true, false, null
}

// appendJSONString quotes s for JSON; control bytes become \u00XX.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = fmt.Appendf(dst, `\u%04x`, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
