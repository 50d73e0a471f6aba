package reports

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Everything a log holds reaches people through this file: one rule for
// which characters are never shown raw, and one visible spelling for them,
// used by every writer (terminal, Markdown, HTML, CSV) and every message.
//
// Unsafe are the C0 and C1 controls and DEL (an ANSI escape starts with
// one), the bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E,
// U+200F, U+061C: they reorder what a terminal, browser or spreadsheet
// shows, so "gpj.exe" can read as "exe.jpg"), the line and paragraph
// separators, and bytes that are not UTF-8. Each is written as its JSON
// escape (\u001b, \u202e; a bad byte as \xff), so the reader sees that it
// was there and which it was, and JSON text in a cell stays valid JSON
// with the same value.

// unsafeRune is true for the characters described above.
func unsafeRune(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}

// SafeText makes log text safe to show on one line: in a table cell, a CSV
// cell, a Markdown cell or a one-line message. Line breaks and tabs are
// escaped too.
func SafeText(s string) string { return safe(s, false) }

// SafeLines is SafeText for text of several lines (an error message, a
// whole document): line feeds and tabs are kept.
func SafeLines(s string) string { return safe(s, true) }

func safe(s string, keepLines bool) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (unsafeRune(r) && !(keepLines && (r == '\n' || r == '\t'))) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && !(keepLines && (r == '\n' || r == '\t')):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// escapeJSON escapes, in JSON text, the unsafe characters encoding/json
// leaves raw (DEL, C1 controls, bidi controls). They can only occur inside
// strings, where \uXXXX means the same character, so the value is
// unchanged and the file shows no raw control.
func escapeJSON(b []byte) []byte {
	clean := true
	for _, c := range b {
		if c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if unsafeRune(r) && r >= 0x7f {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// JSONWriter passes JSON text through escapeJSON, for encoders that write
// straight to an output. Each Write must end on a character boundary, as
// json.Encoder's do (one whole value per Write).
type JSONWriter struct{ W io.Writer }

func (j JSONWriter) Write(p []byte) (int, error) {
	if _, err := j.W.Write(escapeJSON(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
