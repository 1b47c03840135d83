package acmeserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgecert/internal/testtool/testdns"
)

// listenPort serves h on a loopback port (TLS when cfg is not nil) and
// returns the port.
func listenPort(t *testing.T, h http.Handler, cfg *tls.Config) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	if cfg != nil {
		l = tls.NewListener(l, cfg)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// alpnCert is a tls-alpn-01 certificate for name with digest as its
// acmeIdentifier (critical when critical).
func alpnCert(t *testing.T, names []string, digest []byte, critical bool) tls.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acme"}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	if digest != nil {
		v, _ := asn1.Marshal(digest)
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidACMEIdentifier, Critical: critical, Value: v}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// TestValidate: the CA's own challenge validations, each way to pass and
// each way to fail, against real listeners and a real DNS server.
func TestValidate(t *testing.T) {
	const token, keyAuth = "tok", "tok.thumb"
	dns := testdns.Start(t)
	sum := sha256.Sum256([]byte(keyAuth))
	tlsPort := func(cert tls.Certificate, protos ...string) int {
		return listenPort(t, http.NotFoundHandler(), &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos})
	}
	// https on the "443" port (TLSPort) answering the key authorization,
	// for redirects from http.
	body := func(s string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(s)) }
	}
	httpsOK := listenPort(t, body(keyAuth), &tls.Config{Certificates: []tls.Certificate{alpnCert(t, []string{"a.contoso.test"}, nil, false)}})
	redirect := func(to string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) }
	}
	var loop http.HandlerFunc = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/.well-known/acme-challenge/again", http.StatusFound)
	}
	dns.SetTXT("_acme-challenge.d.contoso.test", "other", enc(sum[:]))
	dns.SetTXT("_acme-challenge.wrong.contoso.test", "other")
	dns.SetCNAME("_acme-challenge.c.contoso.test", "elsewhere.contoso.test")
	dns.SetTXT("elsewhere.contoso.test", enc(sum[:]))
	for _, tc := range []struct {
		name     string
		typ      string
		httpPort int
		tlsPort  int
		id       string
		want     ErrorType // "" valid
	}{
		{"http-01 answer", HTTP01, listenPort(t, body(keyAuth+"\n"), nil), 0, "a.contoso.test", ""},
		{"http-01 wrong answer", HTTP01, listenPort(t, body("tok.other"), nil), 0, "a.contoso.test", IncorrectResponse},
		{"http-01 oversized answer", HTTP01, listenPort(t, body(strings.Repeat("x", 4096)), nil), 0, "a.contoso.test", Unauthorized},
		{"http-01 404", HTTP01, listenPort(t, http.NotFoundHandler(), nil), 0, "a.contoso.test", Unauthorized},
		{"http-01 nothing listens", HTTP01, 1, 0, "a.contoso.test", Connection},
		{"http-01 redirect to https (443)", HTTP01, listenPort(t, redirect("https://a.contoso.test/.well-known/acme-challenge/tok"), nil), httpsOK, "a.contoso.test", ""},
		{"http-01 redirect to another port", HTTP01, listenPort(t, redirect("http://a.contoso.test:8080/x"), nil), 0, "a.contoso.test", Connection},
		{"http-01 redirect to ftp", HTTP01, listenPort(t, redirect("ftp://a.contoso.test/x"), nil), 0, "a.contoso.test", Connection},
		{"http-01 redirect loop", HTTP01, listenPort(t, loop, nil), 0, "a.contoso.test", Connection},
		{"tls-alpn-01 good", TLSALPN01, 0, tlsPort(alpnCert(t, []string{"a.contoso.test"}, sum[:], true), "acme-tls/1"), "a.contoso.test", ""},
		{"tls-alpn-01 wrong digest", TLSALPN01, 0, tlsPort(alpnCert(t, []string{"a.contoso.test"}, make([]byte, 32), true), "acme-tls/1"), "a.contoso.test", IncorrectResponse},
		{"tls-alpn-01 not critical", TLSALPN01, 0, tlsPort(alpnCert(t, []string{"a.contoso.test"}, sum[:], false), "acme-tls/1"), "a.contoso.test", Unauthorized},
		{"tls-alpn-01 two names", TLSALPN01, 0, tlsPort(alpnCert(t, []string{"a.contoso.test", "b.contoso.test"}, sum[:], true), "acme-tls/1"), "a.contoso.test", Unauthorized},
		{"tls-alpn-01 no extension", TLSALPN01, 0, tlsPort(alpnCert(t, []string{"a.contoso.test"}, nil, true), "acme-tls/1"), "a.contoso.test", Unauthorized},
		{"tls-alpn-01 no acme-tls/1", TLSALPN01, 0, tlsPort(alpnCert(t, []string{"a.contoso.test"}, sum[:], true), "http/1.1"), "a.contoso.test", TLS},
		{"dns-01 good", DNS01, 0, 0, "d.contoso.test", ""},
		{"dns-01 through a CNAME", DNS01, 0, 0, "c.contoso.test", ""},
		{"dns-01 wrong record", DNS01, 0, 0, "wrong.contoso.test", IncorrectResponse},
		{"dns-01 no record", DNS01, 0, 0, "none.contoso.test", DNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ValidationOptions{Resolver: dns.Addr, HTTPPort: max(tc.httpPort, 1), TLSPort: max(tc.tlsPort, 1), Attempts: 1, Timeout: 3 * time.Second}
			v, err := newValidator(o)
			if err != nil {
				t.Fatal(err)
			}
			err = v.validate(context.Background(), tc.typ, Identifier{Type: "dns", Value: tc.id}, token, keyAuth)
			var p *Problem
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!errors.As(err, &p) || p.Type != tc.want):
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

// TestValidateAttempts: a failing validation is tried Attempts times,
// Pause apart, and no more.
func TestValidateAttempts(t *testing.T) {
	var hits atomic.Int32
	port := listenPort(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.WriteHeader(404) }), nil)
	v, _ := newValidator(ValidationOptions{Resolver: testdns.Start(t).Addr, HTTPPort: port, Attempts: 3, Pause: 10 * time.Millisecond, Timeout: time.Second})
	if err := v.validate(context.Background(), HTTP01, Identifier{Type: "dns", Value: "a.contoso.test"}, "t", "t.k"); err == nil || hits.Load() != 3 {
		t.Fatalf("%d attempts, %v", hits.Load(), err)
	}
	if _, err := newValidator(ValidationOptions{Resolver: "no-port"}); err == nil {
		t.Fatal("a resolver without a port")
	}
}
