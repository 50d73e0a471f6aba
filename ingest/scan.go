package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// scanner splits a JSON byte stream into values without parsing them, so a
// Records array of any size streams one record at a time. It tracks the byte
// offset for error messages and never recurses, so hostile nesting cannot
// exhaust the stack.
type scanner struct {
	r      io.Reader
	buf    []byte
	pos    int
	end    int
	offset int64 // offset of buf[0] in the stream
	err    error // sticky read error (io.EOF at the end)

	lastNewline int64 // offset of the last newline skipped as white space

	// pending are bytes handed back by rewind, read again before r.
	pending []byte

	// While capture is on, consumed bytes are appended to captured, up to
	// capLimit bytes: past it capOver is set and the rest is only scanned,
	// so a huge value costs no memory. capNewline is the offset of the
	// first newline consumed while capturing (-1 if none).
	capture    bool
	captured   []byte
	capLimit   int
	capOver    bool
	capNewline int64

	// open is a bit per open bracket of the value being read: set for '{'.
	open [maxTrackedDepth / 64]uint64
}

// maxTrackedDepth is how deep brackets are matched ('{' closed by '}');
// deeper values are only counted (the parser refuses them anyway).
const maxTrackedDepth = 4096

const scanBufSize = 64 << 10

// errValueTooLarge reports a value over the size limit; the scanner has
// skipped it and can go on.
var errValueTooLarge = errors.New("value too large")

// syntaxError is malformed JSON at a byte offset of the decompressed stream.
type syntaxError struct {
	Offset int64
	Msg    string
	Err    error // the read error behind it, if any
}

func (e *syntaxError) Error() string { return fmt.Sprintf("byte %d: %s", e.Offset, e.Msg) }
func (e *syntaxError) Unwrap() error { return e.Err }

func newScanner(r io.Reader) *scanner { return newScannerBuf(r, nil) }

// newScannerBuf reads through buf, which the caller may reuse afterwards.
func newScannerBuf(r io.Reader, buf []byte) *scanner {
	if buf == nil {
		buf = make([]byte, scanBufSize)
	}
	return &scanner{r: r, buf: buf}
}

// pos64 is the stream offset of the next unread byte.
func (s *scanner) pos64() int64 { return s.offset + int64(s.pos) }

func (s *scanner) fill() bool {
	if s.pos < s.end {
		return true
	}
	s.offset += int64(s.end)
	s.pos, s.end = 0, 0
	if len(s.pending) > 0 {
		s.end = copy(s.buf, s.pending)
		s.pending = s.pending[s.end:]
		return true
	}
	if s.err != nil {
		return false
	}
	for s.end == 0 && s.err == nil {
		n, err := s.r.Read(s.buf)
		s.end = n
		if err != nil {
			s.err = err
		}
		if n == 0 && err == nil {
			continue
		}
	}
	return s.end > 0
}

// readErr is the error to report when input ended early.
func (s *scanner) readErr(what string) error {
	if s.err != nil && !errors.Is(s.err, io.EOF) {
		return &syntaxError{Offset: s.pos64(), Msg: s.err.Error(), Err: s.err}
	}
	return &syntaxError{Offset: s.pos64(), Msg: strings.TrimSpace("unexpected end of input " + what)}
}

func (s *scanner) consume(n int) {
	if s.capture {
		b := s.buf[s.pos : s.pos+n]
		if s.capNewline < 0 {
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				s.capNewline = s.pos64() + int64(i)
			}
		}
		if len(s.captured)+n > s.capLimit {
			s.capOver = true
		}
		if !s.capOver {
			s.captured = append(s.captured, b...)
		}
	}
	s.pos += n
}

// startCapture begins capturing at the next byte, keeping at most limit bytes.
func (s *scanner) startCapture(limit int) {
	s.capture, s.captured, s.capLimit, s.capOver, s.capNewline = true, s.captured[:0], limit, false, -1
}

// rewind makes the scanner read b again, as the bytes at stream offset off,
// before what it has not consumed yet. b must not be modified afterwards.
func (s *scanner) rewind(b []byte, off int64) {
	rest := make([]byte, 0, len(b)+s.end-s.pos+len(s.pending))
	rest = append(append(append(rest, b...), s.buf[s.pos:s.end]...), s.pending...)
	s.pending = rest
	s.pos, s.end, s.offset = 0, 0, off
	s.capture = false
}

