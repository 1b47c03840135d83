package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"edgecert/internal/table"
)

// Output formats accepted by -o.
const (
	formatTable = "table"
	formatWide  = "wide" // a table that is not fitted to the terminal
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// addOutputFlag registers -o/--output on cmd.
func addOutputFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "output", "o", formatTable, "output format: table (fitted to the terminal's width), wide (not fitted), json or yaml")
}

// checkFormat validates the value of -o.
func checkFormat(f string) error {
	switch f {
	case formatTable, formatWide, formatJSON, formatYAML:
		return nil
	}
	return invalidInput(fmt.Errorf("unknown output format %q: use table, wide, json or yaml", f))
}

// render writes v as JSON or YAML, or calls table for the table formats
// with the width to fit (tableWidth). Output is buffered: large listings
// cost one write, not one per cell.
func render(out io.Writer, format string, v any, table func(w io.Writer, width int) error) error {
	w := bufio.NewWriterSize(out, 64<<10)
	width := 0
	if format == formatTable {
		width = tableWidth(out)
	}
	if err := renderTo(w, format, v, func(w io.Writer) error { return table(w, width) }, isTerminal(out)); err != nil {
		return err
	}
	return w.Flush()
}

// tableWidth is the width a table on out is fitted to: the terminal's
// columns, else $COLUMNS when set, else 0 (no limit: a file or a pipe).
func tableWidth(out io.Writer) int {
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 0
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// renderTo writes JSON indented for a person on a terminal and compact for
// programs (indenting costs more than encoding on large listings).
func renderTo(w io.Writer, format string, v any, table func(w io.Writer) error, pretty bool) error {
	switch format {
	case formatJSON:
		enc := json.NewEncoder(w)
		if pretty {
			enc.SetIndent("", "  ")
		}
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	case formatYAML:
		// Round-trip through JSON so that YAML keys match the JSON contract.
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		if err := yaml.Unmarshal(b, &generic); err != nil {
			return err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(generic); err != nil {
			return err
		}
		return enc.Close()
	case formatTable, formatWide:
		return table(w)
	}
	return checkFormat(format)
}

// newTable returns a tabwriter for aligned columns.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// printable escapes what a terminal would act on instead of showing
// (table.Cell): every human output of outside data (tables, "key: value"
// lists, messages) goes through it, so that a name cannot forge a row or
// rewrite the screen; JSON and YAML output stay exact.
func printable(s string) string { return table.Cell(s) }

// checkNameFlag refuses a name given on the command line (a friendly
// name) with a character printable would escape: such a name would be
// written into a store and shown on other terminals.
func checkNameFlag(flag, s string) error {
	if p := printable(s); p != s {
		return invalidInput(fmt.Errorf("%s %s: control, format and invalid UTF-8 characters are not allowed", flag, p))
	}
	return nil
}

// printableLines is printable for text of several lines (errors that list
// problems one a line): each line escaped, the line ends kept.
func printableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = printable(l)
	}
	return strings.Join(lines, "\n")
}

// tableRow writes one row of a table: each cell through printable, the
// cells separated by tabs.
func tableRow(w io.Writer, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(w, "\t")
		}
		s, ok := c.(string)
		if !ok {
			s = fmt.Sprint(c)
		}
		io.WriteString(w, printable(s))
	}
	io.WriteString(w, "\n")
}
