package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/apply/standinca"
	"edgecert/internal/plan"
	"edgecert/internal/verify"
)

// BenchmarkVerifyOffline400Stores verifies a deployment of 100 edge pools
// of 4 servers (400 stores, 200 certificates, 800 server/certificate pairs)
// with the CRL check on (one fetch per CRL).
func BenchmarkVerifyOffline400Stores(b *testing.B) {
	e := applytest.New(b, applytest.EdgePoolsYAML(100, 4), applytest.Options{})
	opts := e.Options()
	opts.SkipVerify = true
	if res, err := apply.Run(context.Background(), e.Plan, e.Workspace, opts); err != nil || !res.Complete() {
		b.Fatalf("apply: %v %+v", err, res)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := verify.Offline(context.Background(), e.Plan, e.Workspace.Store, verify.Options{})
		if err != nil || rep.Failed() || rep.Warnings() != 0 {
			b.Fatalf("verify: %v %+v", err, rep)
		}
	}
}

// BenchmarkVerifyLive500 probes 500 loopback TLS endpoints (one name each).
func BenchmarkVerifyLive500(b *testing.B) {
	p, targets := liveFleet(b, 500)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep := verify.Live(context.Background(), p, targets, verify.Options{})
		if rep.Failed() || rep.Checked != 500 {
			b.Fatalf("live: checked %d: %+v", rep.Checked, rep.Findings[:min(3, len(rep.Findings))])
		}
	}
}

// liveFleet starts n TLS servers on loopback, each with a certificate of a
// stand-in CA for its own name, and returns a matching plan and targets.
func liveFleet(tb testing.TB, n int) (*plan.Plan, []verify.Target) {
	tb.Helper()
	ca, err := standinca.Open(filepath.Join(tb.TempDir(), "ca"), standinca.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	p := &plan.Plan{Version: 1}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("host%03d.contoso.com", i)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
		if err != nil {
			tb.Fatal(err)
		}
		leaf, err := ca.Sign(csrDER, standinca.SignOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}}})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { ln.Close() })
		go serveTLS(ln)
		p.Certificates = append(p.Certificates, plan.Certificate{ID: "web/" + name, Kind: plan.KindReverseProxy, Usages: []string{plan.UsageWebServicesExternal},
			Subject: plan.Subject{CommonName: name}, SANs: []string{name}, Servers: []string{name}, Endpoints: []string{ln.Addr().String()}})
	}
	targets, err := verify.Targets(p, nil, func(string) (*x509.CertPool, error) { return roots, nil })
	if err != nil {
		tb.Fatal(err)
	}
	return p, targets
}

func serveTLS(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.(*tls.Conn).Handshake()
		}()
	}
}

// TestLiveFleet checks live verification on a small fleet, and that a
// server answering with another name's certificate fails.
func TestLiveFleet(t *testing.T) {
	p, targets := liveFleet(t, 20)
	rep := verify.Live(context.Background(), p, targets, verify.Options{})
	if rep.Failed() || rep.Checked != 20 {
		t.Fatalf("live fleet: %d checked, %+v", rep.Checked, rep.Findings)
	}
	targets[3].Addr = targets[4].Addr // endpoint 3 now serves host004's certificate
	rep = verify.Live(context.Background(), p, targets, verify.Options{})
	if !rep.Has(verify.SeverityError, verify.CheckLiveNames, targets[3].Endpoint) {
		t.Fatalf("a wrong certificate passed: %+v", rep.Findings)
	}
	targets[3].Addr = "127.0.0.1:1" // nothing listens
	rep = verify.Live(context.Background(), p, targets, verify.Options{})
	if !rep.Has(verify.SeverityError, verify.CheckLiveConnect, targets[3].Endpoint) {
		t.Fatalf("an unreachable endpoint passed: %+v", rep.Findings)
	}
}

func TestTargetsOverrides(t *testing.T) {
	p := &plan.Plan{Certificates: []plan.Certificate{
		{ID: "a/x", SANs: []string{"x.contoso.com", "*.contoso.com"}, Endpoints: []string{"x.contoso.com:443"}},
		{ID: "b/y", SANs: []string{"y.contoso.com"}},
	}}
	roots := func(string) (*x509.CertPool, error) { return x509.NewCertPool(), nil }
	cases := []struct {
		name      string
		overrides map[string]string
		want      map[string]string // endpoint -> addr
		wantErr   bool
	}{
		{"plan endpoints", nil, map[string]string{"x.contoso.com:443": "x.contoso.com:443"}, false},
		{"by host", map[string]string{"x.contoso.com": "127.0.0.1:1"}, map[string]string{"x.contoso.com:443": "127.0.0.1:1"}, false},
		{"by certificate id", map[string]string{"b/y": "127.0.0.1:2"}, map[string]string{"x.contoso.com:443": "x.contoso.com:443", "b/y": "127.0.0.1:2"}, false},
		{"by planned name", map[string]string{"y.contoso.com": "127.0.0.1:3"}, map[string]string{"x.contoso.com:443": "x.contoso.com:443", "y.contoso.com": "127.0.0.1:3"}, false},
		{"unknown name", map[string]string{"z.contoso.com": "127.0.0.1:4"}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := verify.Targets(p, tc.overrides, roots)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, tg := range ts {
				got[tg.Endpoint] = tg.Addr
				for _, n := range tg.Names {
					if n[0] == '*' {
						t.Errorf("wildcard %s used as SNI", n)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("targets %v, want %v", got, tc.want)
			}
		})
	}
}
