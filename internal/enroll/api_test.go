package enroll

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"edgecert/internal/ca"
)

type certAnswer struct {
	RequestID   int64    `json:"request_id"`
	Status      string   `json:"status"`
	Certificate string   `json:"certificate"`
	Chain       []string `json:"chain"`
	Serial      string   `json:"serial"`
	Requester   string   `json:"requester"`
}

type errAnswer struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func parsePEMCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatalf("not PEM: %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAPISubmitIssues(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "web1.contoso.com"), "template": tmplAuto})
	if st != http.StatusCreated {
		t.Fatalf("status %d: %s", st, body)
	}
	a := decode[certAnswer](t, body)
	cert := parsePEMCert(t, a.Certificate)
	if cert.Subject.CommonName != "web1.contoso.com" || a.Status != "issued" || a.RequestID == 0 {
		t.Fatalf("answer %+v, subject %s", a, cert.Subject)
	}
	if a.Serial != strings.ToUpper(cert.SerialNumber.Text(16)) {
		t.Errorf("serial %s, certificate has %X", a.Serial, cert.SerialNumber)
	}
	chain := tc.eng.Chain()
	if len(a.Chain) != len(chain) {
		t.Fatalf("chain of %d, CA has %d", len(a.Chain), len(chain))
	}
	inter, roots := x509.NewCertPool(), x509.NewCertPool()
	for i, p := range a.Chain {
		c := parsePEMCert(t, p)
		if !c.Equal(chain[i]) {
			t.Errorf("chain[%d] is %s", i, c.Subject)
		}
		inter.AddCert(c)
	}
	roots.AddCert(tc.root())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("issued certificate does not verify: %v", err)
	}

	// The owner reads it back.
	st, body = ts.call(t, "GET", fmt.Sprintf("/api/v1/requests/%d", a.RequestID), tc.tokAlice, nil)
	if st != http.StatusOK || decode[certAnswer](t, body).Certificate == "" {
		t.Fatalf("retrieve: %d %s", st, body)
	}
}

// TestAPIAnswerFraming checks what every JSON answer carries: its exact
// length (not chunked), its type, no caching, and the security headers
// that all answers share (their values are shared slices: a handler that
// changed one in place would show here on the next answer).
func TestAPIAnswerFraming(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	body, _ := json.Marshal(map[string]string{"csr": newCSR(t, "frame.contoso.com"), "template": tmplAuto})
	for _, tc2 := range []struct {
		name, method, path string
		body               []byte
		status             int
	}{
		{"issued certificate", "POST", "/api/v1/certificates", body, http.StatusCreated},
		{"refusal", "POST", "/api/v1/certificates", []byte(`{"csr":`), http.StatusBadRequest},
		{"listing", "GET", "/api/v1/requests", nil, http.StatusOK},
		{"templates", "GET", "/api/v1/templates", nil, http.StatusOK},
		{"issued certificate again", "POST", "/api/v1/certificates", body, http.StatusCreated},
	} {
		t.Run(tc2.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc2.method, ts.url+tc2.path, bytes.NewReader(tc2.body))
			req.Header.Set("Authorization", "Bearer "+tc.tokAlice)
			resp, err := ts.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc2.status {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			if resp.ContentLength != int64(len(got)) || len(resp.TransferEncoding) != 0 {
				t.Errorf("Content-Length %d, transfer encoding %v, for a %d-byte body", resp.ContentLength, resp.TransferEncoding, len(got))
			}
			if !json.Valid(got) || got[len(got)-1] != '\n' {
				t.Errorf("body is not one JSON value and a line feed: %q", got)
			}
			for k, want := range map[string]string{
				"Content-Type":              "application/json",
				"Cache-Control":             "no-store",
				"X-Content-Type-Options":    "nosniff",
				"X-Frame-Options":           "DENY",
				"Strict-Transport-Security": "max-age=31536000",
			} {
				if v := resp.Header.Values(k); len(v) != 1 || v[0] != want {
					t.Errorf("%s: %q, want %q", k, v, want)
				}
			}
		})
	}
}

