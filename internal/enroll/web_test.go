package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"edgecert/internal/ca"
	"edgecert/internal/testtool"
)

// TestPlainHTTPServesOnlyPublications: the plain listener answers the CRL,
// AIA and OCSP paths and nothing else.
func TestPlainHTTPServesOnlyPublications(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{HTTPListen: "127.0.0.1:0"})
	name := tc.eng.FileName()
	issuing := tc.eng.Chain()[0]
	get := func(path string) (int, []byte) {
		resp, err := http.Get(ts.plain + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	t.Run("full CRL", func(t *testing.T) {
		st, b := get("/crl/" + name + ".crl")
		if rl, err := x509.ParseRevocationList(b); st != 200 || err != nil || rl.CheckSignatureFrom(issuing) != nil {
			t.Fatalf("status %d, %v", st, err)
		}
	})
	t.Run("delta CRL", func(t *testing.T) {
		st, b := get("/crl/" + url.PathEscape(name+"+.crl"))
		if _, err := x509.ParseRevocationList(b); st != 200 || err != nil {
			t.Fatalf("status %d, %v", st, err)
		}
	})
	t.Run("AIA", func(t *testing.T) {
		st, b := get("/aia/" + name + ".crt")
		if st != 200 || !bytes.Equal(b, issuing.Raw) {
			t.Fatalf("status %d", st)
		}
	})
	// The issuing CA certificate's own CDP and AIA point at the root's CRL and certificate.
	root := tc.eng.Chain()[len(tc.eng.Chain())-1]
	t.Run("root CRL at the issuing CA's CDP", func(t *testing.T) {
		if len(issuing.CRLDistributionPoints) != 1 || !strings.HasSuffix(issuing.CRLDistributionPoints[0], "/crl/"+tc.eng.RootFileName()+".crl") {
			t.Fatalf("issuing CA CDP %v", issuing.CRLDistributionPoints)
		}
		st, b := get("/crl/" + tc.eng.RootFileName() + ".crl")
		rl, err := x509.ParseRevocationList(b)
		if st != 200 || err != nil || rl.CheckSignatureFrom(root) != nil {
			t.Fatalf("status %d, %v", st, err)
		}
	})
	t.Run("root certificate at the issuing CA's AIA", func(t *testing.T) {
		if len(issuing.IssuingCertificateURL) != 1 || !strings.HasSuffix(issuing.IssuingCertificateURL[0], "/aia/"+tc.eng.RootFileName()+".crt") {
			t.Fatalf("issuing CA AIA %v", issuing.IssuingCertificateURL)
		}
		st, b := get("/aia/" + tc.eng.RootFileName() + ".crt")
		if st != 200 || !bytes.Equal(b, root.Raw) {
			t.Fatalf("status %d", st)
		}
	})
	// OCSP for a certificate the CA issued, GET and POST.
	_, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "ocsp.contoso.com"), "template": tmplAuto})
	leaf := parsePEMCert(t, decodeNoT(body).Certificate)
	oreq, err := ocsp.CreateRequest(leaf, issuing, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkOCSP := func(t *testing.T, st int, b []byte) {
		t.Helper()
		r, err := ocsp.ParseResponseForCert(b, leaf, issuing)
		if st != 200 || err != nil || r.Status != ocsp.Good {
			t.Fatalf("status %d, %v, %+v", st, err, r)
		}
	}
	t.Run("OCSP POST", func(t *testing.T) {
		resp, err := http.Post(ts.plain+"/ocsp", "application/ocsp-request", bytes.NewReader(oreq))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkOCSP(t, resp.StatusCode, b)
	})
	t.Run("OCSP GET", func(t *testing.T) {
		st, b := get("/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(oreq)))
		checkOCSP(t, st, b)
	})
	t.Run("openssl ocsp", func(t *testing.T) {
		openssl := testtool.Path(t, "openssl")
		dir := t.TempDir()
		write := func(name string, certs ...*x509.Certificate) string {
			var b []byte
			for _, c := range certs {
				b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
			}
			p := filepath.Join(dir, name)
			os.WriteFile(p, b, 0o600)
			return p
		}
		chain := tc.eng.Chain()
		out, err := exec.Command(openssl, "ocsp", "-issuer", write("issuing.pem", issuing), "-cert", write("leaf.pem", leaf),
			"-CAfile", write("chain.pem", chain...), "-url", ts.plain+"/ocsp").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Response verify OK") || !strings.Contains(string(out), ": good") {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		_, crl := get("/crl/" + name + ".crl")
		crlFile := filepath.Join(dir, "full.crl")
		os.WriteFile(crlFile, crl, 0o600)
		out, err = exec.Command(openssl, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", filepath.Join(dir, "chain.pem"), "-noout").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "verify OK") {
			t.Fatalf("openssl crl: %v\n%s", err, out)
		}
	})
	for _, p := range []string{"/", "/certsrv/", "/certsrv/download", "/certsrv/certnew.p7b", "/api/v1/ca/chain", "/api/v1/templates", "/healthz", "/metrics", "/static/style.css", "/crl/other.crl", "/aia/" + name + ".crl"} {
		t.Run("refused "+p, func(t *testing.T) {
			if st, _ := get(p); st != http.StatusNotFound {
				t.Errorf("status %d, want 404", st)
			}
		})
	}
	t.Run("refused POST to the API", func(t *testing.T) {
		resp, err := http.Post(ts.plain+"/api/v1/certificates", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

// postForm posts a form as the test client.
func (ts *testServer) postForm(t *testing.T, path string, v url.Values) (int, string, http.Header) {
	t.Helper()
	resp, err := ts.client.PostForm(ts.url+path, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestFormsNeedCSRF: every form post without the session's token is
// refused and records nothing.
func TestFormsNeedCSRF(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	csrf := ts.signIn(t, "alice", tc.passAlice)
	before := tc.written(t)
	csr := newCSR(t, "csrf.contoso.com")
	for _, c := range []struct{ name, token string }{{"no token", ""}, {"wrong token", "AAAA" + csrf[4:]}} {
		t.Run(c.name, func(t *testing.T) {
			v := url.Values{"csr": {csr}, "template": {tmplAuto}}
			if c.token != "" {
				v.Set("csrf", c.token)
			}
			st, body, _ := ts.postForm(t, "/certsrv/request", v)
			if st != http.StatusForbidden || !strings.Contains(body, "security token") {
				t.Fatalf("status %d: %s", st, body)
			}
		})
	}
	t.Run("sign-in form without its token", func(t *testing.T) {
		st, _, _ := ts.postForm(t, "/certsrv/signin", url.Values{"user": {"alice"}, "password": {tc.passAlice}})
		if st != http.StatusForbidden {
			t.Fatalf("status %d", st)
		}
	})
	if after := tc.written(t); after != before {
		t.Fatalf("refused forms wrote %d records", after-before)
	}
	st, _, h := ts.postForm(t, "/certsrv/request", url.Values{"csr": {csr}, "template": {tmplAuto}, "csrf": {csrf}})
	if st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/certsrv/requests/") {
		t.Fatalf("with the token: status %d, location %q", st, h.Get("Location"))
	}
}

func TestSessionCookieAndSignIn(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	// Pages that need a user send the browser to sign in.
	resp, err := ts.client.Get(ts.url + "/certsrv/pending")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/certsrv/signin") {
		t.Fatalf("status %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A wrong password is refused.
	tok := ts.csrf(t, "/certsrv/signin")
	st, body, _ := ts.postForm(t, "/certsrv/signin", url.Values{"csrf": {tok}, "user": {"alice"}, "password": {"wrong"}})
	if st != http.StatusUnauthorized || !strings.Contains(body, "wrong password") {
		t.Fatalf("wrong password: %d", st)
	}
	// The session cookie is Secure, HttpOnly and SameSite=Strict.
	st, _, h := ts.postForm(t, "/certsrv/signin", url.Values{"csrf": {tok}, "user": {"alice"}, "password": {tc.passAlice}, "next": {"https://evil.example/"}})
	if st != http.StatusSeeOther || h.Get("Location") != "/certsrv/" {
		t.Fatalf("sign-in: %d to %q", st, h.Get("Location"))
	}
	var cookie string
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie+"=") {
			cookie = c
		}
	}
	for _, attr := range []string{"Secure", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
}

// TestPagesEnforcePermissions: the request form lists only the templates
// the user may enroll in, and a forged post for another is refused.
func TestPagesEnforcePermissions(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	csrf := ts.signIn(t, "carol", tc.passCar)
	resp, _ := ts.client.Get(ts.url + "/certsrv/request")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), `value="`+tmplAuto+`"`) || !strings.Contains(string(b), "may not enroll") {
		t.Errorf("carol's request page offers the template or does not say why not")
	}
	before := tc.written(t)
	st, body, _ := ts.postForm(t, "/certsrv/request", url.Values{"csr": {newCSR(t, "carol.contoso.com")}, "template": {tmplAuto}, "csrf": {csrf}})
	if st != http.StatusForbidden || !strings.Contains(body, "You may not enroll") {
		t.Fatalf("status %d", st)
	}
	if tc.written(t) != before {
		t.Errorf("a refused request was recorded")
	}
	// Not an administrator: approve, deny, revoke are refused.
	for _, p := range []string{"/certsrv/requests/1/approve", "/certsrv/requests/1/deny"} {
		if st, _, _ := ts.postForm(t, p, url.Values{"csrf": {csrf}}); st != http.StatusForbidden && st != http.StatusNotFound {
			t.Errorf("%s: status %d", p, st)
		}
	}
	if st, _, _ := ts.postForm(t, "/certsrv/revoke", url.Values{"csrf": {csrf}, "serial": {"01"}}); st != http.StatusForbidden && st != http.StatusNotFound {
		t.Errorf("revoke: status %d", st)
	}
}

// TestFormBodyLimit: an oversized form gets 413.
func TestFormBodyLimit(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{MaxBodyBytes: 32 << 10})
	csrf := ts.signIn(t, "alice", tc.passAlice)
	before := tc.written(t)
	st, _, _ := ts.postForm(t, "/certsrv/request", url.Values{"csr": {strings.Repeat("A", 40<<10)}, "template": {tmplAuto}, "csrf": {csrf}})
	if st != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", st)
	}
	if tc.written(t) != before {
		t.Errorf("an oversized request was recorded")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "m.contoso.com"), "template": tmplAuto})
	ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "p.contoso.com"), "template": tmplApproval})
	ts.call(t, "GET", "/api/v1/templates", "", nil)
	if st, b := ts.call(t, "GET", "/healthz", "", nil); st != 200 || string(b) != "ok\n" {
		t.Errorf("healthz: %d %q", st, b)
	}
	st, b := ts.call(t, "GET", "/metrics", "", nil)
	if st != 200 {
		t.Fatalf("metrics: %d", st)
	}
	for _, want := range []string{
		`edgecert_http_requests_total{route="api_submit",status="201"} 1`,
		`edgecert_http_requests_total{route="api_submit",status="202"} 1`,
		`edgecert_http_requests_total{route="api_templates",status="401"} 1`,
		`edgecert_issuance_duration_seconds_count 2`,
		`edgecert_issuance_duration_seconds_bucket{le="+Inf"} 2`,
		`edgecert_pending_requests 1`,
		`edgecert_crl_age_seconds{crl="full"} `,
		`edgecert_build_info{go="` + runtime.Version() + `",crypto="` + cryptoImpl() + `"} 1`,
		"# TYPE edgecert_issuance_duration_seconds histogram",
		"# TYPE edgecert_issuance_stage_seconds histogram",
		`edgecert_issuance_stage_seconds_count{stage="queue"} 2`,
		`edgecert_issuance_stage_seconds_count{stage="work"} 2`,
		`edgecert_issuance_stage_seconds_count{stage="record"} 2`,
		`edgecert_issuance_stage_seconds_bucket{stage="work",le="+Inf"} 2`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
	// The parts are measured, not zeros: signing takes some time.
	m := regexp.MustCompile(`edgecert_issuance_stage_seconds_sum\{stage="work"\} (\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no work sum:\n%s", b)
	}
	if v, err := strconv.ParseFloat(string(m[1]), 64); err != nil || v <= 0 {
		t.Errorf("work sum %q, want a positive number of seconds", m[1])
	}
}

// slowEngine delays submissions, to catch a shutdown that drops them.
type slowEngine struct {
	Engine
	started chan struct{}
	delay   time.Duration
}

func (s *slowEngine) Submit(ctx context.Context, p *ca.Principal, csr []byte, template string) (*ca.Result, error) {
	close(s.started)
	time.Sleep(s.delay)
	return s.Engine.Submit(ctx, p, csr, template)
}

// TestGracefulShutdown: a request in flight when shutdown starts is answered.
func TestGracefulShutdown(t *testing.T) {
	tc := newTestCA(t)
	slow := &slowEngine{Engine: tc.eng, started: make(chan struct{}), delay: 500 * time.Millisecond}
	tc2 := *tc
	tc2.eng = slow
	ts := startServer(t, &tc2, Config{})
	type answer struct {
		st   int
		body []byte
	}
	got := make(chan answer, 1)
	go func() {
		st, b := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "slow.contoso.com"), "template": tmplAuto})
		got <- answer{st, b}
	}()
	<-slow.started
	ts.stop()
	ts.stop = nil
	a := <-got
	if a.st != http.StatusCreated {
		t.Fatalf("in-flight request: %d %s", a.st, a.body)
	}
	if _, err := ts.client.Get(ts.url + "/healthz"); err == nil {
		t.Errorf("server still answers after shutdown")
	}
}

func TestDownloadsHaveWindowsNames(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	cases := []struct{ path, file, prefix string }{
		{"/certsrv/certnew.cer?enc=der", "certnew.cer", ""},
		{"/certsrv/certnew.cer?enc=b64", "certnew.cer", "-----BEGIN CERTIFICATE-----"},
		{"/certsrv/certnew.p7b?enc=der", "certnew.p7b", ""},
		{"/certsrv/certnew.p7b?enc=b64", "certnew.p7b", "-----BEGIN PKCS7-----"},
		{"/certsrv/certcrl.crl?type=full&enc=der", "certcrl.crl", ""},
		{"/certsrv/certcrl.crl?type=delta&enc=b64", "certcrl.crl", "-----BEGIN X509 CRL-----"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			resp, err := ts.client.Get(ts.url + c.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), fmt.Sprintf("filename=%q", c.file)) {
				t.Fatalf("status %d, disposition %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
			}
			if !strings.HasPrefix(string(b), c.prefix) {
				t.Errorf("body starts %q", b[:min(len(b), 30)])
			}
		})
	}
}

// TestSelfIssuedCertificateNames: on a wildcard address the server's own
// certificate covers this machine's name, localhost and the loopback
// addresses.
func TestSelfIssuedCertificateNames(t *testing.T) {
	tc := newTestCA(t)
	s, err := New(tc.eng, Config{Listen: ":0", ServerNames: []string{"ca.contoso.com", "192.0.2.7"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.tlsLn.Close()
	leaf, err := x509.ParseCertificate(s.tlsCert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "ca.contoso.com", "192.0.2.7"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(s.tlsCert.Certificate); n != 1+len(tc.eng.Chain()) {
		t.Errorf("handshake chain of %d certificates", n)
	}
}

func TestValidDNSName(t *testing.T) {
	for name, want := range map[string]bool{"vm": true, "ca.contoso.com": true, "my_host": false, "-x": false, "a..b": false, "": false} {
		if got := validDNSName(name); got != want {
			t.Errorf("%q: %v", name, got)
		}
	}
}

// TestRequestUpload: a request uploaded as a DER file is issued.
func TestRequestUpload(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	csrf := ts.signIn(t, "alice", tc.passAlice)
	blk, _ := pem.Decode([]byte(newCSR(t, "upload.contoso.com")))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", csrf)
	mw.WriteField("template", tmplAuto)
	fw, _ := mw.CreateFormFile("file", "upload.req")
	fw.Write(blk.Bytes)
	mw.Close()
	resp, err := ts.client.Post(ts.url+"/certsrv/request", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/certsrv/requests/") {
		t.Fatalf("status %d to %q", resp.StatusCode, loc)
	}
	resp, err = ts.client.Get(ts.url + loc + "/certnew.cer?enc=der")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cert, err := x509.ParseCertificate(der)
	if err != nil || cert.VerifyHostname("upload.contoso.com") != nil {
		t.Fatalf("issued certificate: %v", err)
	}
}

// TestPendingPagePages checks that the status page lists requests a page
// at a time with a link to the older ones, which keeps the filter.
func TestPendingPagePages(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	for i := 0; i < pendingPageSize+1; i++ {
		st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, fmt.Sprintf("pp%d.contoso.com", i)), "template": tmplApproval})
		if st != http.StatusAccepted {
			t.Fatalf("submit %d: %d %s", i, st, body)
		}
	}
	ts.signIn(t, "admin", tc.passAdmin)
	get := func(path string) string {
		resp, err := ts.client.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	first := get("/certsrv/pending?status=pending")
	if n := strings.Count(first, `id="approve-`); n != pendingPageSize {
		t.Fatalf("first page lists %d requests, want %d", n, pendingPageSize)
	}
	m := regexp.MustCompile(`href="([^"]+)" id="older"`).FindStringSubmatch(first)
	if m == nil {
		t.Fatal("no link to the older requests")
	}
	older := html.UnescapeString(m[1])
	if !strings.Contains(older, "status=pending") || !strings.Contains(older, "before=") {
		t.Fatalf("older link %q loses the filter or the position", older)
	}
	second := get(older)
	if n := strings.Count(second, `id="approve-`); n != 1 || strings.Contains(second, `id="older"`) {
		t.Fatalf("second page lists %d requests (want 1) or links further", n)
	}
	if !strings.Contains(second, "pp0.contoso.com") {
		t.Fatal("the oldest request is not on the last page")
	}
}
