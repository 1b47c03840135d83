package enroll

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"edgecert/internal/ca"
)

// page gets a page with the test server's session.
func (ts *testServer) page(t *testing.T, path string) string {
	t.Helper()
	resp, err := ts.client.Get(ts.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return string(b)
}

// TestRequestPageTemplates: the request page chooses no template
// beforehand (it started on OCSP Response Signing); CA and OCSP signing
// templates are offered to administrators only, apart, and need a
// confirmation; anyone else is refused them on the page.
func TestRequestPageTemplates(t *testing.T) {
	tc := newTestCA(t)
	groups := []string{"webadmins"}
	if _, err := ca.SetTemplate(tc.dir, "OCSPSigning", ca.TemplateChange{Enroll: &groups}); err != nil {
		t.Fatal(err)
	}
	alice := &ca.Principal{Name: "alice", Groups: groups}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) { // the engine reloads templates
		ts, err := tc.eng.Templates(context.Background(), alice)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(ts, func(i ca.TemplateInfo) bool { return i.Name == "OCSPSigning" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the grant on OCSPSigning never took effect")
		}
	}
	ts := startServer(t, tc, Config{})

	csrf := ts.signIn(t, "alice", tc.passAlice)
	body := ts.page(t, "/certsrv/request")
	if strings.Contains(body, `value="OCSPSigning"`) || !strings.Contains(body, `value="`+tmplAuto+`"`) {
		t.Errorf("alice's request page: OCSP signing offered, or her template missing")
	}
	before := tc.written(t)
	if st, body, _ := ts.postForm(t, "/certsrv/request", url.Values{"csr": {newCSR(t, "o.contoso.com")}, "template": {"OCSPSigning"}, "csrf": {csrf}, "confirm_special": {"yes"}}); st != http.StatusForbidden || !strings.Contains(body, "is not offered here") {
		t.Errorf("alice posting OCSP signing: %d %s", st, body)
	}

	ts = ts.another(t, tc)
	csrf = ts.signIn(t, "admin", tc.passAdmin)
	body = ts.page(t, "/certsrv/request")
	sel := regexp.MustCompile(`(?s)<select id="template".*?</select>`).FindString(body)
	first := regexp.MustCompile(`<option value="([^"]*)"`).FindStringSubmatch(sel)
	if first == nil || first[1] != "" || !strings.Contains(sel, `<option value="" selected>`) {
		t.Errorf("the template list does not start on an empty choice: %s", sel)
	}
	group := regexp.MustCompile(`(?s)<optgroup.*?</optgroup>`).FindString(sel)
	for _, n := range []string{"OCSPSigning", "SubCA"} {
		if !strings.Contains(group, `value="`+n+`"`) {
			t.Errorf("%s is not apart in the special group: %s", n, sel)
		}
	}
	if strings.Contains(group, `value="`+tmplAuto+`"`) || strings.Contains(sel, `selected>OCSP`) {
		t.Errorf("ordinary template in the special group, or OCSP signing chosen: %s", sel)
	}
	if st, body, _ := ts.postForm(t, "/certsrv/request", url.Values{"csr": {newCSR(t, "o.contoso.com")}, "template": {"OCSPSigning"}, "csrf": {csrf}}); st != http.StatusBadRequest || !strings.Contains(body, "tick the confirmation") {
		t.Errorf("admin posting OCSP signing without confirmation: %d", st)
	}
	if st, body, _ := ts.postForm(t, "/certsrv/request", url.Values{"csr": {newCSR(t, "o.contoso.com")}, "template": {""}, "csrf": {csrf}}); st != http.StatusBadRequest || !strings.Contains(body, "Choose a certificate template") {
		t.Errorf("posting no template: %d", st)
	}
	if n := tc.written(t); n != before {
		t.Fatalf("refused requests recorded: %d -> %d", before, n)
	}
	if st, _, h := ts.postForm(t, "/certsrv/request", url.Values{"csr": {newCSR(t, "o.contoso.com")}, "template": {"OCSPSigning"}, "csrf": {csrf}, "confirm_special": {"yes"}}); st != http.StatusSeeOther {
		t.Errorf("admin posting OCSP signing, confirmed: %d %v", st, h)
	}
}

// TestRequestsPageTellsTheTruth: a revoked certificate is listed REVOKED
// with no Revoke button in every list, the Revoked filter finds matches
// older than a page, a pending request shows every name and the key,
// dates are ISO 8601 with their zone, and deny and revoke need a
// confirmation.
func TestRequestsPageTellsTheTruth(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	ctx := context.Background()
	submit := func(cn, tmpl string) certAnswer {
		st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, cn), "template": tmpl})
		if st != http.StatusCreated && st != http.StatusAccepted {
			t.Fatalf("submit: %d %s", st, body)
		}
		return decodeNoT(body)
	}
	revoked := submit("old.contoso.com", tmplAuto)
	serial, _ := new(big.Int).SetString(revoked.Serial, 16)
	if err := tc.eng.Revoke(ctx, ca.Operator(), serial, "superseded"); err != nil {
		t.Fatal(err)
	}
	for range pendingPageSize + 1 { // the revoked one is older than a page
		submit("new.contoso.com", tmplAuto)
	}
	pending := submit("wait.contoso.com", tmplApproval)
	csrf := ts.signIn(t, "admin", tc.passAdmin)

	row := func(body string, id int64) string {
		return regexp.MustCompile(`(?s)<tr id="req-` + itoa(id) + `">.*?</tr>`).FindString(body)
	}
	for _, path := range []string{"/certsrv/pending?status=revoked", "/certsrv/pending?before=" + itoa(revoked.RequestID+1)} {
		r := row(ts.page(t, path), revoked.RequestID)
		if !strings.Contains(r, `class="status revoked"`) || strings.Contains(r, "Revoke</button>") {
			t.Errorf("%s: the revoked certificate's row: %q", path, r)
		}
	}
	first := ts.page(t, "/certsrv/pending")
	if !strings.Contains(first, `id="older"`) {
		t.Error("no link to older requests on a full page")
	}
	if r := row(ts.page(t, "/certsrv/pending?status=revoked"), revoked.RequestID); r == "" {
		t.Error("the Revoked filter does not find a revocation older than the first page")
	}
	if body := ts.page(t, "/certsrv/pending?status=revoked"); strings.Contains(body, `id="older"`) {
		t.Error("an older link with no more matches")
	}
	if body := ts.page(t, "/certsrv/pending?status=issued"); row(body, revoked.RequestID) != "" {
		t.Error("the revoked certificate is in the Issued list")
	}
	r := row(first, pending.RequestID)
	if !strings.Contains(r, "<code>wait.contoso.com</code>") || !strings.Contains(r, "ECDSA P-256") || !strings.Contains(r, "alice") || !strings.Contains(r, tmplApproval) {
		t.Errorf("the pending row does not show its names, key, requester and template: %q", r)
	}
	if !regexp.MustCompile(`<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">\d{4}-\d\d-\d\dT\d\d:\d\dZ</time>`).MatchString(r) {
		t.Errorf("the date is not ISO 8601 with its zone: %q", r)
	}
	status := ts.page(t, "/certsrv/requests/"+itoa(pending.RequestID))
	if !strings.Contains(status, `<dd id="sans"><code>wait.contoso.com</code>`) || !strings.Contains(status, `<dd id="key">ECDSA P-256</dd>`) {
		t.Errorf("the request page does not show the names and key")
	}

	// The API says the same.
	if st, body := ts.call(t, "GET", "/api/v1/requests/"+itoa(pending.RequestID), tc.tokAdmin, nil); st != 200 ||
		(!strings.Contains(string(body), `"sans":["wait.contoso.com"]`) || !strings.Contains(string(body), `"key":"ECDSA P-256"`)) {
		t.Errorf("API request: %d %s", st, body)
	}
	st, body := ts.call(t, "GET", "/api/v1/requests?status=revoked&limit=1", tc.tokAdmin, nil)
	if st != 200 || !strings.Contains(string(body), `"status":"revoked"`) || strings.Contains(string(body), `"next"`) {
		t.Errorf("API revoked listing (one match, limit 1): %d %s", st, body)
	}
	st, body = ts.call(t, "GET", "/api/v1/requests?status=issued&limit=100", tc.tokAdmin, nil)
	if st != 200 || strings.Contains(string(body), `"request_id":`+itoa(revoked.RequestID)+`,`) || !strings.Contains(string(body), `"next"`) {
		t.Errorf("API issued listing: %d, the revoked one listed or no next", st)
	}

	// Deny and revoke need their confirmation.
	if st, _, _ := ts.postForm(t, "/certsrv/requests/"+itoa(pending.RequestID)+"/deny", url.Values{"csrf": {csrf}}); st != http.StatusBadRequest {
		t.Errorf("deny without confirmation: %d", st)
	}
	issued := submit("keep.contoso.com", tmplAuto)
	if st, _, _ := ts.postForm(t, "/certsrv/revoke", url.Values{"csrf": {csrf}, "serial": {issued.Serial}}); st != http.StatusBadRequest {
		t.Errorf("revoke without confirmation: %d", st)
	}
	for id, want := range map[int64]ca.Status{pending.RequestID: ca.StatusPending, issued.RequestID: ca.StatusIssued} {
		if res, err := tc.eng.Request(ctx, ca.Operator(), id); err != nil || res.Status != want {
			t.Errorf("request %d after an unconfirmed action: %v %v", id, res.Status, err)
		}
	}
	if st, _, _ := ts.postForm(t, "/certsrv/revoke", url.Values{"csrf": {csrf}, "serial": {issued.Serial}, "confirm": {"yes"}}); st != http.StatusSeeOther {
		t.Errorf("revoke, confirmed: %d", st)
	}
}

// another is a second browser on the same server (its own cookies).
func (ts *testServer) another(t *testing.T, tc *testCA) *testServer {
	o := *ts
	o.client = tc.client(t)
	return &o
}

func itoa(n int64) string { return big.NewInt(n).String() }

// newCSRNames returns a PEM request for cn with the DNS names dns.
func newCSRNames(t testing.TB, cn string, dns []string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}
