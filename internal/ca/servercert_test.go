package ca

import (
	"bytes"
	"context"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"edgecert/internal/certfmt"
)

// serverLeaf parses the leaf of a ServerCertificate answer.
func serverLeaf(t *testing.T, certPEM []byte) string {
	t.Helper()
	certs, err := certfmt.ParseCertificates(certPEM)
	if err != nil || len(certs) == 0 {
		t.Fatalf("server certificate: %v", err)
	}
	return serialHex(certs[0].SerialNumber)
}

// TestServerCertificateKeptAndReused: the web server's certificate is
// issued once, kept with its sealed key, reused while it fits (writing
// nothing), and replaced (the old one revoked as superseded) when a name
// is added, when it nears expiry and when it was revoked.
func TestServerCertificateKeptAndReused(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	e, dir := newCA(t, "", "p256")
	e.now = func() time.Time { return now }
	names, ips := []string{"ca.contoso.com", "localhost"}, []string{"127.0.0.1"}

	certPEM, keyPEM, issued, err := e.ServerCertificate(ctx, names, ips)
	if err != nil || !issued {
		t.Fatalf("first start: issued %v, %v", issued, err)
	}
	first := serverLeaf(t, certPEM)
	kb, err := os.ReadFile(filepath.Join(dir, serverKeyFile))
	if err != nil || !certfmt.IsSealed(kb) {
		t.Fatalf("kept key is not sealed: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, serverKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept key mode %v", fi.Mode().Perm())
	}
	stat := func() (time.Time, time.Time) {
		a, _ := os.Stat(filepath.Join(dir, serverKeyFile))
		b, _ := os.Stat(filepath.Join(dir, serverCertFile))
		return a.ModTime(), b.ModTime()
	}
	k1, c1 := stat()

	// Later starts (a subset of the names too) reuse it and write nothing.
	for _, n := range [][]string{names, names[:1]} {
		again, keyAgain, issued, err := e.ServerCertificate(ctx, n, ips)
		if err != nil || issued || !bytes.Equal(again, certPEM) || !bytes.Equal(keyAgain, keyPEM) {
			t.Fatalf("restart with %v: issued %v, %v; same certificate %v", n, issued, err, bytes.Equal(again, certPEM))
		}
	}
	if k2, c2 := stat(); !k2.Equal(k1) || !c2.Equal(c1) {
		t.Fatal("reusing the kept certificate rewrote its files")
	}
	if n := len(mustCerts(t, e)); n != 1 {
		t.Fatalf("%d certificates issued for the server, want 1", n)
	}

	revokedAs := func(serial string) string {
		t.Helper()
		c, err := e.db.Certificate(ctx, serial)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Revoked {
			return ""
		}
		return ReasonName(c.Reason)
	}
	replace := func(what string, n []string, prev string) string {
		t.Helper()
		p, _, issued, err := e.ServerCertificate(ctx, n, ips)
		if err != nil || !issued {
			t.Fatalf("%s: issued %v, %v", what, issued, err)
		}
		s := serverLeaf(t, p)
		if s == prev {
			t.Fatalf("%s: the same certificate", what)
		}
		if got := revokedAs(prev); got != "superseded" {
			t.Fatalf("%s: the replaced certificate is revoked %q, want superseded", what, got)
		}
		return s
	}
	second := replace("a new name", append(names, "ca2.contoso.com"), first)
	third := replace("near expiry", append(names, "ca2.contoso.com"), func() string {
		now = now.Add(396*24*time.Hour - ServerRenewBefore + time.Hour)
		return second
	}())
	if err := e.Revoke(ctx, Operator(), mustSerial(t, third), "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	p, _, issued, err := e.ServerCertificate(ctx, names, ips)
	if err != nil || !issued || serverLeaf(t, p) == third {
		t.Fatalf("after its revocation: issued %v, %v", issued, err)
	}
	if got := revokedAs(third); got != "keyCompromise" {
		t.Fatalf("revoked certificate's reason changed to %q", got)
	}
}

// TestServerCertificateForeignKey: a kept key that does not open with
// the passphrase is replaced, never used unsealed.
func TestServerCertificateForeignKey(t *testing.T) {
	ctx := context.Background()
	e, dir := newCA(t, "", "p256")
	p, _, _, err := e.ServerCertificate(ctx, []string{"localhost"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := certfmt.MarshalPrivateKeyPEM(p256Key)
	writeFile(t, dir, serverKeyFile, plain)
	p2, _, issued, err := e.ServerCertificate(ctx, []string{"localhost"}, nil)
	if err != nil || !issued || bytes.Equal(p, p2) {
		t.Fatalf("plaintext kept key: issued %v, %v", issued, err)
	}
}

func mustCerts(t *testing.T, e *Engine) []CertInfo {
	t.Helper()
	cs, err := e.Certificates(context.Background(), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func mustSerial(t *testing.T, s string) *big.Int {
	t.Helper()
	n, err := ParseSerial(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
