package plan

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// tableHeader is the header row of the table form.
var tableHeader = []string{"SITE", "KIND", "ID", "SUBJECT", "SANS", "USAGES", "EKU", "KEY", "ISSUER", "SERVERS"}

// columnGap is the number of spaces between two columns.
const columnGap = 2

// WriteTable writes p as an aligned table, one row group per certificate
// (multi-line cells: one SAN, usage or server per line), then the warnings.
// With explain it then lists, for every certificate, each name with the
// rules that put it there. The output is deterministic.
func WriteTable(w io.Writer, p *Plan, explain bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	writeSummary(bw, p)
	groups := make([][][]string, len(p.Certificates))
	for i := range p.Certificates {
		groups[i] = tableCells(&p.Certificates[i])
	}
	widths := columnWidths(tableHeader, groups)
	writeLine(bw, widths, func(i int) string { return tableHeader[i] })
	for gi, cells := range groups {
		if gi > 0 {
			bw.WriteByte('\n')
		}
		lines := 1
		for _, c := range cells {
			lines = max(lines, len(c))
		}
		for l := 0; l < lines; l++ {
			writeLine(bw, widths, func(i int) string {
				if l < len(cells[i]) {
					return cells[i][l]
				}
				return ""
			})
		}
	}
	writeWarnings(bw, p.Warnings)
	if explain {
		writeExplain(bw, p)
	}
	return bw.Flush()
}

// columnWidths returns the width of every column but the last (which is
// not padded): its longest line.
func columnWidths(header []string, groups [][][]string) []int {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, cells := range groups {
		for i, c := range cells {
			for _, line := range c {
				widths[i] = max(widths[i], utf8.RuneCountInString(line))
			}
		}
	}
	return widths
}

// writeLine writes one line of aligned cells, without trailing spaces.
func writeLine(w *bufio.Writer, widths []int, cell func(int) string) {
	last := len(widths) - 1
	for last > 0 && cell(last) == "" {
		last--
	}
	for i := 0; i <= last; i++ {
		s := cell(i)
		w.WriteString(s)
		if i < last {
			pad(w, widths[i]-utf8.RuneCountInString(s)+columnGap)
		}
	}
	w.WriteByte('\n')
}

func pad(w *bufio.Writer, n int) {
	for ; n > 0; n-- {
		w.WriteByte(' ')
	}
}

func writeSummary(w io.Writer, p *Plan) {
	fmt.Fprintf(w, "%d certificate(s), %d warning(s)\n", len(p.Certificates), len(p.Warnings))
	if len(p.Certificates) > 0 {
		if s := subjectFields(p.Certificates[0].Subject); s != "" {
			fmt.Fprintf(w, "Subject fields of every request: %s\n", s)
		}
	}
	fmt.Fprintln(w)
}

// subjectFields formats the subject fields other than the common name.
func subjectFields(s Subject) string {
	var parts []string
	for _, f := range []struct{ k, v string }{
		{"O", s.Organization}, {"OU", s.OrganizationalUnit}, {"L", s.Locality}, {"ST", s.State}, {"C", s.Country},
	} {
		if f.v != "" {
			parts = append(parts, f.k+"="+f.v)
		}
	}
	return strings.Join(parts, ", ")
}

// tableCells returns the cells of one certificate, each a list of lines.
func tableCells(c *Certificate) [][]string {
	key := fmt.Sprintf("%s %d", c.Key.Algorithm, c.Key.Bits)
	exp := "not exportable"
	if c.Key.Exportable {
		exp = "exportable"
	}
	servers := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		servers[i] = s
		if s == c.RequestOn {
			servers[i] = s + " (request)"
		}
	}
	site := c.Site
	if site == "" {
		site = "(global)"
	}
	return [][]string{
		{site}, {c.Kind}, {c.ID}, {c.Subject.CommonName}, c.SANs, c.Usages, c.EKU,
		{key, exp}, {c.Issuer, c.Template}, servers,
	}
}

func writeWarnings(w io.Writer, warnings []string) {
	if len(warnings) == 0 {
		return
	}
	fmt.Fprintf(w, "\nWarnings:\n")
	for _, s := range warnings {
		fmt.Fprintf(w, "  - %s\n", s)
	}
}

// writeExplain lists, per certificate, the rules that shaped it and the
// rule and reason behind each name, aligned within each certificate.
func writeExplain(w *bufio.Writer, p *Plan) {
	fmt.Fprintf(w, "\nWhy each name is there:\n")
	for i := range p.Certificates {
		c := &p.Certificates[i]
		fmt.Fprintf(w, "\n%s (%s)\n", c.ID, strings.Join(c.Usages, ", "))
		fmt.Fprintf(w, "  rules: %s\n", strings.Join(c.Rules, " "))
		rows := make([][]string, len(c.Names))
		for j, n := range c.Names {
			role := "SAN"
			if j == 0 && n.Name == c.Subject.CommonName {
				role = "subject+SAN"
			}
			rows[j] = []string{"  " + n.Name, role, strings.Join(n.Rules, " "), n.Why}
		}
		widths := make([]int, 4)
		for _, r := range rows {
			for k, s := range r {
				widths[k] = max(widths[k], utf8.RuneCountInString(s))
			}
		}
		for _, r := range rows {
			writeLine(w, widths, func(k int) string { return r[k] })
		}
	}
}
