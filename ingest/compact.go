package ingest

import "unicode/utf8"

// compactRecord is strictRewrite's fast path, for a record that is already
// compact strict JSON, as CloudTrail delivers almost every one: it checks
// the grammar and builds the tape's member index in sc, without writing
// anything, so the record's bytes are its rewrite. It gives up (ok false)
// at the first thing the rewrite would change or warn about (white space,
// a control byte, bytes that are not UTF-8, a lone surrogate or unknown
// escape, a number strict JSON does not allow, a repeated key) and at
// anything it cannot read; strictRewrite then reads the record from its
// start, as if this had not run. With prefix, the record may be followed
// by anything; otherwise it must end data. end is where it ends.
//
// Each state of the grammar is a place in the code rather than a value
// tested on every token: the general rewrite spends most of its time
// deciding what comes next.
func compactRecord(data []byte, sc *strictScratch, prefix bool) (end int, ok bool) {
	if len(data) == 0 || data[0] != '{' {
		return 0, false
	}
	var ignored repairs // a repeated key ends the fast path instead
	i := 0
value:
	if i >= len(data) {
		return 0, false
	}
	sc.depth = max(sc.depth, len(sc.stack)+1)
	switch c := data[i]; {
	case c == '{':
		if len(sc.stack) >= maxJSONDepth {
			return 0, false // the rewrite says how deep
		}
		i++
		sc.pushObject()
		if i < len(data) && data[i] == '}' {
			i++
			sc.popObject()
			goto after
		}
		goto key
	case c == '[':
		if len(sc.stack) >= maxJSONDepth {
			return 0, false
		}
		i++
		sc.stack = append(sc.stack, '[')
		if i < len(data) && data[i] == ']' {
			i++
			sc.stack = sc.stack[:len(sc.stack)-1]
			goto after
		}
		goto value
	case c == '"':
		if i, _, ok = compactString(data, i); !ok {
			return 0, false
		}
	default:
		j := tokenEnd(data, i)
		if !isStrictLiteral(data[i:j]) {
			return 0, false
		}
		i = j
	}
	goto after

key:
	{
		if i >= len(data) || data[i] != '"' {
			return 0, false
		}
		start := i
		var escaped bool
		if i, escaped, ok = compactString(data, i); !ok {
			return 0, false
		}
		if noteKey(data, keySpan{start, i, escaped, keyHead(data[start:i])}, sc, &ignored); ignored.dupKeys > 0 {
			return 0, false
		}
		if i >= len(data) || data[i] != ':' {
			return 0, false
		}
		sc.cur[len(sc.cur)-1] = int32(len(sc.members))
		sc.members = append(sc.members, member{keyStart: int32(start), keyEnd: int32(i), valStart: int32(i + 1), keyEscaped: escaped})
		i++
		goto value
	}

after:
	sc.valueDone(i)
	if len(sc.stack) == 0 {
		if !prefix && i != len(data) {
			return 0, false
		}
		return i, true
	}
	if i >= len(data) {
		return 0, false
	}
	switch open, c := sc.stack[len(sc.stack)-1], data[i]; {
	case c == ',':
		i++
		if open == '{' {
			goto key
		}
		goto value
	case c == '}' && open == '{':
		i++
		sc.popObject()
		goto after
	case c == ']' && open == '[':
		i++
		sc.stack = sc.stack[:len(sc.stack)-1]
		goto after
	}
	return 0, false
}

// compactString reads the string that starts at data[i] (a quote) as
// compactRecord does: ok only when strictString would copy it as it is.
// next is the index after its closing quote.
func compactString(data []byte, i int) (next int, escaped, ok bool) {
	i++
	for {
		i = plainRun(data, i)
		if i >= len(data) {
			return 0, false, false
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, escaped, true
		case c < 0x20:
			return 0, false, false
		case c >= 0x80:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, false, false
			}
			i += size
		default: // a backslash
			escaped = true
			if i+1 < len(data) && unescaped[data[i+1]] != 0 {
				i += 2
				continue
			}
			hi, ok := hex4(data, i+1)
			if !ok || hi >= 0xD800 && hi <= 0xDFFF {
				return 0, false, false // the rewrite repairs it, or pairs a surrogate
			}
			i += 6
		}
	}
}
