package apply

import (
	"context"
	"slices"
	"strings"

	"edgecert/internal/plan"
	"edgecert/internal/store"
)

// dryRun reports, as planned events, every step a run would do, looking at
// the stores without changing anything (no store or file is created).
func (r *runner) dryRun(ctx context.Context, certs []*plan.Certificate) (*Result, error) {
	for _, srv := range allServers(certs) {
		if !r.w.Local(srv) {
			continue
		}
		if st, ok, err := r.w.ExistingStore(srv); err == nil && ok && r.j.chainOn(srv) != "" {
			if roots, err := st.List(store.Root); err == nil && len(roots) > 0 {
				r.event(StepChain, "", srv, EventSkipped, "CA chain already imported")
				continue
			}
		}
		r.event(StepChain, "", srv, EventPlanned, "fetch the CA chain (.p7b) and import it into root and ca")
	}
	res := &Result{Waiting: map[string]string{}, Failed: map[string]string{}}
	for _, c := range certs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := r.dryCertificate(c); err != nil {
			return nil, err
		}
		res.Waiting[c.ID] = "dry run"
	}
	return res, nil
}

func (r *runner) dryCertificate(c *plan.Certificate) error {
	cs := r.j.cert(c.ID, c.FriendlyName)
	var thumb string
	if r.w.Local(c.RequestOn) {
		st, ok, err := r.w.ExistingStore(c.RequestOn)
		if err != nil {
			return err
		}
		var mine *store.Entry
		var pend *store.Pending
		if ok {
			if mine, err = findMy(st, cs.FriendlyName); err != nil {
				return err
			}
			if pend, err = findPending(st, cs.FriendlyName); err != nil {
				return err
			}
		}
		switch {
		case mine != nil:
			thumb = mine.Thumbprint
			r.event(StepImport, c.ID, c.RequestOn, EventSkipped, "certificate %s already in my", thumb)
		case pend != nil:
			r.event(StepRequest, c.ID, c.RequestOn, EventSkipped, "request already pending; its key is kept")
			r.dryIssue(c)
		default:
			r.event(StepRequest, c.ID, c.RequestOn, EventPlanned, "create a %s %d key (exportable: %t) and a request for %s with %d names, friendly name %q",
				c.Key.Algorithm, c.Key.Bits, c.Key.Exportable, c.Subject.CommonName, len(c.SANs), cs.FriendlyName)
			r.dryIssue(c)
		}
	}
	for _, srv := range c.Servers {
		if strings.EqualFold(srv, c.RequestOn) || !r.w.Local(srv) {
			continue
		}
		if thumb != "" {
			if st, ok, err := r.w.ExistingStore(srv); err == nil && ok {
				if has, _ := hasMy(st, thumb); has {
					r.event(StepTransfer, c.ID, srv, EventSkipped, "already imported")
					continue
				}
			}
		}
		r.event(StepTransfer, c.ID, srv, EventPlanned, "export a .pfx (key and chain, random password) from %s and import it", c.RequestOn)
	}
	for _, srv := range c.Servers {
		if !r.w.Local(srv) {
			continue
		}
		if thumb != "" {
			if st, ok, err := r.w.ExistingStore(srv); err == nil && ok && assignedAll(st, c.Usages, thumb) {
				r.event(StepAssign, c.ID, srv, EventSkipped, "%s already assigned", strings.Join(c.Usages, ", "))
				continue
			}
		}
		r.event(StepAssign, c.ID, srv, EventPlanned, "assign %s", strings.Join(c.Usages, ", "))
	}
	if thumb != "" && cs.Verified == thumb {
		r.event(StepVerify, c.ID, "", EventSkipped, "verified")
		return nil
	}
	r.event(StepVerify, c.ID, "", EventPlanned, "verify on %d servers", len(c.Servers))
	return nil
}

func (r *runner) dryIssue(c *plan.Certificate) {
	if c.Issuer == issuerPublic && r.o.PublicCA != nil {
		if slices.Contains(c.EKU, plan.EKUClientAuth) {
			r.event(StepIssue, c.ID, c.RequestOn, EventWarning, "%s", warnClientAuth)
		}
		r.event(StepIssue, c.ID, c.RequestOn, EventPlanned, "order from the ACME CA: %s", strings.Join(c.SANs, ", "))
		r.event(StepImport, c.ID, c.RequestOn, EventPlanned, "import the issued certificate with its pending key")
		return
	}
	if c.Issuer == issuerPublic {
		r.event(StepIssue, c.ID, c.RequestOn, EventPlanned, "write the request to %s and wait for the public CA",
			r.w.path("outbox", safeName(c.ID)+".csr"))
		return
	}
	r.event(StepIssue, c.ID, c.RequestOn, EventPlanned, "submit to the internal CA (template %s)", c.Template)
	r.event(StepImport, c.ID, c.RequestOn, EventPlanned, "import the issued certificate with its pending key")
}
