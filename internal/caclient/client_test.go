package caclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/ca"
	"edgecert/internal/caclient"
	"edgecert/internal/enroll"
)

// server is a real CA behind the real HTTPS server.
type server struct {
	eng   *ca.Engine
	url   string
	token string
	root  *x509.Certificate
}

func startCA(t *testing.T) *server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	pass := []byte("test passphrase")
	if err := ca.Init(ctx, dir, ca.InitOptions{Name: "Client Test", Key: "p256", Passphrase: pass, AdminName: "admin", AdminPassword: []byte("admin-password-1")}); err != nil {
		t.Fatal(err)
	}
	groups, yes := []string{"web"}, true
	if _, err := ca.SetTemplate(dir, "WebServer", ca.TemplateChange{Enroll: &groups}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SetTemplate(dir, "Approved", ca.TemplateChange{CopyFrom: "WebServer", Approval: &yes}); err != nil {
		t.Fatal(err)
	}
	eng, err := ca.Open(ctx, dir, ca.OpenOptions{Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if err := eng.AddUser(ctx, ca.UserSpec{Name: "alice", Groups: groups}); err != nil {
		t.Fatal(err)
	}
	tok, err := eng.NewToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	url, stop, err := enroll.StartLoopback(eng, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	chain := eng.Chain()
	return &server{eng: eng, url: url, token: tok, root: chain[len(chain)-1]}
}

func csr(t *testing.T, cn string) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestPinning(t *testing.T) {
	s := startCA(t)
	ctx := context.Background()
	pins := filepath.Join(t.TempDir(), "pins.json")

	t.Run("pinned on first use", func(t *testing.T) {
		c, err := caclient.New(s.url, caclient.Options{PinFile: pins})
		if err != nil {
			t.Fatal(err)
		}
		der, certs, err := c.Chain(ctx)
		if err != nil || len(der) == 0 || !certs[len(certs)-1].Equal(s.root) {
			t.Fatalf("chain: %v", err)
		}
		b, _ := os.ReadFile(pins)
		var m map[string]string
		json.Unmarshal(b, &m)
		if len(m) != 1 || !strings.EqualFold(m[s.url], caclient.Fingerprint(s.root)) {
			t.Fatalf("pin file: %s", b)
		}
	})
	t.Run("pin checked later", func(t *testing.T) {
		c, _ := caclient.New(s.url, caclient.Options{PinFile: pins})
		if _, _, err := c.Chain(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("given fingerprint, colons and lower case", func(t *testing.T) {
		fp := strings.ToLower(caclient.Fingerprint(s.root))
		var parts []string
		for i := 0; i < len(fp); i += 2 {
			parts = append(parts, fp[i:i+2])
		}
		c, err := caclient.New(s.url, caclient.Options{Fingerprint: strings.Join(parts, ":"), PinFile: filepath.Join(t.TempDir(), "p.json")})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Chain(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong fingerprint", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "p.json")
		c, err := caclient.New(s.url, caclient.Options{Fingerprint: strings.Repeat("ab", 32), PinFile: other})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Chain(ctx); !errors.Is(err, caclient.ErrFingerprint) {
			t.Fatalf("err %v, want ErrFingerprint", err)
		}
		if _, err := os.Stat(other); err == nil {
			t.Errorf("a refused server was pinned")
		}
	})
	t.Run("pin file names another root", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "p.json")
		os.WriteFile(bad, []byte(`{"`+s.url+`": "`+strings.Repeat("CD", 32)+`"}`), 0o600)
		c, _ := caclient.New(s.url, caclient.Options{PinFile: bad})
		if _, _, err := c.Chain(ctx); !errors.Is(err, caclient.ErrFingerprint) {
			t.Fatalf("err %v, want ErrFingerprint", err)
		}
	})
}

func TestSubmitRetrieve(t *testing.T) {
	s := startCA(t)
	ctx := context.Background()
	c, err := caclient.New(s.url, caclient.Options{Token: s.token, Fingerprint: caclient.Fingerprint(s.root)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Submit(ctx, csr(t, "web.contoso.com"), "WebServer")
	if err != nil || r.Status != "issued" || r.Certificate == nil || len(r.Chain) != 2 || r.Serial == "" {
		t.Fatalf("submit: %+v %v", r, err)
	}
	der := csr(t, "later.contoso.com")
	r, err = c.Submit(ctx, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), "Approved")
	if !errors.Is(err, caclient.ErrPending) || r == nil || r.RequestID == 0 {
		t.Fatalf("pending submit: %+v %v", r, err)
	}
	id := r.RequestID
	if r, err = c.Retrieve(ctx, id); !errors.Is(err, caclient.ErrPending) || r.Status != "pending" {
		t.Fatalf("retrieve pending: %+v %v", r, err)
	}
	if _, err := s.eng.Approve(ctx, ca.Operator(), id); err != nil {
		t.Fatal(err)
	}
	if r, err = c.Retrieve(ctx, id); err != nil || r.Certificate == nil || r.Certificate.Subject.CommonName != "later.contoso.com" {
		t.Fatalf("retrieve issued: %+v %v", r, err)
	}

	t.Run("errors", func(t *testing.T) {
		_, err := c.Submit(ctx, []byte("not a request"), "WebServer")
		var ae *caclient.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "bad_request" {
			t.Errorf("malformed: %v", err)
		}
		bad, _ := caclient.New(s.url, caclient.Options{Token: "edgecert_nope", Fingerprint: caclient.Fingerprint(s.root)})
		if _, err := bad.Submit(ctx, csr(t, "x.contoso.com"), "WebServer"); !errors.Is(err, caclient.ErrUnauthorized) {
			t.Errorf("bad token: %v", err)
		}
		if _, err := c.Retrieve(ctx, 999999); !errors.As(err, &ae) || ae.Status != 404 {
			t.Errorf("unknown id: %v", err)
		}
	})
}

func TestNewRefusesBadInput(t *testing.T) {
	for _, c := range []struct{ name, url, fp string }{
		{"plain http", "http://127.0.0.1:1", ""},
		{"not a URL", "::", ""},
		{"short fingerprint", "https://127.0.0.1:1", "abcd"},
		{"not hex", "https://127.0.0.1:1", strings.Repeat("zz", 32)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := caclient.New(c.url, caclient.Options{Fingerprint: c.fp, PinFile: filepath.Join(t.TempDir(), "p")}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func FuzzParseFingerprint(f *testing.F) {
	for _, s := range []string{strings.Repeat("AB", 32), strings.Repeat("ab:", 31) + "ab", "", "sha256/" + strings.Repeat("00", 32), "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := caclient.ParseFingerprint(s)
		if err == nil && len(b) != 32 {
			t.Fatalf("%q gave %d bytes", s, len(b))
		}
	})
}
