package enroll

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// testCA is a CA with users for the tests:
//
//	admin  (administrator)       token tokAdmin
//	alice  (group webadmins)     token tokAlice
//	bob    (group webadmins)     token tokBob
//	carol  (no group: no Enroll) token tokCarol
//
// and templates WebServer (webadmins may enroll) and WebServerApproval
// (webadmins, with approval).
type testCA struct {
	eng                                    Engine
	tokAdmin, tokAlice, tokBob, tokCarol   string
	passAdmin, passAlice, passBob, passCar string
	// written counts the requests recorded in the CA's database.
	written func(t *testing.T) int
	// dir and pass open the same CA again (another process's engine).
	dir  string
	pass []byte
}

const (
	tmplAuto     = "WebServer"
	tmplApproval = "WebServerApproval"
)

// newTestCA creates a CA with the real engine and its embedded database in
// t.TempDir.
func newTestCA(t *testing.T) *testCA {
	t.Helper()
	t.Parallel()
	return newRealCA(t)
}

func (tc *testCA) root() *x509.Certificate { c := tc.eng.Chain(); return c[len(c)-1] }

// testServer is a running server and a client that trusts the CA's root.
type testServer struct {
	srv    *Server
	url    string
	plain  string
	client *http.Client
	stop   func()
}

func startServer(t testing.TB, tc *testCA, cfg Config) *testServer {
	t.Helper()
	return startServerAt(t, tc, cfg, nil)
}

// startServerAt is startServer with the server's clock (nil: time.Now).
func startServerAt(t testing.TB, tc *testCA, cfg Config, now func() time.Time) *testServer {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(tc.eng, cfg, log, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	ts := &testServer{srv: s, url: s.URL(), plain: s.HTTPURL(), client: tc.client(t)}
	ts.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(func() {
		if ts.stop != nil {
			ts.stop()
		}
	})
	return ts
}

// client trusts the CA root, keeps cookies and does not follow redirects.
func (tc *testCA) client(t testing.TB) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(tc.root())
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 128}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// newCSR returns a PEM PKCS#10 request for cn.
func newCSR(t testing.TB, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// call sends an API request and returns the status and body.
func (ts *testServer) call(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, ts.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		// Errorf, not Fatalf: call runs in the load test's goroutines.
		t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs user in through the form and returns the session's CSRF token.
func (ts *testServer) signIn(t *testing.T, user, password string) string {
	t.Helper()
	resp, err := ts.client.Get(ts.url + "/certsrv/signin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no CSRF field on the sign-in page")
	}
	resp, err = ts.client.PostForm(ts.url+"/certsrv/signin", url.Values{"csrf": {string(m[1])}, "user": {user}, "password": {password}, "next": {"/certsrv/request"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: status %d", user, resp.StatusCode)
	}
	return ts.csrf(t, "/certsrv/request")
}

// csrf reads the session's CSRF token from a page.
func (ts *testServer) csrf(t *testing.T, path string) string {
	t.Helper()
	resp, err := ts.client.Get(ts.url + path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no CSRF token on %s (status %d)", path, resp.StatusCode)
	}
	return string(m[1])
}

func decodeNoT(b []byte) certAnswer {
	var a certAnswer
	json.Unmarshal(b, &a)
	return a
}

func parseP7BForTest(der []byte) ([]*x509.Certificate, error) {
	if b, _ := pem.Decode(der); b != nil {
		der = b.Bytes
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, err
	}
	return p7.Certificates, nil
}
