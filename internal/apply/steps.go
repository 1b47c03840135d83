package apply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"edgecert/internal/acme"
	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
	"edgecert/internal/plan"
	"edgecert/internal/readlimit"
	"edgecert/internal/store"
)

// allServers returns every server of certs, sorted.
func allServers(certs []*plan.Certificate) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range certs {
		for _, s := range c.Servers {
			s = strings.ToLower(s)
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// prepareChain fetches the CA chain (.p7b) once per run; ensureChain then
// imports it on each server before anything else happens there (step 1:
// R39, R41, R43, R51), so that chain imports overlap with key generation.
func (r *runner) prepareChain(ctx context.Context) (err error) {
	if r.publicRoots, err = r.publicRootsP7B(); err != nil {
		return err
	}
	p7b, err := r.chainFile(ctx)
	if err != nil || p7b == nil {
		return err
	}
	sum := sha256.Sum256(p7b)
	r.chainP7B, r.chainSum = p7b, hex.EncodeToString(sum[:])
	return nil
}

// ensureChain imports the chain on server once per run.
func (r *runner) ensureChain(server string) error {
	if (r.chainP7B == nil && r.publicRoots == nil) || !r.w.Local(server) {
		return nil
	}
	server = strings.ToLower(server)
	r.chainMu.Lock()
	once := r.chainOnce[server]
	if once == nil {
		once = &chainOnce{}
		r.chainOnce[server] = once
	}
	r.chainMu.Unlock()
	once.Do(func() { once.err = r.importChainOn(server) })
	return once.err
}

type chainOnce struct {
	sync.Once
	err error
}

// importChainOn imports the chain on one server. The store, not the
// journal, says whether it is there: a root deleted since is put back.
func (r *runner) importChainOn(srv string) error {
	st, _, err := r.w.Store(srv)
	if err != nil {
		return err
	}
	if r.publicRoots != nil {
		unlock := r.w.lock(srv)
		res, err := st.Import(r.publicRoots, store.ImportOptions{})
		unlock()
		if err != nil {
			r.event(StepChain, "", srv, EventFailed, "%v", err)
			return fmt.Errorf("apply: import the ACME CA's trusted roots on %s: %w", srv, err)
		}
		if len(res.Added) > 0 {
			r.event(StepChain, "", srv, EventDone, "ACME CA's trusted roots imported (%d added to root)", len(res.Added))
		}
	}
	if r.chainP7B == nil {
		return nil
	}
	unlock := r.w.lock(srv)
	res, err := st.Import(r.chainP7B, store.ImportOptions{})
	unlock()
	if err != nil {
		r.event(StepChain, "", srv, EventFailed, "%v", err)
		return fmt.Errorf("apply: import the CA chain on %s: %w", srv, err)
	}
	r.j.chainDoneLater(r.chainSum, srv)
	if len(res.Added) == 0 {
		r.event(StepChain, "", srv, EventSkipped, "CA chain already imported")
		return nil
	}
	r.event(StepChain, "", srv, EventDone, "CA chain imported (%d added to root/ca)", len(res.Added))
	return nil
}

// chainFile returns the CA chain as a DER .p7b, from the issuer (and saves
// it in the workspace and the exchange folder) or, without an issuer, from
// the exchange folder. nil: no chain available.
func (r *runner) chainFile(ctx context.Context) ([]byte, error) {
	if r.o.Issuer == nil {
		if r.w.Exchange != "" {
			b, err := readlimit.File(filepath.Join(r.w.Exchange, "ca-chain.p7b"), readlimit.CertificateFile)
			if err == nil {
				return b, nil
			}
		}
		r.event(StepChain, "", "", EventSkipped, "no CA given (--ca or --ca-dir): chain not imported")
		return nil, nil
	}
	chain, err := r.o.Issuer.Chain(ctx)
	if err != nil {
		return nil, err
	}
	p7b, err := certfmt.EncodePKCS7(chain)
	if err != nil {
		return nil, fmt.Errorf("apply: CA chain: %w", err)
	}
	if err := writeChanged(r.w.path("ca-chain.p7b"), p7b, 0o644); err != nil {
		return nil, fmt.Errorf("apply: save the CA chain: %w", err)
	}
	if r.w.Exchange != "" {
		if err := writeChanged(filepath.Join(r.w.Exchange, "ca-chain.p7b"), p7b, 0o644); err != nil {
			return nil, fmt.Errorf("apply: save the CA chain: %w", err)
		}
	}
	return p7b, nil
}

// writeChanged writes data to path atomically unless path already holds
// exactly data with mode: a run that changes nothing writes nothing.
func writeChanged(path string, data []byte, mode os.FileMode) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() == mode.Perm() && fi.Size() == int64(len(data)) {
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			return nil
		}
	}
	return atomicfile.Write(path, data, mode)
}

