package apply

import (
	"fmt"
	"io"

	"edgecert/internal/acme"
	"edgecert/internal/table"
)

// FormatEvent returns a one-line, human-readable form of a progress event.
func FormatEvent(e Event) string {
	sym := map[string]string{EventDone: "✓", EventSkipped: "=", EventWaiting: "…", EventFailed: "✗", EventPlanned: "→", EventPassword: "!", EventWarning: "!"}[e.Status]
	where := e.Certificate
	if e.Server != "" {
		if where != "" {
			where += " on "
		}
		where += e.Server
	}
	return fmt.Sprintf("%s %-8s %s: %s", sym, e.Step, where, e.Message)
}

func markSymbol(m Mark) string {
	switch m {
	case MarkDone:
		return "✓"
	case MarkMissing:
		return "✗"
	}
	return "–"
}

// WriteStatusTable writes the status per site, certificate and server with
// a mark per step, then "Run again" with what is missing until every
// certificate is requested, installed, assigned and verified (R49).
// A width above 0 is fitted by wrapping the widest columns.
func WriteStatusTable(w io.Writer, r *StatusReport, width int) error {
	t := table.Table{Header: []string{"SITE", "CERTIFICATE", "SERVER", "CHAIN", "REQUESTED", "ISSUED", "IMPORTED", "ON MEMBER", "ASSIGNED", "VERIFIED"}, Width: width}
	for _, row := range r.Rows {
		site := row.Site
		if site == "" {
			site = "(global)"
		}
		t.Rows = append(t.Rows, table.Row(site, row.Certificate, row.Server,
			markSymbol(row.Chain), markSymbol(row.Requested), markSymbol(row.Issued), markSymbol(row.Imported),
			markSymbol(row.Transferred), markSymbol(row.Assigned), markSymbol(row.Verified)))
	}
	if err := t.Write(w); err != nil {
		return err
	}
	writeACMESteps(w, r)
	if r.Complete {
		_, err := fmt.Fprintln(w, "\nEvery certificate is requested, installed, assigned and verified.")
		return err
	}
	fmt.Fprintln(w, "\nRun again: not every certificate is requested, installed, assigned and verified:")
	for _, l := range r.RunAgain {
		fmt.Fprintf(w, "  - %s\n", l)
	}
	return nil
}

// writeACMESteps lists the ACME step of each public certificate, with the
// CA's reason and what it checked when the order failed.
func writeACMESteps(w io.Writer, r *StatusReport) {
	first := true
	for _, row := range r.Rows {
		if row.ACME == nil {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nACME:")
			first = false
		}
		fmt.Fprintf(w, "  %s: %s", row.Certificate, row.ACME.Step)
		if row.ACME.ProblemType != "" {
			fmt.Fprintf(w, ": %s", row.ACME.ProblemType)
		}
		if row.ACME.Problem != "" {
			fmt.Fprintf(w, ": %s", row.ACME.Problem)
		}
		if row.ACME.Checked != "" && row.ACME.Step != acme.StepValid {
			fmt.Fprintf(w, " (checked %s)", row.ACME.Checked)
		}
		fmt.Fprintln(w)
	}
}
