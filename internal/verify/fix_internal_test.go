package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"
)

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestServedFix: a failed live probe's fix says to bind the stored
// certificate when the listener serves another one, and to renew when it
// serves the stored one and that lacks names.
func TestServedFix(t *testing.T) {
	stored, other := selfSigned(t, "webext.contoso.com"), selfSigned(t, "other.contoso.com")
	for _, tc := range []struct {
		name   string
		served *x509.Certificate
		want   string
	}{
		{"listener serves another certificate", other, "serves another certificate than the stored and assigned one"},
		{"listener serves the stored one", stored, "run edgecert renew " + fixTopologyArgs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := []Finding{{Severity: SeverityError, Check: CheckLiveNames, Fix: "bind the planned certificate"}}
			servedFix(out, tc.served, Target{Certificate: "reverse-proxy/rp", Addr: "127.0.0.1:8443", Stored: []*x509.Certificate{stored}})
			if !strings.Contains(out[0].Fix, tc.want) {
				t.Fatalf("fix %q, want %q", out[0].Fix, tc.want)
			}
		})
	}
}

// TestFillPaths: the topology, workspace and store placeholders of the
// fixes become the caller's paths.
func TestFillPaths(t *testing.T) {
	r := &Report{Findings: []Finding{
		{Server: "edge01.contoso.net", Fix: "renew it: edgecert renew " + fixTopologyArgs + " --within 30d"},
		{Server: "edge01.contoso.net", Fix: "edgecert store import " + fixStoreArg + " chain.p7b"},
	}}
	r.FillPaths("-t topo.yaml --workspace ws", func(server string) string { return "ws/servers/" + server })
	if got := r.Findings[0].Fix; got != "renew it: edgecert renew -t topo.yaml --workspace ws --within 30d" {
		t.Errorf("got %q", got)
	}
	if got := r.Findings[1].Fix; got != "edgecert store import --store ws/servers/edge01.contoso.net chain.p7b" {
		t.Errorf("got %q", got)
	}
}
