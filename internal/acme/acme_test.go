package acme_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"edgecert/internal/acme"
	"edgecert/internal/testtool"
	"edgecert/internal/topology"
)

// env is a BIND zone contoso.test and a pebble that validates against it,
// with a Go file server on pebble's http-01 port serving the webroot.
type env struct {
	dns      *testtool.DNS
	pebble   *testtool.Pebble
	webroot  string
	unserved string
	hook     string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := testtool.Named(t, "contoso.test")
	p := testtool.StartPebble(t, testtool.PebbleOptions{DNSServer: d.Addr, Blocklist: []string{"refused.contoso.test"}})
	e := &env{dns: d, pebble: p, webroot: t.TempDir(), unserved: t.TempDir()}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.HTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(e.webroot)), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	// The hook drives the same BIND with nsupdate, as an operator's would.
	nsupdate := testtool.Path(t, "nsupdate")
	host, port, _ := net.SplitHostPort(d.Addr)
	e.hook = filepath.Join(t.TempDir(), "dns-hook")
	script := fmt.Sprintf(`#!/bin/sh
set -e
case "$1" in
present) op="update add $2 60 TXT \"$3\"";;
cleanup) op="update delete $2 TXT \"$3\"";;
*) echo "unknown action $1" >&2; exit 2;;
esac
case "$2" in *fail*) echo "the DNS host refused $2" >&2; exit 3;; esac
printf 'server %s %s\nzone %s\n%%s\nsend\n' "$op" | %s -y hmac-sha256:%s:%s
`, host, port, d.Zone, nsupdate, d.KeyName, d.Secret)
	if err := os.WriteFile(e.hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) config(secretFile string) *topology.ACME {
	return &topology.ACME{
		Directory: e.pebble.Directory, AcceptTOS: true, Contact: []string{"mailto:pki@contoso.test"},
		DirectoryCA: e.pebble.DirectoryCA, TrustedRoots: e.pebble.RootsFile, Resolvers: []string{e.dns.Addr},
		Challenges: []topology.ChallengeRule{
			{Names: []string{"webext.contoso.test", "meet.contoso.test"}, HTTP01: &topology.HTTP01{Webroot: e.webroot}},
			// A webroot no web server serves: the CA finds no token.
			{Names: []string{"unserved.contoso.test"}, HTTP01: &topology.HTTP01{Webroot: e.unserved}},
			{Domains: []string{"hook.contoso.test"}, DNS01: &topology.DNS01{Hook: e.hook}},
			{Domains: []string{"contoso.test"}, DNS01: &topology.DNS01{RFC2136: &topology.RFC2136{
				Server: e.dns.Addr, Zone: e.dns.Zone, TSIGKey: e.dns.KeyName, TSIGAlgorithm: "hmac-sha256", TSIGSecretFile: secretFile}}},
		},
	}
}

func open(t *testing.T, cfg *topology.ACME, dir string) *acme.Client {
	t.Helper()
	c, err := acme.Open(context.Background(), acme.Options{Config: cfg, Dir: dir, Passphrase: []byte("test passphrase"),
		Rand: rand.Reader, PropagationTimeout: 20 * time.Second, ValidationTimeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request(t *testing.T, names ...string) []byte {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: names[0], Organization: []string{"Contoso Ltd"}}, DNSNames: names}, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// noRecords fails when BIND still serves a challenge record for a name.
func (e *env) noRecords(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn("_acme-challenge."+n), dns.TypeTXT)
		in, err := dns.Exchange(m, e.dns.Addr)
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range in.Answer {
			if _, ok := rr.(*dns.TXT); ok {
				t.Errorf("a challenge record was left in DNS: %s", rr)
			}
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.webroot, ".well-known", "acme-challenge")); len(ents) > 0 {
		t.Errorf("%d http-01 files were left in the webroot", len(ents))
	}
}

func TestObtainAgainstPebbleAndBIND(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	c := open(t, e.config(e.dns.SecretFile), dir)
	key1, _ := os.ReadFile(filepath.Join(dir, "account.key"))
	acct1, _ := os.ReadFile(filepath.Join(dir, "account.json"))
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		names []string
	}{
		{"rfc2136", []string{"sip.contoso.test", "webcon.contoso.test"}},
		{"http-01", []string{"webext.contoso.test", "meet.contoso.test"}},
		{"hook", []string{"a.hook.contoso.test"}},
		{"mixed", []string{"sip2.contoso.test", "webext.contoso.test", "b.hook.contoso.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr := request(t, tc.names...)
			iss, err := c.Obtain(ctx, "cert/"+tc.name, csr, nil)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := x509.ParseCertificateRequest(csr)
			if !iss.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(req.PublicKey) || len(iss.Chain) == 0 {
				t.Errorf("issued for another key or without a chain")
			}
			for _, n := range tc.names {
				if iss.Leaf.VerifyHostname(n) != nil {
					t.Errorf("certificate lacks %s: %v", n, iss.Leaf.DNSNames)
				}
			}
			if st := c.ReadState("cert/" + tc.name); st == nil || st.Step != acme.StepValid {
				t.Errorf("state = %+v, want valid", st)
			}
			e.noRecords(t, tc.names...)
		})
	}
	// The account key is made once and reused: a second Open neither makes
	// a key nor registers again.
	open(t, e.config(e.dns.SecretFile), dir)
	key2, _ := os.ReadFile(filepath.Join(dir, "account.key"))
	acct2, _ := os.ReadFile(filepath.Join(dir, "account.json"))
	if !bytes.Equal(key1, key2) || !bytes.Equal(acct1, acct2) || !bytes.Contains(key1, []byte("EDGECERT SEALED PRIVATE KEY")) {
		t.Error("the account key or account changed on a second open, or the key is not sealed")
	}
	if fi, err := os.Stat(filepath.Join(dir, "account.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("account.key mode %v (%v), want 0600", fi.Mode(), err)
	}
}

