// Package table writes aligned text tables whose cells may hold several
// lines, fitted to a width by wrapping the widest columns. Every cell
// passes through one function, [Cell], before it is measured and written.
package table

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Gap is the number of spaces between two columns.
const Gap = 2

// minColumn is the narrowest a column is wrapped to (its header may be
// wider, and then stays so).
const minColumn = 10

// Cell is the one formatting step every cell of every table goes through,
// before it is measured: it escapes what a terminal would act on instead
// of showing (C0 and C1 control characters, DEL, invalid UTF-8, and the
// Unicode line separators, bidirectional controls and zero-width
// characters, as \t, \n, \r, \xNN or \uNNNN), so that a value from outside
// cannot forge a row or rewrite the screen.
func Cell(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x200b && r <= 0x200f, r >= 0x2028 && r <= 0x202e, r >= 0x2060 && r <= 0x2069, r == 0xfeff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// Table is a header and rows; a row is one cell per column, a cell a
// list of lines.
type Table struct {
	Header []string
	Rows   [][][]string
	// Width is the width to fit (a terminal's columns); 0: no limit.
	Width int
	// Blank separates rows with an empty line (for rows of several lines).
	Blank bool
}

// Row makes a row of one-line cells.
func Row(cells ...string) [][]string {
	r := make([][]string, len(cells))
	for i, c := range cells {
		r[i] = []string{c}
	}
	return r
}

// Write writes t aligned, without trailing spaces. When the table is wider
// than t.Width, the widest columns are narrowed, down to minColumn (or
// their header), and their cells wrapped at spaces, commas or slashes, or
// cut where there are none.
func (t Table) Write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	n := len(t.Header)
	header := make([][]string, n)
	for i, h := range t.Header {
		header[i] = []string{Cell(h)}
	}
	rows := make([][][]string, len(t.Rows))
	for r, row := range t.Rows {
		rows[r] = make([][]string, n)
		for i := 0; i < n && i < len(row); i++ {
			for _, line := range row[i] {
				rows[r][i] = append(rows[r][i], strings.Split(Cell(line), "\n")...)
			}
		}
	}
	widths := make([]int, n)
	for i := range header {
		widths[i] = width(header[i][0])
	}
	for _, row := range rows {
		for i, c := range row {
			for _, line := range c {
				widths[i] = max(widths[i], width(line))
			}
		}
	}
	fit(widths, header, t.Width)
	writeRow(bw, widths, header)
	for r, row := range rows {
		if t.Blank && r > 0 {
			bw.WriteByte('\n')
		}
		wrapped := make([][]string, n)
		for i, c := range row {
			for _, line := range c {
				wrapped[i] = append(wrapped[i], Wrap(line, widths[i])...)
			}
		}
		writeRow(bw, widths, wrapped)
	}
	return bw.Flush()
}

// fit narrows the widest columns, one character at a time, until the
// table fits limit or no column can give more.
func fit(widths []int, header [][]string, limit int) {
	if limit <= 0 {
		return
	}
	total := func() int {
		s := Gap * (len(widths) - 1)
		for _, w := range widths {
			s += w
		}
		return s
	}
	for total() > limit {
		widest := -1
		for i, w := range widths {
			if w > max(minColumn, width(header[i][0])) && (widest < 0 || w > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return
		}
		widths[widest]--
	}
}

// writeRow writes the lines of one row, its cells side by side.
func writeRow(w *bufio.Writer, widths []int, cells [][]string) {
	lines := 1
	for _, c := range cells {
		lines = max(lines, len(c))
	}
	for l := 0; l < lines; l++ {
		cell := func(i int) string {
			if l < len(cells[i]) {
				return cells[i][l]
			}
			return ""
		}
		last := len(widths) - 1
		for last > 0 && cell(last) == "" {
			last--
		}
		for i := 0; i <= last; i++ {
			s := cell(i)
			w.WriteString(s)
			if i < last {
				w.WriteString(strings.Repeat(" ", widths[i]-width(s)+Gap))
			}
		}
		w.WriteByte('\n')
	}
}

// Wrap breaks s into lines of at most n characters, after a space, comma,
// semicolon, slash, dot or hyphen when there is one in the line's second
// half, else anywhere.
func Wrap(s string, n int) []string {
	if n <= 0 || width(s) <= n {
		return []string{s}
	}
	var out []string
	for width(s) > n {
		r := []rune(s)
		cut := n
		for i := n; i > n/2; i-- {
			if strings.ContainsRune(" ,;/.-", r[i-1]) {
				cut = i
				break
			}
		}
		out = append(out, strings.TrimRight(string(r[:cut]), " "))
		s = strings.TrimLeft(string(r[cut:]), " ")
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func width(s string) int { return utf8.RuneCountInString(s) }
