package apply

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edgecert/internal/atomicfile"
	"edgecert/internal/plan"
	"edgecert/internal/readlimit"
	"edgecert/internal/store"
)

// distribute is step 4: export the certificate with its key and whole
// chain from request_on and import it on every other member (R38, R47,
// R58). Members in this workspace get it store to store, with the same
// exportability check as a .pfx export, and no file or password that would
// protect nothing; in server mode the .pfx goes to the exchange folder with
// a random password handed over out of band.
func (r *runner) distribute(c *plan.Certificate, fn, thumb string) error {
	var exported *store.Decoded // exported once for every member
	export := func() error {
		if exported != nil {
			return nil
		}
		st, _, err := r.w.Store(c.RequestOn)
		if err != nil {
			return err
		}
		unlock := r.w.lock(c.RequestOn)
		defer unlock()
		d, err := st.ExportDecoded(thumb)
		if err != nil {
			return fmt.Errorf("apply: export %s from %s: %w", c.ID, c.RequestOn, err)
		}
		exported = d
		return nil
	}
	remote := false
	for _, srv := range c.Servers {
		if strings.EqualFold(srv, c.RequestOn) {
			continue
		}
		if !r.w.Local(srv) {
			remote = true
			continue
		}
		st, _, err := r.w.Store(srv)
		if err != nil {
			return err
		}
		if err := r.importMember(c, srv, st, thumb, fn, export, &exported); err != nil {
			return err
		}
	}
	if remote {
		return r.toExchange(c, thumb)
	}
	return nil
}

func (r *runner) importMember(c *plan.Certificate, srv string, st *store.Store, thumb, fn string, export func() error, exported **store.Decoded) error {
	if err := r.ensureChain(srv); err != nil {
		return err
	}
	unlock := r.w.lock(srv)
	ok, err := hasMy(st, thumb)
	broken := ok && err == nil && chainBroken(st, thumb)
	unlock()
	if err != nil {
		return err
	}
	if broken { // no lock held here: chainOf takes request_on's
		cas, err := r.chainOf(c, thumb)
		if err != nil {
			return fmt.Errorf("apply: the chain of %s is missing on %s and cannot be rebuilt: %w", c.ID, srv, err)
		}
		unlock = r.w.lock(srv)
		err = r.putChain(c, srv, st, cas)
		unlock()
		if err != nil {
			return err
		}
	}
	if ok {
		r.event(StepTransfer, c.ID, srv, EventSkipped, "already imported")
		return nil
	}
	if err := export(); err != nil {
		r.event(StepTransfer, c.ID, srv, EventFailed, "%v", err)
		return err
	}
	unlock = r.w.lock(srv)
	_, err = st.ImportDecoded(*exported, store.ImportOptions{FriendlyName: fn, Exportable: c.Key.Exportable})
	unlock()
	if err != nil {
		r.event(StepTransfer, c.ID, srv, EventFailed, "%v", err)
		return fmt.Errorf("apply: import %s on %s: %w", c.ID, srv, err)
	}
	r.event(StepTransfer, c.ID, srv, EventDone, "copied from %s with its key and chain", c.RequestOn)
	return nil
}

// exchangeBase is the path, without extension, of a certificate's PFX in the exchange folder.
func (r *runner) exchangeBase(c *plan.Certificate) string {
	return filepath.Join(r.w.Exchange, "pfx", safeName(c.ID))
}

// toExchange writes the PFX of thumb to the exchange folder for members on
// other machines (server mode), with the thumbprint next to it (not the password).
func (r *runner) toExchange(c *plan.Certificate, thumb string) error {
	base := r.exchangeBase(c)
	if b, err := readlimit.File(base+".thumbprint", thumbprintFile); err == nil && strings.TrimSpace(string(b)) == thumb {
		if _, err := os.Stat(base + ".pfx"); err == nil {
			r.event(StepTransfer, c.ID, "", EventSkipped, "PFX already in the exchange folder")
			return nil
		}
	}
	pw := r.o.TransferPassword
	if pw == "" {
		var err error
		if pw, err = newTransferPassword(r.o.Rand); err != nil {
			return err
		}
		r.event(StepTransfer, c.ID, "", EventPassword, "transfer password for %s.pfx (give it to the other members with --transfer-password-file): %s", base, pw)
	}
	st, _, err := r.w.Store(c.RequestOn)
	if err != nil {
		return err
	}
	unlock := r.w.lock(c.RequestOn)
	pfx, err := st.Export(thumb, store.ExportOptions{Format: "pfx", Password: pw})
	unlock()
	if err != nil {
		return fmt.Errorf("apply: export %s: %w", c.ID, err)
	}
	if err := atomicfile.Write(base+".pfx", pfx, 0o600); err != nil {
		return fmt.Errorf("apply: exchange: %w", err)
	}
	if err := atomicfile.Write(base+".thumbprint", []byte(thumb+"\n"), 0o644); err != nil {
		return fmt.Errorf("apply: exchange: %w", err)
	}
	r.event(StepTransfer, c.ID, "", EventDone, "PFX written to %s.pfx for the other members", base)
	return nil
}

// thumbprintFile bounds a .thumbprint file of the exchange folder (40
// hexadecimal digits and a newline).
var thumbprintFile = readlimit.Kind{What: "a thumbprint file", Max: 1 << 10}