// ensure makes at least n unconsumed bytes available in buf, unless the
// input ends first; it reports whether it could.
func (s *scanner) ensure(n int) bool {
	for s.end-s.pos < n {
		if s.pos > 0 {
			copy(s.buf, s.buf[s.pos:s.end])
			s.offset += int64(s.pos)
			s.end -= s.pos
			s.pos = 0
		}
		if len(s.pending) > 0 {
			k := copy(s.buf[s.end:], s.pending)
			s.pending = s.pending[k:]
			s.end += k
			continue
		}
		if s.err != nil {
			return false
		}
		k, err := s.r.Read(s.buf[s.end:])
		s.end += k
		if err != nil {
			s.err = err
		}
	}
	return true
}

// peek skips white space and returns the next byte without consuming it;
// ok is false at the end of input.
func (s *scanner) peek() (byte, bool) {
	for s.fill() {
		c := s.buf[s.pos]
		switch c {
		case '\n':
			s.lastNewline = s.pos64()
			s.consume(1)
			continue
		case ' ', '\t', '\r':
			s.consume(1)
			continue
		case 0xEF: // a UTF-8 byte order mark is white space to us
			if s.end-s.pos >= 3 && s.buf[s.pos+1] == 0xBB && s.buf[s.pos+2] == 0xBF {
				s.consume(3)
				continue
			}
		}
		return c, true
	}
	return 0, false
}

// expect consumes byte c after white space.
func (s *scanner) expect(c byte, context string) error {
	got, ok := s.peek()
	if !ok {
		return s.readErr(context)
	}
	if got != c {
		return &syntaxError{Offset: s.pos64(), Msg: fmt.Sprintf("expected %q %s, found %s", c, context, quoteByte(got))}
	}
	s.consume(1)
	return nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// readKey reads an object key string and returns it unescaped only as far
// as keys need (CloudTrail keys are plain ASCII; escapes are kept literally).
// Keys longer than 256 bytes are truncated in the result.
func (s *scanner) readKey() (string, error) {
	if err := s.expect('"', "at object key"); err != nil {
		return "", err
	}
	var key []byte
	escaped := false
	for {
		if !s.fill() {
			return "", s.readErr("in object key")
		}
		// What the buffer holds of the key is consumed at once: byte by
		// byte, consuming (and capturing) was a quarter of the time of a
		// JSON-lines file, whose every line's keys are read here.
		chunk := s.buf[s.pos:s.end]
		for i, c := range chunk {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
				continue
			case c == '"':
				s.consume(i + 1)
				return string(key), nil
			}
			if len(key) < 256 {
				key = append(key, c)
			}
		}
		s.consume(len(chunk))
	}
}

// stringRun is the length of the run of b before its first quote or
// backslash (all of b if it has neither).
func stringRun(b []byte) int {
	n := bytes.IndexByte(b, '"')
	if n < 0 {
		n = len(b)
	}
	if k := bytes.IndexByte(b[:n], '\\'); k >= 0 {
		return k
	}
	return n
}

