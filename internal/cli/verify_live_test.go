package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgecert/internal/store"
	"edgecert/internal/verify"
)

// serveTLS serves chain with key on a loopback port until the test ends.
func serveTLS(t *testing.T, chain []*x509.Certificate, key crypto.Signer) string {
	t.Helper()
	cert := tls.Certificate{PrivateKey: key}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}(c)
		}
	}()
	return l.Addr().String()
}

// TestVerifyLiveSaysWhereAndWhatIsWrong: verify --live shows the probed
// address in SERVER; a listener that serves another certificate than the
// stored one is told to bind the stored one, not to renew; fix lines name
// the real topology, workspace and store paths.
func TestVerifyLiveSaysWhereAndWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	if out, errOut, code := runApplyCLI(t, "demo", "--dir", dir); code != ExitOK {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errOut)
	}
	topo, ws := filepath.Join(dir, "demo.yaml"), filepath.Join(dir, "workspace")
	const rp = "reverse-proxy/rp-redmond"
	st, err := store.Open(filepath.Join(ws, "servers", "rp01.contoso.com"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	as, err := st.Assignments()
	if err != nil || len(as) == 0 {
		t.Fatalf("assignments of rp01: %v %v", as, err)
	}
	_, stored, err := st.Certificate(as[0].Thumbprint)
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.PrivateKey(as[0].Thumbprint)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := st.Chain(stored)
	if err != nil {
		t.Fatal(err)
	}
	live := func(addr string) (verify.Report, string, int) {
		t.Helper()
		out, errOut, code := runApplyCLI(t, "verify", "-t", topo, "--workspace", ws, "--skip-revocation", "--live",
			"--certificate", rp, "--endpoint", rp+"="+addr, "-o", "json")
		var rep verify.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("verify -o json: %v\n%s%s", err, out, errOut)
		}
		table, _, _ := runApplyCLI(t, "verify", "-t", topo, "--workspace", ws, "--skip-revocation", "--live",
			"--certificate", rp, "--endpoint", rp+"="+addr)
		return rep, table, code
	}

	good := serveTLS(t, chain, key)
	rep, table, code := live(good)
	if code != ExitOK {
		t.Fatalf("the stored certificate served: exit %d\n%s", code, table)
	}
	for _, f := range rep.Findings {
		if f.Endpoint != "" && f.Server != good {
			t.Errorf("a live finding's SERVER is %q, not the probed %s", f.Server, good)
		}
	}

	// Another certificate with the same names, from no planned CA.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: stored.Subject.CommonName}, DNSNames: stored.DNSNames,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, otherKey.Public(), otherKey)
	other, _ := x509.ParseCertificate(der)
	bad := serveTLS(t, []*x509.Certificate{other}, otherKey)
	rep, table, code = live(bad)
	if code != ExitVerify {
		t.Fatalf("another certificate served: exit %d\n%s", code, table)
	}
	for _, f := range rep.Findings {
		if f.Severity != verify.SeverityError {
			continue
		}
		if !strings.Contains(f.Fix, "serves another certificate than the stored and assigned one") || strings.Contains(f.Fix, "renew") {
			t.Errorf("the fix for a listener serving another certificate: %q", f.Fix)
		}
	}
	if !strings.Contains(table, bad) {
		t.Errorf("the table does not show the probed address %s:\n%s", bad, table)
	}

	// Offline: take the CA root away from a pool member; the fix names
	// its store.
	edge02, err := store.Open(filepath.Join(ws, "servers", "edge02.contoso.net"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := edge02.List(store.Root)
	for _, r := range roots {
		if err := edge02.Delete(r.Thumbprint); err != nil {
			t.Fatal(err)
		}
	}
	out, _, code := runApplyCLI(t, "verify", "-t", topo, "--workspace", ws, "--skip-revocation")
	_, fixes, _ := strings.Cut(out, "How to fix:")
	if code != ExitVerify || !strings.Contains(fixes, "--store "+filepath.Join(ws, "servers", "edge02.contoso.net")) ||
		strings.Contains(fixes, "TOPOLOGY") || strings.Contains(fixes, " DIR") {
		t.Fatalf("fix lines with placeholders or without the store: exit %d\n%s", code, fixes)
	}
}
