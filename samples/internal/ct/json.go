// Package ct renders CloudTrail events as compact JSON without reflection.
// It is shared by the corpus generator (package samples) and the program
// that writes the bundled sample files (samples/internal/mksamples), so both
// produce the same realistic event shapes.
package ct

import (
	"strconv"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendTime appends t in CloudTrail's eventTime format, 2024-03-01T12:34:56Z.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, int(mo))
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, mi)
	dst = append(dst, ':')
	dst = append2(dst, s)
	return append(dst, 'Z')
}

// FormatTime returns t in CloudTrail's eventTime format.
func FormatTime(t time.Time) string { return string(AppendTime(nil, t)) }

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10%10), byte('0'+v%10))
}

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// Obj builds one JSON object. The zero value is ready to use; Bytes returns
// the finished object. Keys are written in call order, so output is
// deterministic.
type Obj struct {
	b []byte
}

// NewObj returns an object builder with room for n bytes.
func NewObj(n int) *Obj { return &Obj{b: make([]byte, 0, n)} }

func (o *Obj) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = AppendString(o.b, k)
	o.b = append(o.b, ':')
}

// Str adds a string member.
func (o *Obj) Str(k, v string) *Obj {
	o.key(k)
	o.b = AppendString(o.b, v)
	return o
}

// Raw adds a member whose value is already JSON; nil writes null.
func (o *Obj) Raw(k string, v []byte) *Obj {
	o.key(k)
	if v == nil {
		o.b = append(o.b, "null"...)
	} else {
		o.b = append(o.b, v...)
	}
	return o
}

// Int adds an integer member.
func (o *Obj) Int(k string, v int64) *Obj {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
	return o
}

// Float adds a number member.
func (o *Obj) Float(k string, v float64) *Obj {
	o.key(k)
	o.b = strconv.AppendFloat(o.b, v, 'f', -1, 64)
	return o
}

// Bool adds a boolean member.
func (o *Obj) Bool(k string, v bool) *Obj {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
	return o
}

// Null adds a null member.
func (o *Obj) Null(k string) *Obj {
	o.key(k)
	o.b = append(o.b, "null"...)
	return o
}

// Bytes finishes the object and returns it.
func (o *Obj) Bytes() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}

// Arr builds a JSON array of already-encoded values.
func Arr(vals ...[]byte) []byte {
	n := 2
	for _, v := range vals {
		n += len(v) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return append(b, ']')
}

// StrArr builds a JSON array of strings.
func StrArr(vals ...string) []byte {
	b := []byte{'['}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, v)
	}
	return append(b, ']')
}