func TestAPIPendingApproveAndPrivacy(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "web2.contoso.com"), "template": tmplApproval})
	if st != http.StatusAccepted {
		t.Fatalf("status %d: %s", st, body)
	}
	a := decode[certAnswer](t, body)
	if a.RequestID == 0 || a.Certificate != "" {
		t.Fatalf("answer %+v", a)
	}
	path := fmt.Sprintf("/api/v1/requests/%d", a.RequestID)

	st, body = ts.call(t, "GET", path, tc.tokAlice, nil)
	if st != http.StatusOK || decode[certAnswer](t, body).Status != "pending" {
		t.Fatalf("owner: %d %s", st, body)
	}
	// Another user's token cannot read it, nor approve it.
	for _, tok := range []string{tc.tokBob, tc.tokCarol} {
		st, body = ts.call(t, "GET", path, tok, nil)
		if st != http.StatusNotFound && st != http.StatusForbidden {
			t.Errorf("another user read the request: %d %s", st, body)
		}
		if strings.Contains(string(body), "web2.contoso.com") {
			t.Errorf("another user saw the subject: %s", body)
		}
	}
	st, body = ts.call(t, "GET", "/api/v1/requests?status=pending", tc.tokBob, nil)
	if st != http.StatusOK || strings.Contains(string(body), "web2.contoso.com") {
		t.Errorf("bob's listing shows alice's request: %d %s", st, body)
	}
	st, _ = ts.call(t, "POST", path+"/approve", tc.tokBob, nil)
	if st != http.StatusForbidden && st != http.StatusNotFound {
		t.Errorf("bob approved: %d", st)
	}
	// The administrator sees and approves it.
	st, body = ts.call(t, "GET", "/api/v1/requests?status=pending", tc.tokAdmin, nil)
	if st != http.StatusOK || !strings.Contains(string(body), "web2.contoso.com") {
		t.Errorf("admin listing: %d %s", st, body)
	}
	st, body = ts.call(t, "POST", path+"/approve", tc.tokAdmin, nil)
	if st != http.StatusOK || decode[certAnswer](t, body).Status != "issued" {
		t.Fatalf("approve: %d %s", st, body)
	}
	st, body = ts.call(t, "GET", path, tc.tokAlice, nil)
	if got := decode[certAnswer](t, body); st != http.StatusOK || got.Status != "issued" || got.Certificate == "" {
		t.Fatalf("after approval: %d %s", st, body)
	}
	st, body = ts.call(t, "POST", path+"/approve", tc.tokAdmin, nil)
	if st != http.StatusConflict || decode[errAnswer](t, body).Code != "conflict" {
		t.Errorf("approve twice: %d %s", st, body)
	}
}

// TestAPIRefusals checks statuses, stable codes, clear messages, and that
// nothing is recorded for a refused request.
func TestAPIRefusals(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{MaxBodyBytes: 64 << 10})
	good := newCSR(t, "web3.contoso.com")
	big := `{"csr": "` + strings.Repeat("A", 70<<10) + `", "template": "WebServer"}`
	cases := []struct {
		name, token string
		body        any
		status      int
		code, msg   string
	}{
		{"no token", "", map[string]string{"csr": good, "template": tmplAuto}, 401, "unauthenticated", "bearer"},
		{"wrong token", "nope", map[string]string{"csr": good, "template": tmplAuto}, 401, "unauthenticated", ""},
		{"malformed JSON", tc.tokAlice, `{"csr": "x", `, 400, "bad_request", "malformed JSON"},
		{"not an object", tc.tokAlice, `["csr"]`, 400, "bad_request", "malformed JSON"},
		{"unknown field", tc.tokAlice, `{"csr": "x", "tempalte": "WebServer"}`, 400, "bad_request", "tempalte"},
		{"trailing data", tc.tokAlice, `{"csr": "x"} {}`, 400, "bad_request", "after the object"},
		{"empty body", tc.tokAlice, ``, 400, "bad_request", "empty"},
		{"missing csr", tc.tokAlice, `{"template": "WebServer"}`, 400, "bad_request", "csr"},
		{"malformed CSR", tc.tokAlice, map[string]string{"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "template": tmplAuto}, 400, "bad_request", ""},
		{"garbage CSR", tc.tokAlice, map[string]string{"csr": "hello", "template": tmplAuto}, 400, "bad_request", ""},
		{"no Enroll permission", tc.tokCarol, map[string]string{"csr": good, "template": tmplAuto}, 403, "forbidden", ""},
		{"unknown template", tc.tokAlice, map[string]string{"csr": good, "template": "NoSuchTemplate"}, 404, "not_found", ""},
		{"oversized body", tc.tokAlice, big, 413, "too_large", "limit"},
	}
	before := tc.written(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body := ts.call(t, "POST", "/api/v1/certificates", c.token, c.body)
			if st != c.status {
				t.Fatalf("status %d, want %d: %s", st, c.status, body)
			}
			e := decode[errAnswer](t, body)
			if e.Code != c.code || e.Message == "" || !strings.Contains(e.Message, c.msg) {
				t.Errorf("error %+v, want code %q and a message with %q", e, c.code, c.msg)
			}
		})
	}
	if after := tc.written(t); after != before {
		t.Errorf("refused requests wrote %d records", after-before)
	}
}

