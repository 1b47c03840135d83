package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"edgecert/internal/certfmt"
	"edgecert/internal/plan"
	"edgecert/internal/store"
)

// checkCertificate runs every check on the certificate assigned to f.Usage
// on one server.
func checkCertificate(ctx context.Context, c *plan.Certificate, st *store.Store, f Finding, rev *revocationChecker, opts *Options) []Finding {
	entry, cert, err := st.Certificate(f.Thumbprint)
	if err != nil {
		return []Finding{f.fail(CheckAssigned, assignRule(c),
			fmt.Sprintf("the assigned certificate %s is not in the store: %v", f.Thumbprint, err),
			"run edgecert apply to import and assign the certificate again")}
	}
	out := checkKey(c, st, f, entry, cert)
	out = append(out, checkContents(c, f, cert, opts)...)
	chain, chainFindings := checkChain(c, st, f, cert, opts.Now(), opts.chains)
	out = append(out, chainFindings...)
	return finish(ctx, c, f, cert, chain, out, rev, opts)
}

// checkContents checks what a certificate says against the plan: its
// names, EKU, key usage, key type and validity.
func checkContents(c *plan.Certificate, f Finding, cert *x509.Certificate, opts *Options) []Finding {
	var out []Finding
	if f.Usage != plan.UsageAudioVideoAuthentication {
		// The A/V Authentication service ignores the names (R19): a
		// certificate assigned (or still current) for it alone is not
		// checked against them, so a staged roll verifies.
		out = append(out, checkNames(c, f, cert.Subject.CommonName, cert.DNSNames, CheckNames, CheckExtraNames)...)
	}
	usage := append(checkEKU(c, f, cert), checkKeyUsage(c, f, cert)...)
	if opts.PublicACME && c.Issuer == "public" {
		for i := range usage {
			usage[i] = usage[i].warn(usage[i].Check, usage[i].Rule, usage[i].Message+" (the ACME CA issues server authentication only)",
				"expected from a public ACME CA; where the usage is required (federation partners that check clientAuth), issue this certificate from the internal CA or through the outbox")
		}
	}
	out = append(out, usage...)
	out = append(out, checkKeyType(c, f, cert)...)
	return append(out, checkValidity(f, cert, opts.Now(), opts.WarnDays, CheckValidity, CheckExpiry)...)
}

// finish checks revocation when the chain was built, and adds the passing
// finding when out holds no error.
func finish(ctx context.Context, c *plan.Certificate, f Finding, cert *x509.Certificate, chain []*x509.Certificate, out []Finding, rev *revocationChecker, opts *Options) []Finding {
	msg := fmt.Sprintf("assigned, key, names, EKU, key usage, chain as planned; valid %d more days",
		int(math.Floor(cert.NotAfter.Sub(opts.Now()).Hours()/24)))
	if chain != nil && !opts.SkipRevocation {
		if r := rev.check(ctx, f, cert, chain, opts.RequireRevocation); r.Severity == SeverityOK {
			msg += "; " + strings.SplitN(r.Message, " (", 2)[0]
		} else {
			out = append(out, r)
		}
	}
	if !hasSeverity(out, SeverityError) {
		out = append(out, f.pass(CheckAssigned, assignRule(c), msg))
	}
	return out
}

func hasSeverity(fs []Finding, s Severity) bool {
	for _, f := range fs {
		if f.Severity == s {
			return true
		}
	}
	return false
}

// checkKey checks that the key is in the store, matches, and may be
// exported where the plan shares the certificate.
func checkKey(c *plan.Certificate, st *store.Store, f Finding, e *store.Entry, cert *x509.Certificate) []Finding {
	if !e.HasKey {
		return []Finding{f.fail(CheckKey, "R8", "the certificate's private key is not in the store",
			"import the .pfx with its key (edgecert store import --store DIR FILE.pfx) or run edgecert apply")}
	}
	key, err := st.PrivateKey(f.Thumbprint)
	if err != nil {
		return []Finding{f.fail(CheckKey, "R8", fmt.Sprintf("the private key cannot be read: %v", err),
			"import the .pfx with its key again")}
	}
	if !certfmt.PublicKeysEqual(key.Public(), cert.PublicKey) {
		return []Finding{f.fail(CheckKey, "R8", "the private key in the store does not match the certificate",
			"delete the certificate and import the .pfx that holds the matching key")}
	}
	if c.Key.Exportable && len(c.Servers) > 1 && f.Server == c.RequestOn && !e.Exportable {
		return []Finding{f.fail(CheckExportable, exportRule(c),
			"the key is not exportable, so it cannot be copied to the other members",
			"request the certificate again with an exportable key (R10): delete it and run edgecert apply")}
	}
	return nil
}

