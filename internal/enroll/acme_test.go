package enroll

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/challenge/http01"
	"github.com/go-acme/lego/v5/challenge/tlsalpn01"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"

	"edgecert/internal/acmeserver"
	"edgecert/internal/ca"
	"edgecert/internal/testtool/testdns"
)

// legoUser is a lego account.
type legoUser struct {
	key crypto.Signer
	reg *acme.ExtendedAccount
}

func (u *legoUser) GetEmail() string                       { return "" }
func (u *legoUser) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.Signer           { return u.key }

// freePort returns a loopback port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// acmeEnv is a CA serving ACME with a DNS server and the ports it
// validates on.
type acmeEnv struct {
	tc                *testCA
	ts                *testServer
	dns               *testdns.Server
	httpPort, tlsPort int
	dir               string // the WebServer directory URL
}

func newACMEEnv(t testing.TB) *acmeEnv { return newACMEEnvAt(t, nil, "") }

// newACMEEnvAt is newACMEEnv with the server's clock (nil: time.Now) and
// database (empty: SQLite in the CA directory).
func newACMEEnvAt(t testing.TB, now func() time.Time, dsn string) *acmeEnv {
	t.Helper()
	tc := newRealCAKey(t, "p256", dsn)
	names := []string{"*.contoso.test"}
	if _, err := ca.SetTemplate(tc.dir, tmplAuto, ca.TemplateChange{AllowedDNS: &names}); err != nil {
		t.Fatal(err)
	}
	// The engine reads the templates again at most once a second.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		refused, err := tc.eng.(*ca.Engine).CheckOrder(context.Background(), ca.Operator(), tmplAuto, []string{"evil.example"})
		if err == nil && len(refused) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine does not apply the template's names: %v %v", refused, err)
		}
	}
	e := &acmeEnv{tc: tc, dns: testdns.Start(t), httpPort: freePort(t), tlsPort: freePort(t)}
	e.ts = startServerAt(t, tc, Config{ACME: &ACMEConfig{Validation: acmeserver.ValidationOptions{
		Resolver: e.dns.Addr, HTTPPort: e.httpPort, TLSPort: e.tlsPort, Attempts: 1, Timeout: 5 * time.Second,
	}}}, now)
	e.dir = e.ts.url + "/acme/" + tmplAuto + "/directory"
	return e
}

