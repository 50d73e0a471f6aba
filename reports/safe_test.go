package reports

import (
	"encoding/json"
	"strings"
	"testing"
)

// hostileText has one of each kind of character that must never be shown
// raw: ANSI escapes, a bell, CR LF, TAB, NUL, DEL, a C1 CSI, every bidi
// control, the line separator, and a byte that is not UTF-8.
const hostileText = "a\x1b[31mb\x07c\r\nd\te\x00f\x7fg\u009bh" +
	"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028i\xffé"

// rawUnsafe reports the first character of s that must not be shown raw.
func rawUnsafe(s string, keepLines bool) (string, bool) {
	for i, r := range s {
		if r == '\uFFFD' && strings.HasPrefix(s[i:], "\xff") || unsafeRune(r) && !(keepLines && (r == '\n' || r == '\t')) {
			return string(r), true
		}
	}
	return "", false
}

func TestSafeText(t *testing.T) {
	got := SafeText(hostileText)
	want := `a\u001b[31mb\u0007c\u000d\u000ad\u0009e\u0000f\u007fg\u009bh` +
		`\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028i\xffé`
	if got != want {
		t.Errorf("SafeText:\n got %s\nwant %s", got, want)
	}
	if c, bad := rawUnsafe(got, false); bad {
		t.Errorf("SafeText left %q raw", c)
	}
	lines := SafeLines(hostileText)
	if !strings.Contains(lines, "\\u000d\nd\te") {
		t.Errorf("SafeLines should keep LF and TAB and escape CR: %q", lines)
	}
	if c, bad := rawUnsafe(lines, true); bad {
		t.Errorf("SafeLines left %q raw", c)
	}
	if s := "plain text, ünïcode → ok"; SafeText(s) != s {
		t.Errorf("clean text changed: %q", SafeText(s))
	}
	// JSON text stays valid and means the same after escaping.
	b, _ := json.Marshal(map[string]string{"ua": strings.ToValidUTF8(hostileText, "?")})
	esc := escapeJSON(b)
	var back map[string]string
	if err := json.Unmarshal(esc, &back); err != nil || back["ua"] != strings.ToValidUTF8(hostileText, "?") {
		t.Errorf("escapeJSON changed the value: %v %q", err, back["ua"])
	}
	if c, bad := rawUnsafe(string(esc), false); bad {
		t.Errorf("escapeJSON left %q raw in %s", c, esc)
	}
	// JSON text in a CSV or table cell stays valid JSON too.
	if err := json.Unmarshal([]byte(SafeText(string(b))), &back); err != nil {
		t.Errorf("SafeText broke JSON text: %v", err)
	}
}

func TestSafeCSV(t *testing.T) {
	for in, want := range map[string]string{
		"=1+2": "'=1+2", "+1": "'+1", "-2+3": "'-2+3", "@SUM(A1)": "'@SUM(A1)", "\tx": `\u0009x`,
		"\u202e=1": `\u202e=1`, "plain": "plain", "": "",
	} {
		if got := SafeCSV(in); got != want {
			t.Errorf("SafeCSV(%q) = %q, want %q", in, got, want)
		}
	}
}