// findMy returns the certificate with friendly name fn and its key in my.
func findMy(st *store.Store, fn string) (*store.Entry, error) {
	es, err := st.List(store.My)
	if err != nil {
		return nil, err
	}
	for i := range es {
		if es[i].FriendlyName == fn && es[i].HasKey {
			return &es[i], nil
		}
	}
	return nil, nil
}

// hasMy reports whether my holds thumbprint with its key.
func hasMy(st *store.Store, thumb string) (bool, error) {
	es, err := st.List(store.My)
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if strings.EqualFold(e.Thumbprint, thumb) && e.HasKey {
			return true, nil
		}
	}
	return false, nil
}

// findPending returns the pending request with friendly name fn.
func findPending(st *store.Store, fn string) (*store.Pending, error) {
	ps, err := st.Pending()
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if ps[i].FriendlyName == fn {
			return &ps[i], nil
		}
	}
	return nil, nil
}

// obtain is steps 2 and 3: the request on request_on and the issued
// certificate imported there. It returns the certificate's thumbprint, or
// why it waits.
func (r *runner) obtain(ctx context.Context, c *plan.Certificate, cs CertState) (string, string, error) {
	if err := r.ensureChain(c.RequestOn); err != nil {
		return "", "", err
	}
	st, _, err := r.w.Store(c.RequestOn)
	if err != nil {
		return "", "", err
	}
	// No workspace lock here: one goroutine handles one certificate, and
	// the store serialises its own changes, so that the key generations of
	// certificates requested on the same server run in parallel.
	if e, err := findMy(st, cs.FriendlyName); err != nil {
		return "", "", err
	} else if e != nil {
		r.event(StepImport, c.ID, c.RequestOn, EventSkipped, "certificate %s already in my", e.Thumbprint)
		if !chainBroken(st, e.Thumbprint) {
			return e.Thumbprint, "", nil
		}
		saved := r.w.path("issued", fmt.Sprintf("%s-g%d.pem", safeName(c.ID), cs.Generation))
		b, err := os.ReadFile(saved)
		if err != nil {
			return "", "", fmt.Errorf("apply: the chain of %s is missing on %s and cannot be rebuilt: %w", c.ID, c.RequestOn, err)
		}
		certs, err := certfmt.ParseCertificates(b)
		if err != nil || len(certs) < 2 {
			return "", "", fmt.Errorf("apply: the chain of %s is missing on %s and %s has none", c.ID, c.RequestOn, saved)
		}
		return e.Thumbprint, "", r.putChain(c, c.RequestOn, st, certs[1:])
	}
	pend, err := findPending(st, cs.FriendlyName)
	if err != nil {
		return "", "", err
	}
	created, journaled := pend == nil, r.j.existing(c.ID)
	if pend == nil {
		spec, err := requestSpec(c, cs.FriendlyName)
		if err != nil {
			return "", "", err
		}
		if pend, err = st.NewRequest(spec); err != nil {
			return "", "", fmt.Errorf("apply: request on %s: %w", c.RequestOn, err)
		}
		r.event(StepRequest, c.ID, c.RequestOn, EventDone, "%s key and request created for %s", spec.Key, strings.Join(c.SANs, ", "))
	} else {
		r.event(StepRequest, c.ID, c.RequestOn, EventSkipped, "request already pending; its key is kept")
	}
	req, err := csr.Decode(pend.DER)
	if err != nil {
		return "", "", fmt.Errorf("apply: pending request on %s: %w", c.RequestOn, err)
	}
	r.j.set(c.ID, c.FriendlyName, func(s *CertState) { s.RequestKey = keyID(req.PublicKey) })
	if c.Issuer == issuerPublic {
		if r.o.PublicCA == nil {
			return "", waitingPublic, r.writeOutbox(c, pend)
		}
		issued, err := r.issuePublic(ctx, c, cs, st, pend, req)
		if err != nil {
			if errors.Is(err, acme.ErrOrderFailed) {
				return "", "", r.undoRequest(c, st, pend, created, journaled, err)
			}
			return "", "", err
		}
		thumb, err := importIssued(st, c, cs.FriendlyName, issued.Leaf, issued.Chain)
		if err != nil {
			return "", "", err
		}
		r.event(StepImport, c.ID, c.RequestOn, EventDone, "certificate %s imported with the pending key", thumb)
		return thumb, "", nil
	}
	issued, err := r.issue(ctx, c, cs, pend, req)
	if errors.Is(err, errNoIssuer) {
		r.event(StepIssue, c.ID, c.RequestOn, EventWaiting, "%s", waitingCA)
		return "", waitingCA, nil
	}
	if err != nil || issued == nil {
		if err == nil {
			return "", waitingApproval, nil
		}
		return "", "", err
	}
	thumb, err := importIssued(st, c, cs.FriendlyName, issued.Leaf, issued.Chain)
	if err != nil {
		return "", "", err
	}
	r.event(StepImport, c.ID, c.RequestOn, EventDone, "certificate %s imported with the pending key", thumb)
	return thumb, "", nil
}