// eab creates an External Account Binding key for user.
func (e *acmeEnv) eab(t testing.TB, user string) *ca.EABKey {
	t.Helper()
	k, err := e.tc.eng.(*ca.Engine).NewEABKey(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// client is a lego client with a fresh P-256 account key (or key).
func (e *acmeEnv) client(t *testing.T, u *legoUser) *lego.Client {
	t.Helper()
	if u.key == nil {
		u.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	cfg := lego.NewConfig(u)
	cfg.CADirURL = e.dir
	cfg.HTTPClient = e.tc.client(t)
	cfg.HTTPClient.CheckRedirect = nil
	cfg.HTTPClient.Timeout = 30 * time.Second
	c, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// register creates the account of u with an External Account Binding of user.
func (e *acmeEnv) register(t *testing.T, c *lego.Client, u *legoUser, user string) {
	t.Helper()
	k := e.eab(t, user)
	reg, err := c.Registration.RegisterWithExternalAccountBinding(context.Background(), registration.RegisterEABOptions{TermsOfServiceAgreed: true, Kid: k.KID, HmacEncoded: k.HMACKey})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	u.reg = reg
}

func (e *acmeEnv) certCount(t testing.TB) int {
	t.Helper()
	cs, err := e.tc.eng.(*ca.Engine).Certificates(context.Background(), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

func leaf(t testing.TB, pemChain []byte) *x509.Certificate {
	t.Helper()
	certs, err := certcrypto.ParsePEMBundle(pemChain)
	if err != nil || len(certs) < 2 {
		t.Fatalf("chain: %d certificates, %v", len(certs), err)
	}
	return certs[0]
}

// dnsProvider answers dns-01 through the test DNS server, optionally
// through a CNAME to another name.
type dnsProvider struct {
	d     *testdns.Server
	cname bool
}

func (p dnsProvider) Present(_ context.Context, domain, _, keyAuth string) error {
	sum := sha256.Sum256([]byte(keyAuth))
	name := "_acme-challenge." + domain
	if p.cname {
		p.d.SetCNAME(name, "delegated.validation.contoso.test")
		name = "delegated.validation.contoso.test"
	}
	p.d.SetTXT(name, "something else", base64.RawURLEncoding.EncodeToString(sum[:]))
	return nil
}

func (p dnsProvider) CleanUp(context.Context, string, string, string) error { return nil }

// TestACMELego: lego's client library against ca serve's ACME server:
// an EAB-bound account, http-01, tls-alpn-01 and dns-01 (through a CNAME)
// validated by the CA itself, certificates that the CA lists, an ARI
// renewal whose replaces is recorded (and refused a second time), a key
// rollover after which the old key is refused, and a revocation that the
// next CRL carries.
func TestACMELego(t *testing.T) {
	e := newACMEEnv(t)
	ctx := context.Background()
	u := &legoUser{}
	c := e.client(t, u)
	e.register(t, c, u, "alice")

	// http-01
	if err := c.Challenge.SetHTTP01Provider(http01.NewProviderServer("127.0.0.1", strconv.Itoa(e.httpPort))); err != nil {
		t.Fatal(err)
	}
	res, err := c.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: []string{"web1.contoso.test", "web2.contoso.test"}, Bundle: true, KeyType: certcrypto.EC256})
	if err != nil {
		t.Fatalf("obtain (http-01): %v", err)
	}
	cert := leaf(t, res.Certificate)
	if len(cert.DNSNames) != 2 || cert.DNSNames[0] != "web1.contoso.test" {
		t.Fatalf("certificate names: %v %q", cert.DNSNames, cert.Subject.CommonName)
	}
	if err := cert.CheckSignatureFrom(e.tc.eng.Chain()[0]); err != nil {
		t.Fatal(err)
	}
	if n := e.certCount(t); n != 2 { // the server's own TLS certificate and this one
		t.Fatalf("%d certificates in the CA", n)
	}

	// tls-alpn-01, with a second client of the same account
	u2 := &legoUser{key: u.key, reg: u.reg}
	c2 := e.client(t, u2)
	if err := c2.Challenge.SetTLSALPN01Provider(tlsalpn01.NewProviderServer("127.0.0.1", strconv.Itoa(e.tlsPort))); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: []string{"web3.contoso.test"}, Bundle: true, KeyType: certcrypto.EC256}); err != nil {
		t.Fatalf("obtain (tls-alpn-01): %v", err)
	}

	// dns-01 through a CNAME
	u3 := &legoUser{key: u.key, reg: u.reg}
	c3 := e.client(t, u3)
	if err := c3.Challenge.SetDNS01Provider(dnsProvider{d: e.dns, cname: true}, dns01.PropagationWait(0, true)); err != nil {
		t.Fatal(err)
	}
	if _, err := c3.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: []string{"*.wild.contoso.test"}, Bundle: true, KeyType: certcrypto.EC256}); err != nil {
		t.Fatalf("obtain (dns-01): %v", err)
	}

	// ARI: the window, then a renewal that replaces the first certificate.
	ri, err := c.Certificate.GetRenewalInfo(ctx, cert)
	if err != nil {
		t.Fatalf("renewal info: %v", err)
	}
	if !ri.SuggestedWindow.Start.After(cert.NotBefore) || !ri.SuggestedWindow.End.Before(cert.NotAfter) {
		t.Fatalf("window %v-%v for %v-%v", ri.SuggestedWindow.Start, ri.SuggestedWindow.End, cert.NotBefore, cert.NotAfter)
	}
	renewed, err := c.Certificate.Renew(ctx, *res, &certificate.RenewOptions{Bundle: true, UseARICertID: true})
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if leaf(t, renewed.Certificate).SerialNumber.Cmp(cert.SerialNumber) == 0 {
		t.Fatal("renewal gave the same certificate")
	}
	certID, err := api.MakeARICertID(cert)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := e.tc.eng.(*ca.Engine).ACMEDB().ACMEReplaced(ctx, certID); err != nil || id == "" {
		t.Fatalf("the renewal's order does not record what it replaces: %q %v", id, err)
	}
	// A second replacement is refused with alreadyReplaced, on which lego
	// orders again without replaces (RFC 9773 §5).
	if _, err := c.Certificate.Renew(ctx, *res, &certificate.RenewOptions{Bundle: true, UseARICertID: true}); err != nil {
		t.Fatalf("a second renewal: %v", err)
	}
	if got := e.tc.acmeErrors(t, e.ts, "alreadyReplaced"); got != 1 {
		t.Fatalf("%d alreadyReplaced problems", got)
	}

	// Key rollover: the new key works, the old one no longer.
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := c.Registration.KeyRollover(ctx, newKey); err != nil {
		t.Fatalf("key rollover: %v", err)
	}
	old := e.client(t, &legoUser{key: u.key, reg: u.reg})
	var perr *acme.ProblemDetails
	if _, err := old.Registration.QueryRegistration(ctx); !errors.As(err, &perr) {
		t.Fatalf("the old key still reads the account: %v", err)
	}
	rolled := e.client(t, &legoUser{key: newKey, reg: u.reg})
	if _, err := rolled.Registration.QueryRegistration(ctx); err != nil {
		t.Fatalf("the new key: %v", err)
	}

	// Revocation by the account; the CA's listing shows it.
	if err := rolled.Certificate.Revoke(ctx, renewed.Certificate); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	serial := strings.ToUpper(leaf(t, renewed.Certificate).SerialNumber.Text(16))
	revoked, err := e.tc.eng.(*ca.Engine).Certificates(ctx, true, 0)
	if err != nil || len(revoked) != 1 || revoked[0].Serial != serial {
		t.Fatalf("revoked: %+v %v", revoked, err)
	}
	crlDER, err := e.tc.eng.CRL(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(crlDER)
	if err != nil || len(crl.RevokedCertificateEntries) != 1 || strings.ToUpper(crl.RevokedCertificateEntries[0].SerialNumber.Text(16)) != serial {
		t.Fatalf("the CRL after the ACME revocation: %v", err)
	}
	if err := rolled.Certificate.Revoke(ctx, renewed.Certificate); err == nil || !strings.Contains(err.Error(), "alreadyRevoked") {
		t.Fatalf("revoked twice: %v", err)
	}
}

// acmeErrors reads the count of ACME problems of a type from /metrics.
func (tc *testCA) acmeErrors(t *testing.T, ts *testServer, typ string) int {
	t.Helper()
	resp, err := ts.client.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, `edgecert_acme_errors_total{type="`+typ+`"} `); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// bindProvider answers dns-01 with RFC 2136 updates to BIND, through a
// CNAME to a delegated name when cname is set.
type bindProvider struct {
	b     *testdns.BIND
	cname bool
}

func (p bindProvider) Present(_ context.Context, domain, _, keyAuth string) error {
	sum := sha256.Sum256([]byte(keyAuth))
	name := "_acme-challenge." + domain + "."
	if p.cname {
		target := "acme-delegated." + p.b.Zone
		if err := p.b.Update(name + " 0 IN CNAME " + target); err != nil {
			return err
		}
		name = target
	}
	return p.b.Update(name+` 0 IN TXT "unrelated"`, name+` 0 IN TXT "`+base64.RawURLEncoding.EncodeToString(sum[:])+`"`)
}

func (p bindProvider) CleanUp(context.Context, string, string, string) error { return nil }

// TestACMELegoDNS01BIND: lego's dns-01 with its records put in BIND 9 by
// RFC 2136 updates, the CA asking BIND (--acme-resolver) and following a
// CNAME to the delegated name; a wildcard name and a plain one.
func TestACMELegoDNS01BIND(t *testing.T) {
	bind := testdns.StartBIND(t, "contoso.test")
	tc := newRealCAKey(t, "p256", "")
	e := &acmeEnv{tc: tc, httpPort: freePort(t), tlsPort: freePort(t)}
	e.ts = startServer(t, tc, Config{ACME: &ACMEConfig{Validation: acmeserver.ValidationOptions{Resolver: bind.Addr, Attempts: 1, Timeout: 5 * time.Second}}})
	e.dir = e.ts.url + "/acme/" + tmplAuto + "/directory"
	u := &legoUser{}
	c := e.client(t, u)
	e.register(t, c, u, "alice")
	for _, tcase := range []struct {
		name  string
		cname bool
	}{{"*.bind.contoso.test", true}, {"plain.contoso.test", false}} {
		c := e.client(t, &legoUser{key: u.key, reg: u.reg})
		if err := c.Challenge.SetDNS01Provider(bindProvider{b: bind, cname: tcase.cname}, dns01.PropagationWait(0, true)); err != nil {
			t.Fatal(err)
		}
		res, err := c.Certificate.Obtain(context.Background(), certificate.ObtainRequest{Domains: []string{tcase.name}, Bundle: true, KeyType: certcrypto.EC256})
		if err != nil {
			t.Fatalf("obtain %s (dns-01, BIND): %v", tcase.name, err)
		}
		if got := leaf(t, res.Certificate).DNSNames; len(got) != 1 || got[0] != tcase.name {
			t.Fatalf("names %v", got)
		}
	}
}
