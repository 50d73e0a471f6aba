package reports

import (
	"io"
	"strings"
	"unicode/utf8"
)

// sizingRows is how many rows a Table looks at before fixing its widths.
const sizingRows = 200

// Table writes an aligned text table, streaming: it buffers the first rows
// to size the columns, then writes every later row as it comes.
type Table struct {
	cols     []string
	widths   []int
	maxWidth int
	buffered [][]string
	sized    bool
}

// NewTable starts a table; maxWidth 0 means no limit.
func NewTable(cols []string, maxWidth int) *Table {
	t := &Table{maxWidth: maxWidth}
	for _, c := range cols {
		t.cols = append(t.cols, SafeText(c))
	}
	return t
}

// Add adds a row.
func (t *Table) Add(w io.Writer, cells []string) error {
	for i, c := range cells {
		cells[i] = SafeText(c)
	}
	if t.sized {
		return t.writeRow(w, cells)
	}
	t.buffered = append(t.buffered, cells)
	if len(t.buffered) >= sizingRows {
		return t.size(w)
	}
	return nil
}

// Close writes what is still buffered.
func (t *Table) Close(w io.Writer) error {
	if !t.sized {
		return t.size(w)
	}
	return nil
}

func (t *Table) size(w io.Writer) error {
	t.widths = make([]int, len(t.cols))
	for i, c := range t.cols {
		t.widths[i] = utf8.RuneCountInString(c)
	}
	for _, r := range t.buffered {
		for i, c := range r {
			if n := utf8.RuneCountInString(c); i < len(t.widths) && n > t.widths[i] {
				t.widths[i] = n
			}
		}
	}
	t.fit()
	t.sized = true
	if err := t.writeRow(w, t.cols); err != nil {
		return err
	}
	sep := make([]string, len(t.cols))
	for i, wd := range t.widths {
		sep[i] = strings.Repeat("-", wd)
	}
	if _, err := io.WriteString(w, strings.Join(sep, "  ")+"\n"); err != nil {
		return err
	}
	for _, r := range t.buffered {
		if err := t.writeRow(w, r); err != nil {
			return err
		}
	}
	t.buffered = nil
	return nil
}

// fit shrinks the widest columns until the table fits maxWidth.
func (t *Table) fit() {
	if t.maxWidth <= 0 {
		return
	}
	total := func() int {
		n := 2 * (len(t.widths) - 1)
		for _, w := range t.widths {
			n += w
		}
		return n
	}
	for total() > t.maxWidth {
		widest := 0
		for i, w := range t.widths {
			if w > t.widths[widest] {
				widest = i
			}
		}
		if t.widths[widest] <= 8 {
			return
		}
		t.widths[widest]--
	}
}

func (t *Table) writeRow(w io.Writer, cells []string) error {
	var b strings.Builder
	for i, wd := range t.widths {
		c := ""
		if i < len(cells) {
			c = cells[i]
		}
		if n := utf8.RuneCountInString(c); n > wd {
			c = string([]rune(c)[:max(wd-1, 0)]) + "…"
		}
		if i > 0 {
			b.WriteString("  ")
		}
		b.WriteString(c)
		if i < len(t.widths)-1 {
			b.WriteString(strings.Repeat(" ", wd-utf8.RuneCountInString(c)))
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
