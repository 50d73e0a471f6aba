package reports

import "io"

// TerminalWriter passes text through to a terminal with every ASCII control
// character but line feed and tab shown as U+FFFD, so data formats (CSV)
// printed on a terminal cannot carry an ANSI escape to it. Bytes of
// multi-byte UTF-8 are never below 0x80, so filtering bytes is exact.
type TerminalWriter struct{ W io.Writer }

func (t TerminalWriter) Write(p []byte) (int, error) {
	clean := true
	for _, c := range p {
		if isControlByte(c) {
			clean = false
			break
		}
	}
	if clean {
		return t.W.Write(p)
	}
	out := make([]byte, 0, len(p)+16)
	for _, c := range p {
		if isControlByte(c) {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, c)
		}
	}
	if _, err := t.W.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func isControlByte(c byte) bool { return (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f }