func TestAPIRevocationAndReads(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	_, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "web4.contoso.com"), "template": tmplAuto})
	a := decode[certAnswer](t, body)
	cases := []struct {
		name, token string
		body        any
		status      int
	}{
		{"not an administrator", tc.tokAlice, map[string]string{"serial": a.Serial, "reason": "keyCompromise"}, 403},
		{"bad serial", tc.tokAdmin, map[string]string{"serial": "xyz"}, 400},
		{"unknown serial", tc.tokAdmin, map[string]string{"serial": "0BADBAD0BADBAD", "reason": "superseded"}, 404},
		{"revoke", tc.tokAdmin, map[string]string{"serial": a.Serial, "reason": "keyCompromise"}, 200},
		{"revoke again", tc.tokAdmin, map[string]string{"serial": a.Serial, "reason": "keyCompromise"}, 409},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if st, body := ts.call(t, "POST", "/api/v1/revocations", c.token, c.body); st != c.status {
				t.Fatalf("status %d, want %d: %s", st, c.status, body)
			}
		})
	}
	// The CRL now lists it (the cache was dropped by the revocation).
	st, der := ts.call(t, "GET", "/api/v1/crl", "", nil)
	if st != 200 {
		t.Fatalf("crl: %d", st)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range rl.RevokedCertificateEntries {
		found = found || strings.EqualFold(e.SerialNumber.Text(16), a.Serial)
	}
	if !found {
		t.Errorf("revoked serial %s not on the CRL", a.Serial)
	}
	if err := rl.CheckSignatureFrom(tc.eng.Chain()[0]); err != nil {
		t.Errorf("CRL signature: %v", err)
	}

	t.Run("templates", func(t *testing.T) {
		_, body := ts.call(t, "GET", "/api/v1/templates", tc.tokAlice, nil)
		if !strings.Contains(string(body), tmplAuto) {
			t.Errorf("alice's templates: %s", body)
		}
		_, body = ts.call(t, "GET", "/api/v1/templates", tc.tokCarol, nil)
		if strings.Contains(string(body), tmplAuto) {
			t.Errorf("carol may not enroll but sees: %s", body)
		}
	})
	for _, p := range []string{"/api/v1/ca/certificate", "/api/v1/ca/chain", "/api/v1/crl/delta", "/api/v1/ca/chain?format=pem"} {
		t.Run(p, func(t *testing.T) {
			if st, body := ts.call(t, "GET", p, "", nil); st != 200 || len(body) == 0 {
				t.Errorf("status %d, %d bytes", st, len(body))
			}
		})
	}
	t.Run("chain parses", func(t *testing.T) {
		_, der := ts.call(t, "GET", "/api/v1/ca/chain", "", nil)
		certs, err := parseP7BForTest(der)
		if err != nil || len(certs) != len(tc.eng.Chain()) {
			t.Fatalf("chain: %d certificates, %v", len(certs), err)
		}
	})
}

