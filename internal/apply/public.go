package apply

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"edgecert/internal/acme"
	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
	"edgecert/internal/plan"
	"edgecert/internal/store"
	"edgecert/internal/topology"
)

// PublicCA issues the certificates whose issuer is public, instead of the
// outbox: an ACME CA named by the topology's acme block.
type PublicCA interface {
	// Obtain has the CA issue the DER request for certificate id;
	// replaces is the certificate it renews (nil for a first issuance).
	Obtain(ctx context.Context, id string, csrDER []byte, replaces *x509.Certificate) (*Issued, error)
	// Roots are the roots to import as trusted on every server (may be nil).
	Roots() []*x509.Certificate
}

// ACME is the [PublicCA] of an ACME account; roots are the topology's
// trusted_roots (nil: none).
func ACME(c *acme.Client, roots []*x509.Certificate) PublicCA { return &acmeCA{c: c, roots: roots} }

type acmeCA struct {
	c     *acme.Client
	roots []*x509.Certificate
}

func (a *acmeCA) Obtain(ctx context.Context, id string, csrDER []byte, replaces *x509.Certificate) (*Issued, error) {
	iss, err := a.c.Obtain(ctx, id, csrDER, replaces)
	if err != nil {
		return nil, err
	}
	return &Issued{Leaf: iss.Leaf, Chain: iss.Chain}, nil
}

func (a *acmeCA) Roots() []*x509.Certificate { return a.roots }

// ACMEDir is the ACME state directory of a workspace: the sealed account
// key, the account, the orders' steps and the published challenge records.
func (w *Workspace) ACMEDir() string { return w.path("acme") }

// Reasons and warnings of the ACME path.
const (
	warnClientAuth = "the plan asks for clientAuth, which public ACME CAs no longer include (server authentication only since 2026): " +
		"the certificate will come without it. Federation partners that need clientAuth: set external_issuer: internal " +
		"(edge pool) or issuer: internal (reverse proxy) for it, or use a public CA's non-ACME product through the outbox"
)

// issuePublic gets the certificate of the pending request from the ACME
// CA: from the copy saved by an earlier run, or by ordering it.
func (r *runner) issuePublic(ctx context.Context, c *plan.Certificate, cs CertState, st *store.Store, pend *store.Pending, req *x509.CertificateRequest) (*Issued, error) {
	saved := r.w.path("issued", fmt.Sprintf("%s-g%d.pem", safeName(c.ID), cs.Generation))
	if b, err := os.ReadFile(saved); err == nil {
		if certs, err := certfmt.ParseCertificates(b); err == nil && len(certs) > 0 && certfmt.PublicKeysEqual(certs[0].PublicKey, req.PublicKey) {
			r.event(StepIssue, c.ID, c.RequestOn, EventSkipped, "issued by the ACME CA in an earlier run")
			return &Issued{Leaf: certs[0], Chain: certs[1:]}, nil
		}
	}
	if slices.Contains(c.EKU, plan.EKUClientAuth) {
		r.event(StepIssue, c.ID, c.RequestOn, EventWarning, "%s", warnClientAuth)
	}
	var replaces *x509.Certificate
	if cs.Previous != "" {
		if _, prev, err := st.Certificate(cs.Previous); err == nil {
			replaces = prev
		}
	}
	r.event(StepIssue, c.ID, c.RequestOn, EventWaiting, "ordering from the ACME CA: %s", strings.Join(c.SANs, ", "))
	is, err := r.o.PublicCA.Obtain(ctx, c.ID, pend.DER, replaces)
	if err != nil {
		r.event(StepIssue, c.ID, c.RequestOn, EventFailed, "%v", err)
		return nil, err
	}
	if !certfmt.PublicKeysEqual(is.Leaf.PublicKey, req.PublicKey) {
		return nil, fmt.Errorf("apply: the ACME CA returned a certificate for another key (%s)", c.ID)
	}
	if err := atomicfile.Write(saved, certfmt.EncodeCertificatePEM(append([]*x509.Certificate{is.Leaf}, is.Chain...)...), 0o644); err != nil {
		return nil, fmt.Errorf("apply: save the issued certificate: %w", err)
	}
	r.event(StepIssue, c.ID, c.RequestOn, EventDone, "issued by the ACME CA (serial %X, until %s)", is.Leaf.SerialNumber, is.Leaf.NotAfter.UTC().Format("2006-01-02"))
	return is, nil
}

