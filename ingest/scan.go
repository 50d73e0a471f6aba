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

	capture  bool // append every consumed byte to captured
	captured []byte
}

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
	if s.err != nil {
		return false
	}
	s.offset += int64(s.end)
	s.pos, s.end = 0, 0
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
		s.captured = append(s.captured, s.buf[s.pos:s.pos+n]...)
	}
	s.pos += n
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
		c := s.buf[s.pos]
		s.consume(1)
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
			continue
		case c == '"':
			return string(key), nil
		}
		if len(key) < 256 {
			key = append(key, c)
		}
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
// errValueTooLarge is returned. Only structure is checked here (balanced
// brackets, closed strings); the full parse happens later, per record.
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
				depth++
			case '}', ']':
				if depth == 0 { // ends a scalar inside the enclosing container
					done = true
					break scan
				}
				depth--
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
		if done {
			if tooLarge {
				return errValueTooLarge
			}
			return nil
		}
	}
}