// exportRule is the rule that makes a certificate shared by several servers
// (and so its key exportable and identical on every member).
func exportRule(c *plan.Certificate) string {
	switch c.Kind {
	case plan.KindEdgeInternal:
		return "R38"
	case plan.KindReverseProxy, plan.KindEdgeExternalAndProxy:
		return "R58"
	}
	return "R27"
}

// checkNames compares the planned names with a certificate's as sets, case
// insensitively (R20, M1): every planned name must be present, extra names
// are warnings.
func checkNames(c *plan.Certificate, f Finding, cn string, dns []string, missingCheck, extraCheck Check) []Finding {
	var out []Finding
	have := map[string]bool{}
	for _, n := range dns {
		have[strings.ToLower(n)] = true
	}
	if c.Subject.CommonName != "" && !strings.EqualFold(cn, c.Subject.CommonName) && missingCheck == CheckNames {
		out = append(out, f.fail(missingCheck, nameRule(c, c.Subject.CommonName),
			fmt.Sprintf("subject name is %q, the plan says %q", cn, c.Subject.CommonName),
			"run edgecert renew -t TOPOLOGY --workspace DIR: it re-requests certificates that no longer match the plan, with the plan's names"))
	}
	var missing []string
	planned := map[string]bool{}
	for _, n := range c.SANs {
		planned[strings.ToLower(n)] = true
		if !have[strings.ToLower(n)] {
			missing = append(missing, n)
		}
	}
	for _, n := range missing {
		out = append(out, f.fail(missingCheck, nameRule(c, n),
			fmt.Sprintf("subject alternative name %s is missing", n),
			"run edgecert renew -t TOPOLOGY --workspace DIR: it re-requests certificates that lack a planned name, with exactly the plan's names"))
	}
	var extra []string
	for n := range have {
		if !planned[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		out = append(out, f.warn(extraCheck, "R20",
			fmt.Sprintf("names not in the plan: %s", strings.Join(extra, ", ")),
			"harmless, but the next renewal will drop them unless the topology names them"))
	}
	return out
}

// nameRule returns the rule that put name into the plan.
func nameRule(c *plan.Certificate, name string) string {
	for _, ns := range c.Names {
		if strings.EqualFold(ns.Name, name) && len(ns.Rules) > 0 {
			return ns.Rules[0]
		}
	}
	return "R20"
}

var ekuNames = map[string]x509.ExtKeyUsage{
	"serverAuth": x509.ExtKeyUsageServerAuth,
	"clientAuth": x509.ExtKeyUsageClientAuth,
}

func checkEKU(c *plan.Certificate, f Finding, cert *x509.Certificate) []Finding {
	var out []Finding
	for _, name := range c.EKU {
		want, ok := ekuNames[name]
		if !ok {
			continue
		}
		found := false
		for _, e := range cert.ExtKeyUsage {
			if e == want || e == x509.ExtKeyUsageAny {
				found = true
			}
		}
		if !found {
			rule := "R1"
			if name == "clientAuth" {
				rule = "R56"
				if c.Kind == plan.KindEdgeExternal {
					rule = "R23"
				}
			}
			out = append(out, f.fail(CheckEKU, rule,
				fmt.Sprintf("extended key usage %s is missing (has %s)", name, ekuString(cert.ExtKeyUsage)),
				fmt.Sprintf("request the certificate again with a template that carries %s (plan template %s)", name, c.Template)))
		}
	}
	return out
}

func ekuString(ekus []x509.ExtKeyUsage) string {
	var s []string
	for _, e := range ekus {
		found := false
		for n, v := range ekuNames {
			if v == e {
				s = append(s, n)
				found = true
			}
		}
		if !found {
			s = append(s, fmt.Sprintf("eku(%d)", e))
		}
	}
	if len(s) == 0 {
		return "none"
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

var kuNames = map[string]x509.KeyUsage{
	"digitalSignature": x509.KeyUsageDigitalSignature,
	"keyEncipherment":  x509.KeyUsageKeyEncipherment,
	"keyAgreement":     x509.KeyUsageKeyAgreement,
}

func checkKeyUsage(c *plan.Certificate, f Finding, cert *x509.Certificate) []Finding {
	if cert.KeyUsage == 0 {
		return nil // no key usage extension: every usage allowed (RFC 5280)
	}
	var out []Finding
	for _, name := range c.KeyUsage {
		want, ok := kuNames[name]
		if !ok {
			continue
		}
		if name == "keyEncipherment" && cert.PublicKeyAlgorithm == x509.ECDSA {
			continue
		}
		if cert.KeyUsage&want == 0 {
			out = append(out, f.fail(CheckKeyUsage, "R56",
				fmt.Sprintf("key usage %s is missing", name),
				"request the certificate again: the plan's key usage is digital signature and key encipherment"))
		}
	}
	return out
}

func checkKeyType(c *plan.Certificate, f Finding, cert *x509.Certificate) []Finding {
	alg, bits := keyType(cert)
	if c.Key.Algorithm == "" {
		return nil
	}
	if !strings.EqualFold(alg, c.Key.Algorithm) || (c.Key.Bits != 0 && bits != c.Key.Bits) {
		rule := "R3"
		if !strings.EqualFold(alg, c.Key.Algorithm) {
			rule = "R4"
		}
		return []Finding{f.fail(CheckKeyType, rule,
			fmt.Sprintf("key is %s %d, the plan says %s %d", alg, bits, c.Key.Algorithm, c.Key.Bits),
			"request the certificate again with the planned key (edgecert apply uses the plan's key)")}
	}
	return nil
}

// keyType returns the algorithm name and size of a certificate's key.
func keyType(cert *x509.Certificate) (string, int) {
	alg, bits := keyTypeOf(cert.PublicKey)
	if alg == "" {
		return cert.PublicKeyAlgorithm.String(), 0
	}
	return alg, bits
}

// keyTypeOf returns the algorithm name and size of a public key; "" for
// other algorithms.
func keyTypeOf(pub any) (string, int) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	}
	return "", 0
}

// checkValidity checks that cert is valid at now and warns before expiry.
func checkValidity(f Finding, cert *x509.Certificate, now time.Time, warnDays int, validity, expiry Check) []Finding {
	switch {
	case now.Before(cert.NotBefore):
		return []Finding{f.fail(validity, "R1", fmt.Sprintf("not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339)),
			"check the server clock, or wait until the certificate becomes valid")}
	case now.After(cert.NotAfter):
		return []Finding{f.fail(validity, "R1", fmt.Sprintf("expired on %s", cert.NotAfter.UTC().Format(time.RFC3339)),
			"renew it: edgecert renew -t TOPOLOGY --workspace DIR --within 30d")}
	}
	days := int(math.Floor(cert.NotAfter.Sub(now).Hours() / 24))
	if days < warnDays {
		return []Finding{f.warn(expiry, "R80", fmt.Sprintf("expires in %d days (%s)", days, cert.NotAfter.UTC().Format("2006-01-02")),
			fmt.Sprintf("renew it now: edgecert renew -t TOPOLOGY --workspace DIR --within %dd", warnDays))}
	}
	return nil
}

// checkChain builds the chain from the store's ca and root locations and
// checks its signatures.
func checkChain(c *plan.Certificate, st *store.Store, f Finding, cert *x509.Certificate, now time.Time, cache *chainCache) ([]*x509.Certificate, []Finding) {
	rule := "R43"
	if c.Kind == plan.KindReverseProxy || c.Kind == plan.KindEdgeExternalAndProxy {
		rule = "R51"
	}
	fix := "import the issuing CA's chain (.p7b) into the server's root location: edgecert store import --store DIR chain.p7b"
	chain, err := st.Chain(cert)
	if err != nil {
		msg := fmt.Sprintf("the chain does not build to a trusted root in the store: %v", err)
		if !errors.Is(err, store.ErrChain) && !errors.Is(err, store.ErrNotFound) {
			msg = fmt.Sprintf("the chain cannot be built: %v", err)
		}
		return nil, []Finding{f.fail(CheckChain, rule, msg, fix)}
	}
	if len(chain) == 0 {
		return nil, []Finding{f.fail(CheckChain, rule, "the chain is empty", fix)}
	}
	if err := verifyChain(chain, now, cache); err != nil {
		return nil, []Finding{f.fail(CheckChain, rule, fmt.Sprintf("the chain does not verify: %v", err), fix)}
	}
	return chain, nil
}

// verifyChain verifies the path and signatures of chain (leaf first, root
// last) at a time inside the leaf's validity: the leaf's validity is
// checked on its own.
func verifyChain(chain []*x509.Certificate, now time.Time, cache *chainCache) error {
	cert := chain[0]
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	for _, ca := range chain[1:] {
		inter.AddCert(ca)
	}
	at := now
	if at.After(cert.NotAfter) {
		at = cert.NotAfter.Add(-time.Second)
	} else if at.Before(cert.NotBefore) {
		at = cert.NotBefore.Add(time.Second)
	}
	return cache.verify(chain, at, func() error {
		_, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		return err
	})
}
