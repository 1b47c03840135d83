package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"edgecert/internal/db"
)

var (
	oidKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
)

// template returns a template by name, reloading the directory when it
// changed: the exact name first, else the one template whose name differs
// only in case (several such are refused, never chosen at random).
func (e *Engine) template(name string) (*Template, error) {
	for _, force := range []bool{false, true} { // a miss re-reads the directory once
		m, err := e.loadTemplates(force)
		if err != nil {
			return nil, err
		}
		t, err := lookupTemplate(m, name)
		if t != nil || err != nil {
			return t, err
		}
	}
	e.tmplMu.Lock()
	problems := e.tmplProblems
	e.tmplMu.Unlock()
	for _, p := range problems {
		if strings.EqualFold(p.Name, name) {
			// The caller learns that the fault is the CA's, not where its files are.
			return nil, fmt.Errorf("template %s cannot be used: its definition on the CA is invalid (the CA's log says why): %w", name, ErrServerFault)
		}
	}
	return nil, fmt.Errorf("no template %q on this CA: %w", name, ErrNotFound)
}

// lookupTemplate finds name in m: exactly, else case-insensitively when
// that matches one template only. (nil, nil): no such template.
func lookupTemplate(m map[string]*Template, name string) (*Template, error) {
	if t, ok := m[name]; ok {
		return t, nil
	}
	var found []string
	for n := range m {
		if strings.EqualFold(n, name) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return m[found[0]], nil
	}
	sort.Strings(found)
	return nil, fmt.Errorf("template %q is ambiguous: templates %s differ only in case; use the exact name: %w", name, strings.Join(found, ", "), ErrBadRequest)
}

// loadTemplates returns the templates, re-reading them at most once a
// second and only when the templates directory changed.
func (e *Engine) loadTemplates(force bool) (map[string]*Template, error) {
	e.tmplMu.Lock()
	defer e.tmplMu.Unlock()
	now := time.Now()
	if !force && e.templates != nil && now.Sub(e.tmplChecked) < time.Second {
		return e.templates, nil
	}
	e.tmplChecked = now
	st, err := os.Stat(filepath.Join(e.dir, templatesDir))
	if err != nil {
		return nil, fmt.Errorf("the templates: %w: %w", ErrServerFault, err)
	}
	if !force && e.templates != nil && st.ModTime().Equal(e.tmplMod) {
		return e.templates, nil
	}
	m, problems, err := loadTemplates(e.dir)
	if err != nil {
		return nil, fmt.Errorf("the templates: %w: %w", ErrServerFault, err)
	}
	e.templates, e.tmplMod, e.tmplProblems = m, st.ModTime(), problems
	if e.onTemplateProblem != nil {
		for _, p := range problems {
			e.onTemplateProblem(p)
		}
	}
	return m, nil
}

// TemplateProblems are the template files the CA skipped at its last
// reading of the templates.
func (e *Engine) TemplateProblems() []TemplateProblem {
	e.tmplMu.Lock()
	defer e.tmplMu.Unlock()
	return append([]TemplateProblem(nil), e.tmplProblems...)
}

