package proxy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/apply/standinca"
	"edgecert/internal/proxy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestNginxConfigGolden compares the written nginx.conf (with the output
// directory replaced by $DIR) to testdata/nginx.conf.golden.
func TestNginxConfigGolden(t *testing.T) {
	ca, err := standinca.Open(filepath.Join(t.TempDir(), "ca"), standinca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "webext.contoso.com"}, DNSNames: []string{"webext.contoso.com"}}, key)
	leaf, err := ca.Sign(csrDER, standinca.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := proxy.WriteNginx(proxy.Config{
		Dir: dir, Listen: "0.0.0.0:443", HTTPListen: "0.0.0.0:80",
		UpstreamTrust: []*x509.Certificate{ca.Cert},
		Listeners: []proxy.Listener{{Name: "reverse-proxy_rp", Cert: leaf, Chain: []*x509.Certificate{ca.Cert}, Key: key, Rules: []proxy.Rule{
			{Name: "external web services of pool01.contoso.net", Hosts: []string{"webext.contoso.com"}, HTTPSUpstream: "pool01.contoso.net:4443", HTTPUpstream: "pool01.contoso.net:8080", UpstreamName: "pool01.contoso.net"},
			{Name: "simple URLs and lyncdiscover (to pool01.contoso.net)", Hosts: []string{"dialin.contoso.com", "meet.contoso.com"}, HTTPSUpstream: "pool01.contoso.net:4443", HTTPUpstream: "pool01.contoso.net:8080", UpstreamName: "pool01.contoso.net"},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(files.Config)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(string(b), dir, "$DIR")
	golden := filepath.Join("testdata", "nginx.conf.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Fatalf("nginx.conf differs from %s (run go test -update after checking):\n%s", golden, got)
	}
	served, err := os.ReadFile(files.Certs[0])
	if err != nil || strings.Count(string(served), "BEGIN CERTIFICATE") != 1 {
		t.Fatalf("the served file must hold the leaf without the root: %v", err)
	}
}

// TestNginxConfigGoldenACME: with an ACME http-01 webroot, each port 80
// server answers /.well-known/acme-challenge/ from it and nothing else on
// port 80 changes; a listener whose certificate is not issued yet gets its
// port 80 servers only (so that the CA can validate), no TLS server.
func TestNginxConfigGoldenACME(t *testing.T) {
	ca, err := standinca.Open(filepath.Join(t.TempDir(), "ca"), standinca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rules := []proxy.Rule{
		{Name: "external web services of pool01.contoso.net", Hosts: []string{"webext.contoso.com"}, HTTPSUpstream: "pool01.contoso.net:4443", HTTPUpstream: "pool01.contoso.net:8080", UpstreamName: "pool01.contoso.net", ACMEWebroot: "/var/lib/edgecert/acme"},
		{Name: "simple URLs and lyncdiscover (to pool01.contoso.net)", Hosts: []string{"dialin.contoso.com", "meet.contoso.com"}, HTTPSUpstream: "pool01.contoso.net:4443", HTTPUpstream: "pool01.contoso.net:8080", UpstreamName: "pool01.contoso.net"},
	}
	for _, tc := range []struct {
		name, golden string
		issued       bool
	}{
		{"issued", "nginx-acme.conf.golden", true},
		{"waiting for its certificate", "nginx-acme-bootstrap.conf.golden", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := proxy.Listener{Name: "reverse-proxy_rp", Rules: rules}
			if tc.issued {
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "webext.contoso.com"}, DNSNames: []string{"webext.contoso.com"}}, key)
				if l.Cert, err = ca.Sign(csrDER, standinca.SignOptions{}); err != nil {
					t.Fatal(err)
				}
				l.Key, l.Chain = key, []*x509.Certificate{ca.Cert}
			}
			dir := t.TempDir()
			files, err := proxy.WriteNginx(proxy.Config{Dir: dir, Listen: "0.0.0.0:443", HTTPListen: "0.0.0.0:80",
				UpstreamTrust: trust(tc.issued, ca.Cert), Listeners: []proxy.Listener{l}})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(files.Config)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(string(b), dir, "$DIR")
			golden := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Fatalf("nginx.conf differs from %s (run go test -update after checking):\n%s", golden, got)
			}
			if !tc.issued && (len(files.Certs) != 0 || strings.Contains(got, "ssl_certificate")) {
				t.Error("a TLS listener was written without its certificate")
			}
		})
	}
}

// trust is the upstream trust of a configuration: none before any
// certificate is installed on the reverse proxy.
func trust(issued bool, root *x509.Certificate) []*x509.Certificate {
	if !issued {
		return nil
	}
	return []*x509.Certificate{root}
}
