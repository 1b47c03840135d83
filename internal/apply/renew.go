package apply

import (
	"context"
	"fmt"
	"strings"
	"time"

	"edgecert/internal/plan"
)

// Renew re-requests every certificate of the plan whose current certificate
// expires within the window, or lacks a name the plan now has, with exactly
// the plan's names (no name is ever
// typed again), and rolls it out like [Run]: new key and request on
// request_on, issue, PFX to the members, assign. A/V Authentication and
// OAuth token issuer usages are staged with an effective date instead
// (R80–R82), so that the current and previous certificates are both kept.
// A renewal interrupted at any point is resumed by the next Renew or Run
// without making another key.
func Renew(ctx context.Context, p *plan.Plan, w *Workspace, within time.Duration, opts Options) (*Result, error) {
	r, err := newRunner(p, w, opts)
	if err != nil {
		return nil, err
	}
	defer r.release()
	r.ari = openARICache(r.w.path("acme", "renewal.json"))
	var ids []string
	for _, c := range r.selected() {
		due, err := r.renewDue(ctx, c, within)
		if err != nil {
			return nil, err
		}
		if due {
			ids = append(ids, c.ID)
		}
	}
	if r.o.PublicCA != nil && !r.o.DryRun {
		if err := r.ari.save(); err != nil {
			return nil, err
		}
	}
	renewals := map[string]*Renewal{}
	r.renewals.Range(func(k, v any) bool {
		renewals[k.(string)] = v.(*Renewal)
		return true
	})
	if len(ids) == 0 {
		return &Result{Waiting: map[string]string{}, Failed: map[string]string{}, Renewals: renewals}, nil
	}
	r.o.Certificates = ids
	res, err := r.run(ctx)
	if res != nil {
		res.Renewals = renewals
	}
	return res, err
}

// renewDue decides whether c is renewed, and starts its renewal in the
// journal (new generation and friendly name) before any key is made.
func (r *runner) renewDue(ctx context.Context, c *plan.Certificate, within time.Duration) (bool, error) {
	if !r.w.Local(c.RequestOn) {
		return false, nil
	}
	cs := r.j.cert(c.ID, c.FriendlyName)
	if cs.Renewing {
		r.event(StepRequest, c.ID, c.RequestOn, EventSkipped, "renewal (generation %d) already started: resuming", cs.Generation)
		return true, nil
	}
	st, ok, err := r.w.ExistingStore(c.RequestOn)
	if err != nil {
		return false, err
	}
	if !ok {
		r.event(StepRequest, c.ID, c.RequestOn, EventSkipped, "not deployed yet: run edgecert apply first")
		return false, nil
	}
	e, err := findMy(st, cs.FriendlyName)
	if err != nil {
		return false, err
	}
	if e == nil {
		r.event(StepRequest, c.ID, c.RequestOn, EventSkipped, "not deployed yet: run edgecert apply first")
		return false, nil
	}
	left := e.NotAfter.Sub(r.o.Now())
	reason := fmt.Sprintf("expires %s", e.NotAfter.UTC().Format("2006-01-02"))
	_, cert, cerr := st.Certificate(e.Thumbprint)
	missing := false
	if cerr == nil {
		if m := missingNames(c.SANs, cert.DNSNames); len(m) > 0 {
			left, reason, missing = 0, "the plan now also names "+strings.Join(m, ", "), true
		}
	}
	if c.Issuer == issuerPublic && r.o.PublicCA != nil && cerr == nil && !missing {
		// From the ACME CA: its renewal window (ARI), else two thirds of
		// the lifetime, instead of --within.
		d := r.acmeRenewal(ctx, c.ID, e.Thumbprint, cert)
		r.renewals.Store(c.ID, d)
		when := "at two thirds of its lifetime, " + d.At.UTC().Format(time.RFC3339)
		if d.Problem != "" {
			when += " (the CA's renewal window could not be had: " + d.Problem + ")"
		}
		if d.Source == "ari" {
			when = fmt.Sprintf("in the CA's window %s to %s, at %s", d.WindowStart.UTC().Format(time.RFC3339), d.WindowEnd.UTC().Format(time.RFC3339), d.At.UTC().Format(time.RFC3339))
		}
		if !d.Due {
			r.event(StepRequest, c.ID, c.RequestOn, EventSkipped, "renews %s: not due", when)
			return false, nil
		}
		reason = "due: renews " + when
	} else if left > within {
		r.event(StepRequest, c.ID, c.RequestOn, EventSkipped, "valid until %s: not due", e.NotAfter.UTC().Format("2006-01-02"))
		return false, nil
	}
	if r.o.DryRun {
		r.event(StepRequest, c.ID, c.RequestOn, EventPlanned, "%s: renew with the plan's %d names", reason, len(c.SANs))
		return true, nil
	}
	gen := cs.Generation + 1
	err = r.j.update(c.ID, c.FriendlyName, func(s *CertState) {
		s.Previous, s.Generation, s.Renewing = e.Thumbprint, gen, true
		s.FriendlyName = fmt.Sprintf("%s (renewal %d)", c.FriendlyName, gen)
		s.Thumbprint, s.Verified, s.CARequestID, s.RequestKey, s.Waiting = "", "", 0, "", ""
	})
	if err != nil {
		return false, err
	}
	r.event(StepRequest, c.ID, c.RequestOn, EventDone, "%s: renewing as generation %d", reason, gen)
	return true, nil
}