// Templates lists the templates p may enroll in.
func (e *Engine) Templates(ctx context.Context, p *Principal) ([]TemplateInfo, error) {
	m, err := e.loadTemplates(false)
	if err != nil {
		return nil, err
	}
	var out []TemplateInfo
	for _, t := range m {
		if t.mayEnroll(p) {
			out = append(out, t.info())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// audit appends a decision to the audit log (best effort for refusals: the
// refusal itself is the answer).
func (e *Engine) audit(ctx context.Context, a db.Audit) {
	a.At = e.now()
	_ = e.db.AppendAudit(ctx, a)
}

// Submit takes a PKCS#10 request (PEM or DER) for template (empty: the
// template named in the request) and either issues it or stores it as pending.
func (e *Engine) Submit(ctx context.Context, p *Principal, csrData []byte, template string) (*Result, error) {
	return e.submit(ctx, p, csrData, template, "")
}

// submit is Submit; detail goes into the audit entry recorded with an
// issued certificate, in the same transaction (an ACME order's id, so that
// the order finds its certificate after a crash: IssuedFor).
func (e *Engine) submit(ctx context.Context, p *Principal, csrData []byte, template, detail string) (*Result, error) {
	if p == nil {
		return nil, fmt.Errorf("no caller: %w", ErrUnauthenticated)
	}
	var w work
	// The group commit waits a little for the submissions in flight, queued
	// ones included: with many of them, rounds are larger and fewer.
	defer e.db.Coming()()
	var began, started, worked time.Time
	began = e.now()
	if err := e.work.do(ctx, func() {
		started = e.now()
		w = e.prepare(p, csrData, template)
		worked = e.now()
	}); err != nil {
		return nil, fmt.Errorf("waiting for the CA: %w", err)
	}
	// timing is called once the record is committed.
	timing := func() Timing {
		return Timing{Queue: started.Sub(began), Work: worked.Sub(started), Record: e.now().Sub(worked)}
	}
	if w.err != nil && w.unaudited {
		return nil, w.err
	}
	if w.err != nil {
		e.audit(ctx, db.Audit{Actor: p.Name, Action: "submit", Template: w.template, Subject: w.subject, Result: w.refusal, Detail: w.err.Error()})
		return nil, w.err
	}
	t, now := w.t, e.now()
	r := db.Request{Requester: p.Name, Template: t.Name, Subject: w.subject, Submitted: now}
	if t.Approval {
		r.CSR = w.req.Raw
		id, err := e.db.InsertPending(ctx, r, db.Audit{At: now, Actor: p.Name, Action: "submit", Template: t.Name, Subject: w.subject, Result: "pending"})
		if err != nil {
			return nil, recordErr(err, "")
		}
		return &Result{RequestID: id, Status: StatusPending, Requester: p.Name, Template: t.Name, Subject: w.subject, SANs: w.sans, Submitted: now,
			Timing: timing()}, nil
	}
	cert := w.cert
	serial := serialHex(cert.SerialNumber)
	c := db.Cert{Serial: serial, Requester: p.Name, Template: t.Name, Subject: w.subject, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, DER: cert.Raw}
	id, err := e.db.InsertIssued(ctx, r, c, db.Audit{At: now, Actor: p.Name, Action: "submit", Template: t.Name, Subject: w.subject, Serial: serial, Result: "issued", Detail: detail})
	if err != nil {
		return nil, recordErr(err, serial)
	}
	return &Result{RequestID: id, Status: StatusIssued, Requester: p.Name, Template: t.Name, Subject: w.subject, SANs: w.sans, Submitted: now,
		Certificate: cert, Chain: e.Chain(), Serial: serial,
		Timing: timing()}, nil
}

// work is what a submission's CPU work decided: a certificate to record,
// a request to keep for approval, or a refusal to audit and return.
type work struct {
	req      *x509.CertificateRequest
	t        *Template
	template string // the template asked for (audited with a refusal)
	subject  string
	sans     []string
	cert     *x509.Certificate // nil for a template that needs approval
	err      error
	refusal  string // the audit result of err: "refused" or "forbidden"
	// unaudited: err names nothing to audit (no template was asked for)
	unaudited bool
}

// prepare is a submission's CPU work, on a worker: parse the request, check
// the caller's permission on the template and the key's size, only then
// verify the request's signature (seconds of CPU for a huge key) and apply
// the template's policy, then build, lint and sign the certificate unless
// the template needs approval.
func (e *Engine) prepare(p *Principal, csrData []byte, template string) (w work) {
	w.template, w.refusal = template, "refused"
	req, err := parseCSRUnverified(csrData)
	if err != nil {
		w.err = err
		return w
	}
	w.req = req
	if template == "" {
		template = templateName(req)
	}
	if template == "" {
		w.err, w.unaudited = fmt.Errorf("the request names no certificate template and none was given: %w", ErrBadRequest), true
		return w
	}
	// A refusal records the subject as asked; an accepted request the one signed.
	w.template, w.subject = template, askedSubject(req)
	t, err := e.template(template)
	if err != nil {
		w.err = err
		return w
	}
	w.template = t.Name
	if !t.mayEnroll(p) {
		w.err, w.refusal = fmt.Errorf("%s has no Enroll permission on template %s: %w", p.Name, t.Name, ErrForbidden), "forbidden"
		return w
	}
	if err := checkKey(t, req); err != nil {
		w.err = err
		return w
	}
	if err := e.checkSig(req); err != nil {
		w.err = err
		return w
	}
	names, err := checkRequest(t, req)
	if err != nil {
		w.err = err
		return w
	}
	w.t, w.subject, w.sans = t, names.text, names.sans()
	if t.Approval {
		return w
	}
	w.cert, w.err = e.issueCert(t, names, req.PublicKey)
	return w
}

// serialHex is the canonical serial form: upper-case hex without leading zeros.
func serialHex(n *big.Int) string { return strings.ToUpper(n.Text(16)) }

// ParseSerial reads a hex serial (colons, spaces and a 0x prefix tolerated).
func ParseSerial(s string) (*big.Int, error) {
	clean := strings.NewReplacer(":", "", " ", "", "0x", "", "0X", "").Replace(strings.TrimSpace(s))
	n, ok := new(big.Int).SetString(clean, 16)
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("invalid serial number %q (hexadecimal expected): %w", s, ErrBadRequest)
	}
	return n, CheckSerialLength(n)
}

// MaxSerialOctets is the longest serial number RFC 5280 allows (4.1.2.2).
const MaxSerialOctets = 20

// CheckSerialLength refuses a serial number longer than MaxSerialOctets:
// no certificate of this CA, nor of any conforming CA, has one.
func CheckSerialLength(n *big.Int) error {
	if l := (n.BitLen() + 7) / 8; l > MaxSerialOctets {
		return fmt.Errorf("a serial is at most %d octets, this one has %d: %w", MaxSerialOctets, l, ErrBadRequest)
	}
	return nil
}

// issueCert builds, lints and signs a certificate under template t: the
// TBSCertificate is encoded once (tbs.go), linted as a certificate with a
// placeholder signature, and that exact TBS is then signed once by the CA key.
// The names are those namesFor decided: they are signed as they are.
func (e *Engine) issueCert(t *Template, names *certNames, pub crypto.PublicKey) (*x509.Certificate, error) {
	if e.signer == nil {
		return nil, fmt.Errorf("the CA was opened without its key: %w", ErrBadRequest)
	}
	tmpl, err := e.certTemplate(t, names, pub)
	if err != nil {
		return nil, err
	}
	alg, err := sigAlgorithmID(e.signer.Public())
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("unsupported public key: %v: %w", err, ErrBadRequest)
	}
	tbs, err := e.encodeTBS(tmpl, spki, alg)
	if err != nil {
		return nil, fmt.Errorf("template %s: cannot build the certificate: %v: %w", t.Name, err, ErrBadRequest)
	}
	// Lint the final TBS, with a placeholder signature (lints do not verify it).
	if err := e.lintCertificate(t, assembleCert(tbs, alg, lintSignature(alg))); err != nil {
		return nil, err
	}
	h := sigHash(e.signer.Public())
	d := h.New()
	d.Write(tbs)
	sig, err := e.signer.Sign(e.rand, d.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("signing with the CA key: %w", err)
	}
	cert, err := x509.ParseCertificate(assembleCert(tbs, alg, sig))
	if err != nil {
		return nil, err
	}
	if !e.softKey { // Go's own keys verify their signatures; a token's are checked here
		if err := cert.CheckSignatureFrom(e.issuer); err != nil {
			return nil, fmt.Errorf("the CA key produced an invalid signature: %w", err)
		}
	}
	return cert, nil
}

// assembleCert builds Certificate ::= SEQUENCE { tbs, alg, BIT STRING sig }.
func assembleCert(tbs, alg, sig []byte) []byte {
	b := cryptobyte.NewBuilder(make([]byte, 0, len(tbs)+len(alg)+len(sig)+16))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(alg)
		b.AddASN1BitString(sig)
	})
	return b.BytesOrPanic()
}