func TestObtainFailures(t *testing.T) {
	e := newEnv(t)
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	if err := os.WriteFile(wrong, []byte("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, secret string
		names        []string
		want         []string
	}{
		{"wrong TSIG secret", wrong, []string{"sip.contoso.test"}, []string{"sip.contoso.test: publish the rfc2136 challenge", "bad authentication"}},
		{"refused name", "", []string{"refused.contoso.test"}, []string{"urn:ietf:params:acme:error:rejectedIdentifier"}},
		{"hook fails", "", []string{"fail.hook.contoso.test"}, []string{"exit status 3", "the DNS host refused _acme-challenge.fail.hook.contoso.test"}},
		{"validation fails", "", []string{"unserved.contoso.test"}, []string{"unserved.contoso.test: urn:ietf:params:acme:error:unauthorized", "checked http://unserved.contoso.test/.well-known/acme-challenge/"}},
		{"one bad name fails the order, the good one is cleaned up", wrong, []string{"webext.contoso.test", "sip.contoso.test"}, []string{"bad authentication"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := e.dns.SecretFile
			if tc.secret != "" {
				secret = tc.secret
			}
			dir := t.TempDir()
			c := open(t, e.config(secret), dir)
			before := dirState(t, dir)
			_, err := c.Obtain(ctx, "cert/x", request(t, tc.names...), nil)
			if err == nil {
				t.Fatal("Obtain succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// Final: the key may go, and nothing of the order is left.
			if !errors.Is(err, acme.ErrOrderFailed) {
				t.Errorf("error %q does not match ErrOrderFailed", err)
			}
			if after := dirState(t, dir); after != before {
				t.Errorf("the state directory changed:\n%s\n---\n%s", before, after)
			}
			e.noRecords(t, tc.names...)
		})
	}
	t.Run("a cancelled run is not final", func(t *testing.T) {
		c := open(t, e.config(e.dns.SecretFile), t.TempDir())
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Obtain(cctx, "cert/x", request(t, "sip.contoso.test"), nil)
		if err == nil || errors.Is(err, acme.ErrOrderFailed) {
			t.Errorf("got %v, want an error that keeps the key", err)
		}
	})
	t.Run("unreachable directory", func(t *testing.T) {
		cfg := e.config(e.dns.SecretFile)
		cfg.Directory = fmt.Sprintf("https://127.0.0.1:%d/dir", testtool.FreePort(t))
		_, err := acme.Open(ctx, acme.Options{Config: cfg, Dir: t.TempDir(), Passphrase: []byte("p"), Rand: rand.Reader})
		if !errors.Is(err, acme.ErrUnreachable) || !strings.Contains(err.Error(), cfg.Directory) {
			t.Errorf("got %v, want an unreachable error naming the directory", err)
		}
	})
}

// dirState lists every file under dir with its mode and content.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := strings.TrimPrefix(p, dir) + " " + info.Mode().String()
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// A run killed with a record published leaves it in the journal; the next
// Open removes it from DNS.
func TestLeftoverRecordsRemovedOnOpen(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	cfg := e.config(e.dns.SecretFile)
	rec := fmt.Sprintf(`[{"kind":"rfc2136","name":"left.contoso.test","fqdn":"_acme-challenge.left.contoso.test.","value":"v","token":"t","key_auth":"t.k","rfc2136":{"server":%q,"zone":%q,"tsig_key":%q,"tsig_algorithm":"hmac-sha256","tsig_secret_file":%q}}]`,
		e.dns.Addr, e.dns.Zone, e.dns.KeyName, e.dns.SecretFile)
	// Publish it as the killed run did.
	c := open(t, cfg, dir)
	_ = c
	if err := os.WriteFile(filepath.Join(dir, "presented.json"), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetUpdate(e.dns.Zone)
	txt, _ := dns.NewRR(`_acme-challenge.left.contoso.test. 60 IN TXT "` + acmeValue("t.k") + `"`)
	m.Insert([]dns.RR{txt})
	m.SetTsig(dns.Fqdn(e.dns.KeyName), dns.HmacSHA256, 300, time.Now().Unix())
	cl := &dns.Client{TsigSecret: map[string]string{dns.Fqdn(e.dns.KeyName): e.dns.Secret}}
	if in, _, err := cl.Exchange(m, e.dns.Addr); err != nil || in.Rcode != dns.RcodeSuccess {
		t.Fatalf("publish the leftover: %v %v", err, in)
	}
	open(t, cfg, dir)
	e.noRecords(t, "left.contoso.test")
}

func acmeValue(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