// readValue consumes one JSON value. When dst is not nil the value's bytes
// are appended to it; past limit bytes the value is skipped to its end and
// errValueTooLarge is returned. Only structure is checked here (matched
// brackets, closed strings); the full parse happens later, per record. On a
// syntax error dst holds the value's bytes up to the error (unless it was
// too large), so a caller can look for a place to resume in them.
func (s *scanner) readValue(dst *[]byte, limit int) error {
	first, ok := s.peek()
	if !ok {
		return s.readErr("where a value was expected")
	}
	start := s.pos64()
	depth := 0
	inString, escaped := false, false
	size := 0
	tooLarge := false
	scalar := first != '{' && first != '[' && first != '"'
	if first == '}' || first == ']' || first == ',' || first == ':' {
		return &syntaxError{Offset: start, Msg: fmt.Sprintf("expected a value, found %s", quoteByte(first))}
	}
	for {
		if !s.fill() {
			if scalar && depth == 0 && !inString {
				return nil // a scalar that ends the input
			}
			return s.readErr(fmt.Sprintf("inside the value that starts at byte %d", start))
		}
		chunk := s.buf[s.pos:s.end]
		i := 0
		done := false
		var bad error
	scan:
		for ; i < len(chunk); i++ {
			c := chunk[i]
			if inString {
				if !escaped && c != '"' && c != '\\' {
					// Jump to the next quote or backslash: most of a
					// CloudTrail record is string content.
					i += stringRun(chunk[i:])
					if i == len(chunk) {
						break scan
					}
					c = chunk[i]
				}
				if escaped {
					escaped = false
				} else if c == '\\' {
					escaped = true
				} else if c == '"' {
					inString = false
					if depth == 0 {
						i++
						done = true
						break scan
					}
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				if depth < maxTrackedDepth {
					w, bit := depth/64, uint64(1)<<(depth%64)
					if c == '{' {
						s.open[w] |= bit
					} else {
						s.open[w] &^= bit
					}
				}
				depth++
			case '}', ']':
				if depth == 0 { // ends a scalar inside the enclosing container
					done = true
					break scan
				}
				depth--
				if depth < maxTrackedDepth {
					if wasObject := s.open[depth/64]&(1<<(depth%64)) != 0; wasObject != (c == '}') {
						bad = &syntaxError{Offset: s.pos64() + int64(i), Msg: fmt.Sprintf("%s does not close the %s of the value that starts at byte %d", quoteByte(c), map[bool]string{true: "'{'", false: "'['"}[wasObject], start)}
						break scan
					}
				}
				if depth == 0 {
					i++
					done = true
					break scan
				}
			case ',', ' ', '\t', '\n', '\r':
				if scalar && depth == 0 {
					done = true
					break scan
				}
			}
		}
		if dst != nil && !tooLarge {
			if size+i > limit {
				tooLarge = true
			} else {
				*dst = append(*dst, chunk[:i]...)
			}
		}
		size += i
		s.consume(i)
		if bad != nil {
			if tooLarge && dst != nil {
				*dst = (*dst)[:0]
			}
			return bad
		}
		if done {
			if tooLarge {
				return errValueTooLarge
			}
			return nil
		}
	}
}

// recordStartKeys are the first keys that mark the start of a record when
// resuming after a broken one: the top-level fields of a CloudTrail event
// (exports that sort keys start with any of them) and of a lookup-events
// item. A nested object that happens to start with one only costs an extra
// record error: the bytes around it were lost to the broken record anyway.
var recordStartKeys = []string{
	"eventversion", "eventid", "eventtime", "eventname", "eventsource", "useridentity",
	"additionaleventdata", "annotation", "apiversion", "awsregion", "errorcode", "errormessage",
	"eventcategory", "eventtype", "managementevent", "readonly", "recipientaccountid", "requestid",
	"requestparameters", "resources", "responseelements", "serviceeventdetails",
	"sessioncredentialfromconsole", "sharedeventid", "sourceipaddress", "tlsdetails", "useragent",
	"vpcendpointid", "insightdetails", "edgedevicedetails",
	"cloudtrailevent", "accesskeyid", "username",
}

// seekRecordStart consumes bytes up to the next '{' that opens an object
// whose first key is one of recordStartKeys, and says whether it found one
// before the input ended. The bytes skipped are the caller's to report.
func (s *scanner) seekRecordStart() bool {
	const look = 40 // '{', white space, and the longest key in quotes
	for {
		if !s.fill() {
			return false
		}
		k := bytes.IndexByte(s.buf[s.pos:s.end], '{')
		if k < 0 {
			s.consume(s.end - s.pos)
			continue
		}
		s.consume(k)
		s.ensure(look)
		if looksLikeRecordStart(s.buf[s.pos:s.end]) {
			return true
		}
		s.consume(1)
	}
}

// looksLikeRecordStart reports b starting with '{' then a known first key.
func looksLikeRecordStart(b []byte) bool {
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	if len(b) == 0 || b[0] != '"' {
		return false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return false
	}
	key := b[1 : 1+end]
	for _, k := range recordStartKeys {
		if len(key) == len(k) && strings.EqualFold(string(key), k) {
			return true
		}
	}
	return false
}
