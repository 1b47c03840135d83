package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"
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
