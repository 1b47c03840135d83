package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"

	"edgecert/internal/testtool"
)

// TestOCSPSeveralSerials: a request about several certificates (RFC 6960
// allows a list) is answered for each of them, good, revoked and unknown,
// by Go's parser and OpenSSL's; a request about another issuer's
// certificate among them is unauthorized, and an oversized list malformed.
func TestOCSPSeveralSerials(t *testing.T) {
	e, _ := newCA(t, "", "p256")
	ctx := context.Background()
	good, bad := issueTwo(t, e)
	if err := e.Revoke(ctx, mustPrincipal(t, e, "admin"), bad.SerialNumber, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	unknown := &x509.Certificate{SerialNumber: big.NewInt(0x7e57)}
	der := ocspRequestFor(t, e.issuer, good.SerialNumber, bad.SerialNumber, unknown.SerialNumber)
	resp, err := e.OCSP(ctx, der)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cert *x509.Certificate
		want int
	}{{good, ocsp.Good}, {bad, ocsp.Revoked}, {unknown, ocsp.Unknown}} {
		r, err := ocsp.ParseResponseForCert(resp, c.cert, e.issuer)
		if err != nil {
			t.Fatalf("serial %X: %v", c.cert.SerialNumber, err)
		}
		if r.Status != c.want {
			t.Errorf("serial %X: status %d, want %d", c.cert.SerialNumber, r.Status, c.want)
		}
	}

	// Another issuer among them: unauthorized for the whole request.
	other, _ := newCA(t, "", "p256")
	mixed := ocspRequestFor(t, e.issuer, good.SerialNumber)
	mixed = appendCertID(t, mixed, other.issuer, big.NewInt(5))
	if resp, _ := e.OCSP(ctx, mixed); string(resp) != string(ocsp.UnauthorizedErrorResponse) {
		t.Errorf("a request naming another issuer: %x", resp)
	}
	many := make([]*big.Int, maxOCSPRequests+1)
	for i := range many {
		many[i] = big.NewInt(int64(i + 1))
	}
	if resp, err := e.OCSP(ctx, ocspRequestFor(t, e.issuer, many...)); string(resp) != string(ocsp.MalformedRequestErrorResponse) || err == nil {
		t.Errorf("%d certificates in one request: %x %v", len(many), resp, err)
	}

	// OpenSSL asks about the three at once and reads the three answers.
	openssl := testtool.Path(t, "openssl")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		resp, _ := e.OCSP(r.Context(), body)
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(resp)
	}))
	defer srv.Close()
	dir := t.TempDir()
	root := writeFile(t, dir, "root.pem", pemCerts(e.root))
	inter := writeFile(t, dir, "inter.pem", pemCerts(e.issuer))
	out, err := exec.Command(openssl, "ocsp", "-issuer", inter,
		"-cert", writeFile(t, dir, "good.pem", pemCerts(good)), "-cert", writeFile(t, dir, "bad.pem", pemCerts(bad)),
		"-serial", "0x7E57", "-url", srv.URL, "-CAfile", root, "-verify_other", inter).CombinedOutput()
	s := string(out)
	if err != nil || !strings.Contains(s, "Response verify OK") || !strings.Contains(s, "good.pem: good") ||
		!strings.Contains(s, "bad.pem: revoked") || !strings.Contains(s, "0x7E57: unknown") {
		t.Errorf("openssl ocsp with three certificates: %v\n%s", err, s)
	}
}

// ocspRequestFor builds a DER OCSP request about serials of issuer.
func ocspRequestFor(t *testing.T, issuer *x509.Certificate, serials ...*big.Int) []byte {
	t.Helper()
	var r ocspRequest
	for _, n := range serials {
		r.TBS.List = append(r.TBS.List, struct {
			CertID ocspCertID
			Exts   []pkix.Extension `asn1:"explicit,tag:0,optional"`
		}{CertID: certIDFor(t, issuer, n)})
	}
	der, err := asn1.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// appendCertID adds a certificate of issuer to a DER OCSP request.
func appendCertID(t *testing.T, der []byte, issuer *x509.Certificate, n *big.Int) []byte {
	t.Helper()
	var r ocspRequest
	if _, err := asn1.Unmarshal(der, &r); err != nil {
		t.Fatal(err)
	}
	r.TBS.List = append(r.TBS.List, r.TBS.List[0])
	r.TBS.List[len(r.TBS.List)-1].CertID = certIDFor(t, issuer, n)
	out, err := asn1.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func certIDFor(t *testing.T, issuer *x509.Certificate, n *big.Int) ocspCertID {
	t.Helper()
	der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: n}, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	var r ocspRequest
	if _, err := asn1.Unmarshal(der, &r); err != nil || len(r.TBS.List) != 1 {
		t.Fatalf("x/crypto request: %v", err)
	}
	return r.TBS.List[0].CertID
}
