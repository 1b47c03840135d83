package apply

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"edgecert/internal/atomicfile"
	"edgecert/internal/plan"
)

// WriteMetrics writes, for the Prometheus node exporter's textfile
// collector, the expiry of each planned certificate on its request_on
// server, its renewal time when the ACME CA decides it, and the outcome
// of this renew run per certificate (ok, renewed, waiting, failed), in one
// atomic file (so the collector never reads half of it).
func WriteMetrics(path string, p *plan.Plan, w *Workspace, res *Result, now time.Time) error {
	var b strings.Builder
	b.WriteString("# HELP edgecert_certificate_expiry_timestamp_seconds When the current certificate expires.\n")
	b.WriteString("# TYPE edgecert_certificate_expiry_timestamp_seconds gauge\n")
	type row struct{ id, issuer string }
	var rows []row
	for i := range p.Certificates {
		c := &p.Certificates[i]
		if !w.Local(c.RequestOn) {
			continue
		}
		rows = append(rows, row{c.ID, c.Issuer})
		thumb, err := Current(w, c, c.RequestOn)
		if err != nil || thumb == "" {
			continue
		}
		st, ok, err := w.ExistingStore(c.RequestOn)
		if err != nil || !ok {
			continue
		}
		_, cert, err := st.Certificate(thumb)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "edgecert_certificate_expiry_timestamp_seconds{certificate=%s,issuer=%s} %d\n", quote(c.ID), quote(c.Issuer), cert.NotAfter.Unix())
	}
	b.WriteString("# HELP edgecert_certificate_renewal_timestamp_seconds When renew renews the certificate (ACME: in the CA's ARI window, else at two thirds of its lifetime).\n")
	b.WriteString("# TYPE edgecert_certificate_renewal_timestamp_seconds gauge\n")
	ids := make([]string, 0, len(res.Renewals))
	for id := range res.Renewals {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		d := res.Renewals[id]
		fmt.Fprintf(&b, "edgecert_certificate_renewal_timestamp_seconds{certificate=%s,source=%s} %d\n", quote(id), quote(d.Source), d.At.Unix())
	}
	b.WriteString("# HELP edgecert_certificate_renewal_status Outcome of the last renew for the certificate (1 for its status).\n")
	b.WriteString("# TYPE edgecert_certificate_renewal_status gauge\n")
	for _, r := range rows {
		status := "ok"
		switch {
		case res.Failed[r.id] != "":
			status = "failed"
		case res.Waiting[r.id] != "":
			status = "waiting"
		case contains(res.Done, r.id):
			status = "renewed"
		}
		fmt.Fprintf(&b, "edgecert_certificate_renewal_status{certificate=%s,status=%s} 1\n", quote(r.id), quote(status))
	}
	b.WriteString("# HELP edgecert_renew_last_run_timestamp_seconds When renew last ran.\n")
	b.WriteString("# TYPE edgecert_renew_last_run_timestamp_seconds gauge\n")
	fmt.Fprintf(&b, "edgecert_renew_last_run_timestamp_seconds %d\n", now.Unix())
	if err := atomicfile.Write(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("apply: metrics file: %w", err)
	}
	return nil
}

// quote is a Prometheus label value.
func quote(s string) string { return strconv.Quote(s) }