// undoRequest puts the workspace back as it was before this run made the
// request of c, after its ACME order failed for good (err matches
// acme.ErrOrderFailed): no certificate can exist for the key, so the key
// and request this run made are discarded (the store byte for byte as it
// was when nothing else changed it meanwhile) and the journal entry of c
// is restored. A request an earlier run made stays, as the workspace had
// it. It returns err, joined with any failure to discard.
func (r *runner) undoRequest(c *plan.Certificate, st *store.Store, pend *store.Pending, created bool, journaled *CertState, err error) error {
	r.j.restore(c.ID, journaled)
	if !created {
		return err
	}
	if derr := st.DiscardRequest(pend); derr != nil {
		return errors.Join(err, fmt.Errorf("apply: discard the request of %s on %s: %w", c.ID, c.RequestOn, derr))
	}
	r.event(StepRequest, c.ID, c.RequestOn, EventDone, "key and request discarded: the order failed before a certificate was issued, the next run makes a new one")
	return err
}

// publicRootsP7B returns the ACME CA's trusted roots as a .p7b (nil: none).
func (r *runner) publicRootsP7B() ([]byte, error) {
	if r.o.PublicCA == nil || len(r.o.PublicCA.Roots()) == 0 {
		return nil, nil
	}
	p7b, err := certfmt.EncodePKCS7(r.o.PublicCA.Roots())
	if err != nil {
		return nil, fmt.Errorf("apply: the ACME CA's trusted roots: %w", err)
	}
	return p7b, nil
}

// ACMEOptions open the ACME account of a workspace ([OpenACME]).
type ACMEOptions struct {
	// Passphrase seals the account key; nil: the workspace's own, made
	// the first time in DIR/acme-passphrase (0600), so that renew can run
	// unattended.
	Passphrase []byte
	Now        func() time.Time
	Rand       io.Reader
}

// OpenACME opens (registering it the first time) the workspace's account
// at the ACME CA of cfg, with the CA's trusted roots. A CA that cannot be
// reached changes nothing in the workspace.
func OpenACME(ctx context.Context, cfg *topology.ACME, w *Workspace, o ACMEOptions) (PublicCA, *acme.Client, error) {
	roots, err := acme.Roots(cfg)
	if err != nil {
		return nil, nil, err
	}
	pass, save := o.Passphrase, func() error { return nil }
	if pass == nil {
		passFile := w.path("acme-passphrase")
		if b, err := os.ReadFile(passFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			pass = bytes.TrimSpace(b)
		} else {
			gen, err := newTransferPassword(o.Rand)
			if err != nil {
				return nil, nil, err
			}
			pass = []byte(gen + gen)
			save = func() error {
				if err := atomicfile.Write(passFile, append(slices.Clone(pass), '\n'), 0o600); err != nil {
					return fmt.Errorf("apply: save the ACME passphrase: %w", err)
				}
				return nil
			}
		}
	}
	c, err := acme.Open(ctx, acme.Options{Config: cfg, Dir: w.ACMEDir(), Passphrase: pass, BeforeNewKey: save, Now: o.Now, Rand: o.Rand})
	if err != nil {
		return nil, nil, err
	}
	return ACME(c, roots), c, nil
}

// ACMEState returns the ACME step of certificate id in the workspace (nil:
// it was never ordered).
func ACMEState(w *Workspace, id string) *acme.State { return acme.ReadState(w.ACMEDir(), id) }

// OpenACMELazy is [OpenACME] for renew: the CA is contacted (and the
// account opened) only when a certificate needs it, so that a renew with
// nothing near makes no network call. The trusted roots are read at once.
func OpenACMELazy(cfg *topology.ACME, w *Workspace, o ACMEOptions) (PublicCA, error) {
	roots, err := acme.Roots(cfg)
	if err != nil {
		return nil, err
	}
	return &lazyACME{roots: roots, open: func(ctx context.Context) (PublicCA, error) {
		pca, _, err := OpenACME(ctx, cfg, w, o)
		return pca, err
	}}, nil
}

type lazyACME struct {
	roots []*x509.Certificate
	open  func(ctx context.Context) (PublicCA, error)
	mu    sync.Mutex
	pca   PublicCA
}

func (l *lazyACME) get(ctx context.Context) (PublicCA, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pca == nil {
		pca, err := l.open(ctx)
		if err != nil {
			return nil, err
		}
		l.pca = pca
	}
	return l.pca, nil
}

func (l *lazyACME) Obtain(ctx context.Context, id string, csrDER []byte, replaces *x509.Certificate) (*Issued, error) {
	pca, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return pca.Obtain(ctx, id, csrDER, replaces)
}

func (l *lazyACME) Roots() []*x509.Certificate { return l.roots }

func (l *lazyACME) RenewalInfo(ctx context.Context, leaf *x509.Certificate) (*acme.Window, error) {
	pca, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	ri, ok := pca.(RenewalInformer)
	if !ok {
		return nil, acme.ErrNoARI
	}
	return ri.RenewalInfo(ctx, leaf)
}