// lintSignature is a well-formed placeholder signature for alg.
func lintSignature(alg []byte) []byte {
	if bytes.Equal(alg, algRSASHA256) {
		return make([]byte, 256)
	}
	// ECDSA-Sig-Value { r, s }
	return []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}
}

// certTemplate turns template t and the checked names into an x509 template.
func (e *Engine) certTemplate(t *Template, names *certNames, pub crypto.PublicKey) (*x509.Certificate, error) {
	serial, err := randomSerial(e.rand)
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("unsupported public key: %v: %w", err, ErrBadRequest)
	}
	now := e.now().UTC().Truncate(time.Second)
	notBefore := now.Add(-5 * time.Minute)
	notAfter := notBefore.Add(time.Duration(t.Validity) - time.Second)
	if notAfter.After(e.issuer.NotAfter) {
		notAfter = e.issuer.NotAfter
	}
	_, isRSA := pub.(*rsa.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: notBefore, NotAfter: notAfter, SubjectKeyId: ski,
		BasicConstraintsValid: true, IsCA: t.CA,
		CRLDistributionPoints: []string{e.cfg.CRLBase + e.cfg.FileName + ".crl"},
		IssuingCertificateURL: []string{e.cfg.AIABase + e.cfg.FileName + ".crt"},
	}
	if e.cfg.OCSPURL != "" {
		tmpl.OCSPServer = []string{e.cfg.OCSPURL}
	}
	if t.CA {
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = t.PathLen, t.PathLen == 0
	}
	tmpl.RawSubject, tmpl.DNSNames, tmpl.IPAddresses = names.subject, names.dns, names.ips
	ku := t.keyUsage(isRSA)
	if ku != 0 {
		ext, err := keyUsageExtension(ku, t.KeyUsageCritical)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
		tmpl.KeyUsage = ku
	}
	if len(t.EKU) > 0 {
		var oids []asn1.ObjectIdentifier
		for _, u := range t.extKeyUsages() {
			oids = append(oids, ekuOIDs[u])
		}
		v, err := asn1.Marshal(oids)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidExtKeyUsage, Critical: t.EKUCritical, Value: v})
	}
	if t.OCSPNoCheck {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidOCSPNoCheck, Value: []byte{0x05, 0x00}})
	}
	return tmpl, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// keyUsageExtension encodes key usage with the template's criticality
// (the standard library always marks it critical).
func keyUsageExtension(ku x509.KeyUsage, critical bool) (pkix.Extension, error) {
	var a [2]byte
	a[0] = reverseBits(byte(ku))
	a[1] = reverseBits(byte(ku >> 8))
	l := 1
	if a[1] != 0 {
		l = 2
	}
	bs := a[:l]
	bitLen := l * 8
	for i := 0; i < 8; i++ { // trailing zero bits are not part of the DER BIT STRING
		if bs[l-1]&(1<<uint(i)) != 0 {
			break
		}
		bitLen--
	}
	v, err := asn1.Marshal(asn1.BitString{Bytes: bs, BitLength: bitLen})
	return pkix.Extension{Id: oidKeyUsage, Critical: critical, Value: v}, err
}

func reverseBits(b byte) byte {
	var r byte
	for i := 0; i < 8; i++ {
		r = r<<1 | b&1
		b >>= 1
	}
	return r
}
