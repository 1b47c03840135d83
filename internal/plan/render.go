package plan

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// tableHeader is the header row of the table form.
var tableHeader = []string{"SITE", "KIND", "ID", "SUBJECT", "SANS", "USAGES", "EKU", "KEY", "ISSUER", "SERVERS"}

// WriteTable writes p as an aligned table, one row group per certificate
// (multi-line cells: one SAN, usage or server per line), then the warnings.
// With explain it then lists, for every certificate, each name with the
// rules that put it there. The output is deterministic.
func WriteTable(w io.Writer, p *Plan, explain bool) error {
	bw := bufio.NewWriter(w)
	writeSummary(bw, p)
	var tb bytes.Buffer
	tw := tabwriter.NewWriter(&tb, 0, 4, 2, ' ', 0)
	writeRow(tw, tableHeader)
	for i := range p.Certificates {
		if i > 0 {
			writeRow(tw, make([]string, len(tableHeader)))
		}
		writeCells(tw, tableCells(&p.Certificates[i]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writeTrimmed(bw, tb.Bytes())
	writeWarnings(bw, p.Warnings)
	if explain {
		if err := writeExplain(bw, p); err != nil {
			return err
		}
	}
	return bw.Flush()
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

// writeCells writes a row whose cells may span several lines.
func writeCells(w io.Writer, cells [][]string) {
	lines := 1
	for _, c := range cells {
		lines = max(lines, len(c))
	}
	row := make([]string, len(cells))
	for l := 0; l < lines; l++ {
		for i, c := range cells {
			row[i] = ""
			if l < len(c) {
				row[i] = c[l]
			}
		}
		writeRow(w, row)
	}
}

func writeRow(w io.Writer, cells []string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// writeTrimmed copies text to w without the padding tabwriter leaves at the
// end of lines.
func writeTrimmed(w io.Writer, text []byte) {
	for _, line := range bytes.SplitAfter(text, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		w.Write(bytes.TrimRight(line, " \n"))
		w.Write([]byte("\n"))
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
// rule and reason behind each name.
func writeExplain(w io.Writer, p *Plan) error {
	fmt.Fprintf(w, "\nWhy each name is there:\n")
	var tb bytes.Buffer
	defer func() { writeTrimmed(w, tb.Bytes()) }()
	for i := range p.Certificates {
		c := &p.Certificates[i]
		fmt.Fprintf(&tb, "\n%s (%s)\n", c.ID, strings.Join(c.Usages, ", "))
		fmt.Fprintf(&tb, "  rules: %s\n", strings.Join(c.Rules, " "))
		tw := tabwriter.NewWriter(&tb, 0, 4, 2, ' ', 0)
		for j, n := range c.Names {
			role := "SAN"
			if j == 0 && n.Name == c.Subject.CommonName {
				role = "subject+SAN"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", n.Name, role, strings.Join(n.Rules, " "), n.Why)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
