package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	"golang.org/x/crypto/ocsp"

	"edgecert/internal/certfmt"
	"edgecert/internal/testtool"
)

// issueTwo issues a good and a to-be-revoked WebServer certificate.
func issueTwo(t *testing.T, e *Engine) (good, bad *x509.Certificate) {
	t.Helper()
	admin := mustPrincipal(t, e, "admin")
	var out []*x509.Certificate
	for _, cn := range []string{"good.contoso.com", "bad.contoso.com"} {
		res, err := e.Submit(context.Background(), admin, makeCSR(t, csrSpec{cn: cn}), "WebServer")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Certificate)
	}
	return out[0], out[1]
}

func TestRevocationCRLWithOpenSSL(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	for _, b := range backends() {
		for _, key := range []string{"p256", "rsa2048"} {
			t.Run(b.name+"/"+key, func(t *testing.T) {
				e, _ := newCA(t, b.dsn(t), key)
				ctx := context.Background()
				admin := mustPrincipal(t, e, "admin")
				good, bad := issueTwo(t, e)
				first, err := e.CRL(ctx, false)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Revoke(ctx, admin, bad.SerialNumber, "keyCompromise"); err != nil {
					t.Fatal(err)
				}
				if err := e.Revoke(ctx, admin, big.NewInt(12345), "keyCompromise"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("unknown serial: %v", err)
				}
				if err := e.Revoke(ctx, admin, good.SerialNumber, "noSuchReason"); !errors.Is(err, ErrBadRequest) {
					t.Fatalf("bad reason: %v", err)
				}
				full, err := e.CRL(ctx, false)
				if err != nil {
					t.Fatal(err)
				}
				crl := checkCRL(t, e, full, false)
				if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(bad.SerialNumber) != 0 ||
					crl.RevokedCertificateEntries[0].ReasonCode != 1 {
					t.Fatalf("CRL entries: %+v", crl.RevokedCertificateEntries)
				}
				old, _ := x509.ParseRevocationList(first)
				if crl.Number.Cmp(old.Number) <= 0 {
					t.Fatalf("CRL number did not grow: %v then %v", old.Number, crl.Number)
				}
				delta, err := e.CRL(ctx, true)
				if err != nil {
					t.Fatal(err)
				}
				checkCRL(t, e, delta, true)

				dir := t.TempDir()
				root := writeFile(t, dir, "root.pem", pemCerts(e.root))
				inter := writeFile(t, dir, "inter.pem", pemCerts(e.issuer))
				crlFile := writeFile(t, dir, "crl.der", full)
				pemCRL := filepath.Join(dir, "crl.pem")
				if out, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", crlFile, "-out", pemCRL).CombinedOutput(); err != nil {
					t.Fatalf("openssl crl: %v\n%s", err, out)
				}
				for _, c := range []struct {
					cert *x509.Certificate
					ok   bool
				}{{good, true}, {bad, false}} {
					f := writeFile(t, dir, "leaf.pem", pemCerts(c.cert))
					out, err := exec.Command(openssl, "verify", "-crl_check", "-CAfile", root, "-untrusted", inter, "-CRLfile", pemCRL, f).CombinedOutput()
					if c.ok && err != nil {
						t.Errorf("good certificate refused: %v\n%s", err, out)
					}
					if !c.ok && (err == nil || !strings.Contains(string(out), "revoked")) {
						t.Errorf("revoked certificate accepted: %s", out)
					}
				}
			})
		}
	}
}

// checkCRL parses, verifies and lints a CRL.
func checkCRL(t *testing.T, e *Engine, der []byte, delta bool) *x509.RevocationList {
	t.Helper()
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("parse CRL: %v", err)
	}
	if err := crl.CheckSignatureFrom(e.issuer); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	hasDelta := false
	for _, ext := range crl.Extensions {
		if ext.Id.Equal(oidDeltaCRL) {
			hasDelta = ext.Critical
			var base *big.Int
			if _, err := asn1.Unmarshal(ext.Value, &base); err != nil {
				t.Fatal(err)
			}
		}
	}
	if hasDelta != delta {
		t.Fatalf("delta indicator %v, want %v", hasDelta, delta)
	}
	zc, err := zx509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("zcrypto parse: %v", err)
	}
	reg, _ := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: lint.SourceList{lint.RFC5280}})
	rs := zlint.LintRevocationListEx(zc, reg)
	for n, r := range rs.Results {
		if r.Status == lint.Error || r.Status == lint.Fatal {
			t.Errorf("CRL lint %s: %s %s", n, r.Status, r.Details)
		}
	}
	return crl
}