// issuerPublic is the plan's issuer value of a public CA.
const issuerPublic = "public"

// Reasons to wait.
const (
	waitingPublic   = "waiting for the public CA: send outbox request, then apply --import-response FILE"
	waitingApproval = "waiting for approval at the CA: run apply again once approved"
	waitingCA       = "waiting for the internal CA: run apply with --ca URL --token-file F or --ca-dir DIR"
)

// errNoIssuer: an internal-issuer certificate and no CA given.
var errNoIssuer = errors.New("no internal CA given")

func keyID(pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// importIssued files the chain and the leaf in st; the leaf joins its
// pending key in my.
func importIssued(st *store.Store, c *plan.Certificate, fn string, leaf *x509.Certificate, chain []*x509.Certificate) (string, error) {
	if len(chain) > 0 {
		p7b, err := certfmt.EncodePKCS7(chain)
		if err != nil {
			return "", fmt.Errorf("apply: chain of %s: %w", c.ID, err)
		}
		if _, err := st.Import(p7b, store.ImportOptions{}); err != nil {
			return "", fmt.Errorf("apply: import the chain of %s on %s: %w", c.ID, c.RequestOn, err)
		}
	}
	if _, err := st.Import(leaf.Raw, store.ImportOptions{FriendlyName: fn, Exportable: c.Key.Exportable}); err != nil {
		return "", fmt.Errorf("apply: import %s on %s: %w", c.ID, c.RequestOn, err)
	}
	return certfmt.ThumbprintSHA1(leaf), nil
}

// issue gets the certificate of the pending request from the internal CA:
// from the copy saved by an earlier run, by retrieving a request that was
// pending, or by submitting. nil, nil: pending approval.
func (r *runner) issue(ctx context.Context, c *plan.Certificate, cs CertState, pend *store.Pending, req *x509.CertificateRequest) (*Issued, error) {
	saved := r.w.path("issued", fmt.Sprintf("%s-g%d.pem", safeName(c.ID), cs.Generation))
	if b, err := os.ReadFile(saved); err == nil {
		if certs, err := certfmt.ParseCertificates(b); err == nil && len(certs) > 0 && certfmt.PublicKeysEqual(certs[0].PublicKey, req.PublicKey) {
			r.event(StepIssue, c.ID, c.RequestOn, EventSkipped, "issued by an earlier run")
			return &Issued{Leaf: certs[0], Chain: certs[1:]}, nil
		}
	}
	if r.o.Issuer == nil {
		return nil, errNoIssuer
	}
	var is *Issued
	var err error
	if cs.CARequestID != 0 {
		is, err = r.o.Issuer.Retrieve(ctx, cs.CARequestID)
	} else {
		is, err = r.o.Issuer.Submit(ctx, pend.DER, c.Template)
	}
	if err != nil {
		r.event(StepIssue, c.ID, c.RequestOn, EventFailed, "%v", err)
		return nil, err
	}
	if is.Pending {
		r.event(StepIssue, c.ID, c.RequestOn, EventWaiting, "request %d is pending approval at the CA", is.RequestID)
		return nil, r.j.update(c.ID, c.FriendlyName, func(s *CertState) { s.CARequestID = is.RequestID })
	}
	if !certfmt.PublicKeysEqual(is.Leaf.PublicKey, req.PublicKey) {
		return nil, fmt.Errorf("apply: the CA returned a certificate for another key (request %d)", is.RequestID)
	}
	if err := atomicfile.Write(saved, certfmt.EncodeCertificatePEM(append([]*x509.Certificate{is.Leaf}, is.Chain...)...), 0o644); err != nil {
		return nil, fmt.Errorf("apply: save the issued certificate: %w", err)
	}
	r.event(StepIssue, c.ID, c.RequestOn, EventDone, "issued by the internal CA (serial %X)", is.Leaf.SerialNumber)
	return is, nil
}

// requestSpec turns a plan entry into a store request with every field of the plan.
func requestSpec(c *plan.Certificate, fn string) (store.RequestSpec, error) {
	ks, err := csr.KeySpecFor(c.Key.Algorithm, c.Key.Bits)
	if err != nil {
		return store.RequestSpec{}, fmt.Errorf("apply: %s: %w", c.ID, err)
	}
	subj := pkix.Name{CommonName: c.Subject.CommonName}
	add := func(dst *[]string, v string) {
		if v != "" {
			*dst = []string{v}
		}
	}
	add(&subj.Organization, c.Subject.Organization)
	add(&subj.OrganizationalUnit, c.Subject.OrganizationalUnit)
	add(&subj.Locality, c.Subject.Locality)
	add(&subj.Province, c.Subject.State)
	add(&subj.Country, c.Subject.Country)
	var ku x509.KeyUsage
	for _, k := range c.KeyUsage {
		switch k {
		case "digitalSignature":
			ku |= x509.KeyUsageDigitalSignature
		case "keyEncipherment":
			ku |= x509.KeyUsageKeyEncipherment
		case "keyAgreement":
			ku |= x509.KeyUsageKeyAgreement
		}
	}
	var eku []x509.ExtKeyUsage
	for _, e := range c.EKU {
		switch e {
		case "serverAuth":
			eku = append(eku, x509.ExtKeyUsageServerAuth)
		case "clientAuth":
			eku = append(eku, x509.ExtKeyUsageClientAuth)
		}
	}
	return store.RequestSpec{
		Request: csr.Request{Subject: subj, DNSNames: c.SANs, Template: c.Template, KeyUsage: ku,
			KeyUsageCritical: c.KeyUsageCritical, ExtKeyUsage: eku, ExtKeyUsageCritical: c.EKUCritical},
		Key: ks, Exportable: c.Key.Exportable, FriendlyName: fn,
	}, nil
}

// writeOutbox writes the request for the public CA and its instruction.
func (r *runner) writeOutbox(c *plan.Certificate, pend *store.Pending) error {
	base := r.w.path("outbox", safeName(c.ID))
	if err := atomicfile.Write(base+".csr", csr.EncodePEM(pend.DER), 0o644); err != nil {
		return fmt.Errorf("apply: outbox: %w", err)
	}
	note := fmt.Sprintf("Submit %s.csr to your public CA (server type Microsoft IIS, usage Web Server, response PKCS#7, R31); "+
		"then run: edgecert apply -t TOPOLOGY --workspace %s --import-response RESPONSE.p7b\n", safeName(c.ID), r.w.Dir)
	if err := atomicfile.Write(base+".txt", []byte(note), 0o644); err != nil {
		return fmt.Errorf("apply: outbox: %w", err)
	}
	r.event(StepIssue, c.ID, c.RequestOn, EventWaiting, "request written to %s.csr: waiting for the public CA", base)
	return nil
}

// chainBroken reports whether thumb's chain no longer builds in st.
func chainBroken(st *store.Store, thumb string) bool {
	_, cert, err := st.Certificate(thumb)
	if err != nil {
		return false
	}
	_, err = st.Chain(cert)
	return err != nil
}

// putChain imports CA certificates on a server whose store lost them (the
// caller holds the server's lock): the store is the source of truth, and
// apply does what is missing.
func (r *runner) putChain(c *plan.Certificate, srv string, st *store.Store, cas []*x509.Certificate) error {
	p7b, err := certfmt.EncodePKCS7(cas)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if _, err := st.Import(p7b, store.ImportOptions{}); err != nil {
		return fmt.Errorf("apply: put back the chain of %s on %s: %w", c.ID, srv, err)
	}
	r.event(StepChain, c.ID, srv, EventDone, "chain of the certificate put back (%d CA certificates)", len(cas))
	return nil
}
