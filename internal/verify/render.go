package verify

import (
	"fmt"
	"io"
	"strings"

	"edgecert/internal/table"
)

// The placeholders of the fix lines, for the paths only the caller knows;
// FillPaths replaces them.
const (
	fixTopologyArgs = "-t TOPOLOGY --workspace DIR"
	fixStoreArg     = "--store DIR"
)

// FillPaths replaces, in every fix, the topology and workspace
// placeholders with topologyArgs (e.g. "-t topo.yaml --workspace ws") and
// each server's store placeholder with storeDir(server), so that fix
// lines run as printed. Empty values leave the placeholders.
func (r *Report) FillPaths(topologyArgs string, storeDir func(server string) string) {
	for i := range r.Findings {
		f := &r.Findings[i]
		if topologyArgs != "" {
			f.Fix = strings.ReplaceAll(f.Fix, fixTopologyArgs, topologyArgs)
		}
		if storeDir != nil {
			if dir := storeDir(f.Server); dir != "" {
				f.Fix = strings.ReplaceAll(f.Fix, fixStoreArg, "--store "+dir)
			}
		}
	}
}

// WriteTable writes the report as an aligned table (fitted to width when
// above 0, by wrapping the widest columns), the fix of every failure under
// it, and a summary line.
func WriteTable(w io.Writer, r *Report, width int) error {
	t := table.Table{Header: []string{"RESULT", "SERVER", "CERTIFICATE", "USAGE", "RULE", "CHECK", "MESSAGE"}, Width: width}
	var fixes []Finding
	for _, f := range r.Findings {
		t.Rows = append(t.Rows, table.Row(mark(f.Severity), f.Server, f.Certificate, dash(f.Usage), f.Rule, string(f.Check), f.Message))
		if f.Severity == SeverityError && f.Fix != "" {
			fixes = append(fixes, f)
		}
	}
	if err := t.Write(w); err != nil {
		return err
	}
	if len(fixes) > 0 {
		fmt.Fprintln(w, "\nHow to fix:")
		for i, f := range fixes {
			fmt.Fprintf(w, "  %d. %s, %s (%s): %s\n", i+1, f.Server, f.Certificate, f.Rule, f.Fix)
		}
	}
	status := "PASSED"
	if r.Failed() {
		status = "FAILED"
	}
	_, err := fmt.Fprintf(w, "\nVerification %s: %d checks, %d errors, %d warnings\n", status, r.Checked, r.Errors(), r.Warnings())
	return err
}

func mark(s Severity) string {
	switch s {
	case SeverityError:
		return "FAIL"
	case SeverityWarning:
		return "WARN"
	}
	return "ok"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