// TestCRLEncoderAgainstStdlib compares the streaming encoder with the
// standard library's parse of many entries, reasons and serial shapes.
func TestCRLEncoderAgainstStdlib(t *testing.T) {
	e, _ := newCA(t, "", "p256")
	ctx := context.Background()
	var rs []revocationSpec
	for i := 0; i < 2000; i++ {
		rs = append(rs, revocationSpec{serial: serialHexOf(i), reason: []int{0, 1, 2, 3, 4, 5, 6, 9, 10}[i%9]})
	}
	rs = append(rs, revocationSpec{serial: "80", reason: 1}, revocationSpec{serial: "FF" + strings.Repeat("01", 19), reason: 0}, revocationSpec{serial: "1", reason: 4})
	bulkRevoke(t, e, rs)
	der, err := e.CRL(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	crl := checkCRL(t, e, der, false)
	if len(crl.RevokedCertificateEntries) != len(rs) {
		t.Fatalf("%d entries, want %d", len(crl.RevokedCertificateEntries), len(rs))
	}
	got := map[string]int{}
	for _, r := range crl.RevokedCertificateEntries {
		got[serialHex(r.SerialNumber)] = r.ReasonCode
	}
	for _, r := range rs {
		want := r.reason
		if want == 8 {
			want = 8
		}
		if code, ok := got[r.serial]; !ok || code != want {
			t.Fatalf("serial %s: reason %d (present %v), want %d", r.serial, code, ok, want)
		}
	}
}

func TestOCSPWithOpenSSL(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	for _, key := range []string{"p256", "rsa2048"} {
		t.Run(key, func(t *testing.T) {
			e, _ := newCA(t, "", key)
			ctx := context.Background()
			good, bad := issueTwo(t, e)
			if err := e.Revoke(ctx, mustPrincipal(t, e, "admin"), bad.SerialNumber, "superseded"); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				resp, err := e.OCSP(r.Context(), body)
				if err != nil && resp == nil {
					http.Error(w, err.Error(), 500)
					return
				}
				w.Header().Set("Content-Type", "application/ocsp-response")
				w.Write(resp)
			}))
			defer srv.Close()
			dir := t.TempDir()
			root := writeFile(t, dir, "root.pem", pemCerts(e.root))
			inter := writeFile(t, dir, "inter.pem", pemCerts(e.issuer))
			for _, c := range []struct {
				cert *x509.Certificate
				want string
			}{{good, ": good"}, {bad, ": revoked"}} {
				leaf := writeFile(t, dir, "leaf.pem", pemCerts(c.cert))
				out, err := exec.Command(openssl, "ocsp", "-issuer", inter, "-cert", leaf, "-url", srv.URL,
					"-CAfile", root, "-verify_other", inter).CombinedOutput()
				s := string(out)
				if err != nil || !strings.Contains(s, "Response verify OK") || !strings.Contains(s, c.want) {
					t.Errorf("openssl ocsp: %v\n%s", err, s)
				}
				if strings.Contains(s, "WARNING: no nonce") {
					t.Errorf("nonce not echoed:\n%s", s)
				}
			}
			// The responses themselves are lint-clean.
			for _, c := range []*x509.Certificate{good, bad} {
				req, _ := ocsp.CreateRequest(c, e.issuer, nil)
				der, err := e.OCSP(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := ocsp.ParseResponseForCert(der, c, e.issuer)
				if err != nil {
					t.Fatalf("parse OCSP response: %v", err)
				}
				for n, r := range zlint.LintOcspResponse(resp).Results {
					if r.Status == lint.Error || r.Status == lint.Fatal || r.Status == lint.Warn {
						t.Errorf("OCSP lint %s: %s %s", n, r.Status, r.Details)
					}
				}
			}
			// A malformed request gets a malformed-request response and ErrBadRequest.
			resp, err := e.OCSP(ctx, []byte("junk"))
			if !errors.Is(err, ErrBadRequest) || !bytes.Equal(resp[:2], []byte{0x30, 0x03}) {
				t.Errorf("junk request: %v %x", err, resp)
			}
			_ = certfmt.ThumbprintSHA1
		})
	}
}
