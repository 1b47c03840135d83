package plan

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"edgecert/internal/table"
)

// tableHeader is the header row of the table form.
var tableHeader = []string{"SITE", "KIND", "ID", "SUBJECT", "SANS", "USAGES", "EKU", "KEY", "ISSUER", "SERVERS"}

// WriteTable writes p as an aligned table, one row group per certificate
// (multi-line cells: one SAN, usage or server per line), then the warnings.
// With explain it then lists, for every certificate, each name with the
// rules that put it there. A width above 0 is fitted by wrapping the
// widest columns. The output is deterministic.
func WriteTable(w io.Writer, p *Plan, explain bool, width int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	writeSummary(bw, p)
	t := table.Table{Header: tableHeader, Width: width, Blank: true, Rows: make([][][]string, len(p.Certificates))}
	for i := range p.Certificates {
		t.Rows[i] = tableCells(&p.Certificates[i])
	}
	if err := t.Write(bw); err != nil {
		return err
	}
	writeWarnings(bw, p.Warnings, width)
	if explain {
		writeExplain(bw, p)
	}
	return bw.Flush()
}

// writeLine writes one line of aligned cells, without trailing spaces
// (the explanation's name lists, which have no header).
func writeLine(w *bufio.Writer, widths []int, cell func(int) string) {
	last := len(widths) - 1
	for last > 0 && cell(last) == "" {
		last--
	}
	for i := 0; i <= last; i++ {
		s := table.Cell(cell(i))
		w.WriteString(s)
		if i < last {
			w.WriteString(strings.Repeat(" ", max(0, widths[i]-utf8.RuneCountInString(s))+table.Gap))
		}
	}
	w.WriteByte('\n')
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

// writeWarnings lists the warnings, each wrapped to width when above 0.
func writeWarnings(w io.Writer, warnings []string, width int) {
	if len(warnings) == 0 {
		return
	}
	fmt.Fprintf(w, "\nWarnings:\n")
	for _, s := range warnings {
		lines := []string{table.Cell(s)}
		if width > 8 {
			lines = table.Wrap(lines[0], width-4)
		}
		for i, l := range lines {
			prefix := "    "
			if i == 0 {
				prefix = "  - "
			}
			fmt.Fprintf(w, "%s%s\n", prefix, l)
		}
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