// TestLoadConcurrentSubmissions sends many submissions at once: every one
// is answered with a certificate and no serial repeats.
func TestLoadConcurrentSubmissions(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	const clients, each = 16, 12
	csrs := make([]string, clients*each)
	for i := range csrs {
		csrs[i] = newCSR(t, fmt.Sprintf("load%d.contoso.com", i))
	}
	var mu sync.Mutex
	serials := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan string, len(csrs))
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": csrs[c*each+i], "template": tmplAuto})
				if st != http.StatusCreated {
					errs <- fmt.Sprintf("status %d: %s", st, body)
					continue
				}
				var a certAnswer
				a = decodeNoT(body)
				mu.Lock()
				if serials[a.Serial] {
					errs <- "serial repeated: " + a.Serial
				}
				serials[a.Serial] = true
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if len(serials) != clients*each {
		t.Errorf("%d distinct serials for %d submissions", len(serials), clients*each)
	}
}

// countingEngine counts token checks that reach the engine.
type countingEngine struct {
	Engine
	mu    sync.Mutex
	calls int
}

func (c *countingEngine) AuthenticateToken(ctx context.Context, tok string) (*ca.Principal, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Engine.AuthenticateToken(ctx, tok)
}

func TestTokenCache(t *testing.T) {
	tc := newTestCA(t)
	now := time.Unix(1e9, 0)
	clock := func() time.Time { return now }
	ce := &countingEngine{Engine: tc.eng}
	cache := newTokenCache(2*time.Second, clock)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		p, err := cache.authenticate(ctx, ce, tc.tokAlice)
		if err != nil || p.Name != "alice" {
			t.Fatalf("alice: %v %v", p, err)
		}
		p.Groups = append(p.Groups, "admins") // a caller's change must not leak
	}
	if ce.calls != 1 {
		t.Errorf("%d engine calls for 3 checks within the TTL", ce.calls)
	}
	if p, _ := cache.authenticate(ctx, ce, tc.tokAlice); len(p.Groups) != 1 {
		t.Errorf("cached groups changed: %v", p.Groups)
	}
	now = now.Add(3 * time.Second)
	cache.authenticate(ctx, ce, tc.tokAlice)
	if ce.calls != 2 {
		t.Errorf("expired entry not checked again: %d calls", ce.calls)
	}
	for i := 0; i < 2; i++ {
		if _, err := cache.authenticate(ctx, ce, "edgecert_wrong"); !errors.Is(err, ca.ErrUnauthenticated) {
			t.Fatalf("wrong token: %v", err)
		}
	}
	if ce.calls != 4 {
		t.Errorf("failures were cached: %d calls", ce.calls)
	}
}

// TestAPIRequestsPaging checks GET /api/v1/requests in pages: limit= and
// before= walk every request once, newest first, "next" is absent on the
// last page, and bad values are refused with 400.
func TestAPIRequestsPaging(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	for i := 0; i < 5; i++ {
		st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, fmt.Sprintf("p%d.contoso.com", i)), "template": tmplApproval})
		if st != http.StatusAccepted {
			t.Fatalf("submit %d: %d %s", i, st, body)
		}
	}
	type page struct {
		Requests []struct {
			ID int64 `json:"request_id"`
		} `json:"requests"`
		Next int64 `json:"next"`
	}
	var ids []int64
	path := "/api/v1/requests?status=pending&limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		st, body := ts.call(t, "GET", path, tc.tokAdmin, nil)
		if st != http.StatusOK {
			t.Fatalf("%s: %d %s", path, st, body)
		}
		p := decode[page](t, body)
		for _, r := range p.Requests {
			ids = append(ids, r.ID)
		}
		if p.Next == 0 {
			break
		}
		path = fmt.Sprintf("/api/v1/requests?status=pending&limit=2&before=%d", p.Next)
	}
	if len(ids) != 5 || !slices.IsSortedFunc(ids, func(a, b int64) int { return cmp.Compare(b, a) }) {
		t.Fatalf("pages gave %v, want 5 ids newest first", ids)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "before=-3", "before=abc"} {
		st, body := ts.call(t, "GET", "/api/v1/requests?"+q, tc.tokAdmin, nil)
		if st != http.StatusBadRequest || decode[errAnswer](t, body).Code != "bad_request" {
			t.Errorf("%s: %d %s", q, st, body)
		}
	}
}