// fromExchange is the member side of server mode: import the PFX that
// request_on left in the exchange folder.
func (r *runner) fromExchange(c *plan.Certificate) (string, string, error) {
	srv := r.w.only
	base := r.exchangeBase(c)
	b, err := readlimit.File(base+".thumbprint", thumbprintFile)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Sprintf("waiting for %s to export the certificate to the exchange folder", c.RequestOn), nil
	}
	if err != nil {
		return "", "", fmt.Errorf("apply: exchange: %w", err)
	}
	thumb := strings.TrimSpace(string(b))
	if err := r.ensureChain(srv); err != nil {
		return "", "", err
	}
	st, _, err := r.w.Store(srv)
	if err != nil {
		return "", "", err
	}
	if ok, err := hasMy(st, thumb); err != nil {
		return "", "", err
	} else if ok {
		r.event(StepTransfer, c.ID, srv, EventSkipped, "already imported")
		return thumb, "", nil
	}
	if r.o.TransferPassword == "" {
		return "", "", fmt.Errorf("apply: %w: importing %s.pfx needs the transfer password: give --transfer-password-file", ErrInvalidInput, base)
	}
	pfx, err := readlimit.File(base+".pfx", readlimit.CertificateFile)
	if err != nil {
		return "", "", fmt.Errorf("apply: exchange: %w", err)
	}
	if _, err := st.Import(pfx, store.ImportOptions{Password: r.o.TransferPassword, Exportable: c.Key.Exportable}); err != nil {
		return "", "", fmt.Errorf("apply: import %s.pfx: %w", base, err)
	}
	r.event(StepTransfer, c.ID, srv, EventDone, "imported %s.pfx from the exchange folder", base)
	return thumb, "", nil
}

// assign is step 5: bind every usage on every server (R32, R48). A/V
// Authentication and OAuth certificates that replace a valid one are staged
// with an effective date instead (R80–R82).
func (r *runner) assign(c *plan.Certificate, thumb string) error {
	for _, srv := range c.Servers {
		if !r.w.Local(srv) {
			continue
		}
		if err := r.ensureChain(srv); err != nil {
			return err
		}
		st, _, err := r.w.Store(srv)
		if err != nil {
			return err
		}
		if err := r.assignOn(c, srv, st, thumb); err != nil {
			r.event(StepAssign, c.ID, srv, EventFailed, "%v", err)
			return err
		}
	}
	return nil
}

func (r *runner) assignOn(c *plan.Certificate, srv string, st *store.Store, thumb string) error {
	unlock := r.w.lock(srv)
	defer unlock()
	as, err := st.Assignments()
	if err != nil {
		return fmt.Errorf("apply: assignments of %s: %w", srv, err)
	}
	cur := map[string]store.Assignment{}
	for _, a := range as {
		cur[a.Usage] = a
	}
	var assigned, staged []string
	var eff time.Time
	var binds []store.Binding
	for _, u := range c.Usages {
		a := cur[u]
		if strings.EqualFold(a.Thumbprint, thumb) || strings.EqualFold(a.Staged, thumb) {
			continue
		}
		if e, ok := r.stageDate(st, c, u, a.Thumbprint); ok {
			binds = append(binds, store.Binding{Usage: u, Effective: e})
			staged, eff = append(staged, u), e
			continue
		}
		binds = append(binds, store.Binding{Usage: u})
		assigned = append(assigned, u)
	}
	if len(binds) > 0 {
		if err := st.Bind(thumb, binds...); err != nil {
			return fmt.Errorf("apply: assign %s on %s: %w", strings.Join(c.Usages, ", "), srv, err)
		}
	}
	switch {
	case len(assigned) == 0 && len(staged) == 0:
		r.event(StepAssign, c.ID, srv, EventSkipped, "%s already assigned", strings.Join(c.Usages, ", "))
	case len(staged) > 0:
		r.event(StepAssign, c.ID, srv, EventDone, "assigned %s; staged %s effective %s (R81)",
			strings.Join(assigned, ", "), strings.Join(staged, ", "), eff.UTC().Format(time.RFC3339))
	default:
		r.event(StepAssign, c.ID, srv, EventDone, "assigned %s", strings.Join(assigned, ", "))
	}
	return nil
}

// Lead times of a roll (R81).
const (
	avLead    = 8 * time.Hour
	oauthLead = 24 * time.Hour
)

// stageDate returns the effective date of a staged replacement of current
// for usage u, when staging applies: u is A/V Authentication or OAuth token
// issuer and current is still valid past the effective date.
func (r *runner) stageDate(st *store.Store, c *plan.Certificate, u, current string) (time.Time, bool) {
	if current == "" || (u != plan.UsageAudioVideoAuthentication && u != plan.UsageOAuthTokenIssuer) {
		return time.Time{}, false
	}
	_, old, err := st.Certificate(current)
	if err != nil {
		return time.Time{}, false
	}
	eff := old.NotAfter.Add(-LeadTime(c.Usages))
	if !eff.After(r.o.Now()) {
		return time.Time{}, false
	}
	return eff, true
}

// LeadTime returns how long before the old certificate's expiry a staged
// replacement takes effect (R81): 8 h for A/V Authentication, 24 h for
// OAuth, the longer when both are staged together.
func LeadTime(usages []string) time.Duration {
	lead := time.Duration(0)
	for _, u := range usages {
		switch u {
		case plan.UsageAudioVideoAuthentication:
			lead = max(lead, avLead)
		case plan.UsageOAuthTokenIssuer:
			lead = max(lead, oauthLead)
		}
	}
	return lead
}

// chainOf returns the CA certificates of thumb's chain in request_on's store.
func (r *runner) chainOf(c *plan.Certificate, thumb string) ([]*x509.Certificate, error) {
	st, _, err := r.w.Store(c.RequestOn)
	if err != nil {
		return nil, err
	}
	unlock := r.w.lock(c.RequestOn)
	defer unlock()
	_, cert, err := st.Certificate(thumb)
	if err != nil {
		return nil, err
	}
	chain, err := st.Chain(cert)
	if err != nil {
		return nil, err
	}
	return chain[1:], nil
}
