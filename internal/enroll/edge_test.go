package enroll

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestWrongMethodGets405: a path served with other methods answers 405
// with Allow, on both listeners; an unknown path stays 404.
func TestWrongMethodGets405(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{HTTPListen: "127.0.0.1:0"})
	for _, c := range []struct {
		name, method, url string
		status            int
		allow             string
	}{
		{"API listing posted", "POST", ts.url + "/api/v1/templates", 405, "GET, HEAD"},
		{"API request deleted", "DELETE", ts.url + "/api/v1/requests/1", 405, "GET, HEAD"},
		{"submission read", "GET", ts.url + "/api/v1/certificates", 405, "POST"},
		{"sign-in put", "PUT", ts.url + "/certsrv/signin", 405, "GET, HEAD, POST"},
		{"health posted", "POST", ts.url + "/healthz", 405, "GET, HEAD"},
		{"static posted", "POST", ts.url + "/static/style.css", 405, "GET, HEAD"},
		{"CRL posted over plain HTTP", "POST", ts.plain + "/crl/x.crl", 405, "GET, HEAD"},
		{"unknown API path", "GET", ts.url + "/api/v1/nothing", 404, ""},
		{"unknown page", "POST", ts.url + "/certsrv/nothing", 404, ""},
		{"unknown plain path", "GET", ts.plain + "/certsrv/", 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, c.url, nil)
			req.Header.Set("Authorization", "Bearer "+tc.tokAlice)
			resp, err := ts.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow {
				t.Fatalf("status %d, Allow %q; want %d, %q: %s", resp.StatusCode, resp.Header.Get("Allow"), c.status, c.allow, b)
			}
		})
	}
}

// TestStaticFolderNotListed: /static/ serves its files, never a listing.
func TestStaticFolderNotListed(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	for path, want := range map[string]int{"/static/": 404, "/static/style.css": 200, "/static/nothing/": 404} {
		resp, err := ts.client.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 404 && strings.Contains(string(b), `href="style.css"`)) {
			t.Errorf("%s: status %d, want %d: %.200s", path, resp.StatusCode, want, b)
		}
	}
}

// TestRevocationEdges: a serial over 20 octets is a 400 naming the limit,
// not a server fault; certificateHold is not offered and is refused.
func TestRevocationEdges(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	_, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "r.contoso.com"), "template": tmplAuto})
	serial := decodeNoT(body).Serial
	for _, c := range []struct {
		name, serial, reason string
		status               int
		says                 string
	}{
		{"21 octets", "01" + strings.Repeat("FF", 20), "superseded", 400, "a serial is at most 20 octets"},
		{"1000 octets", strings.Repeat("7F", 1000), "superseded", 400, "a serial is at most 20 octets"},
		{"20 octets, unknown", strings.Repeat("7F", 20), "superseded", 404, "no certificate with serial"},
		{"certificateHold", serial, "certificateHold", 400, "certificateHold is not offered"},
		{"removeFromCRL", serial, "removeFromCRL", 400, "removeFromCRL is not offered"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, b := ts.call(t, "POST", "/api/v1/revocations", tc.tokAdmin, map[string]string{"serial": c.serial, "reason": c.reason})
			if st != c.status || !strings.Contains(string(b), c.says) {
				t.Fatalf("status %d: %s", st, b)
			}
		})
	}
	ts.signIn(t, "admin", tc.passAdmin)
	resp, err := ts.client.Get(ts.url + "/certsrv/pending?status=issued")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "keyCompromise") || strings.Contains(string(page), "certificateHold") {
		t.Errorf("the revoke form's reasons: keyCompromise offered %v, certificateHold offered %v",
			strings.Contains(string(page), "keyCompromise"), strings.Contains(string(page), "certificateHold"))
	}
}

// TestJSONErrorsNameNoGoTypes: a body of the wrong shape is described in
// JSON's words.
func TestJSONErrorsNameNoGoTypes(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	for body, want := range map[string]string{
		`"a string"`:           "the body must be a JSON object",
		`[1, 2]`:               "the body must be a JSON object",
		`{"csr": 5}`:           `field \"csr\" must be a string`,
		`{"csr": {"a": 1}}`:    `field \"csr\" must be a string`,
		`{"template": [true]}`: `field \"template\" must be a string`,
	} {
		st, b := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, body)
		if st != 400 || !strings.Contains(string(b), want) || strings.Contains(string(b), "Go ") || strings.Contains(string(b), "enroll.") {
			t.Errorf("%s: %d %s", body, st, b)
		}
	}
}

// TestClientGoneIsNoServerError: a request whose client gave up is not
// logged as an error nor counted as a 500.
func TestClientGoneIsNoServerError(t *testing.T) {
	tc := newTestCA(t)
	var logs bytes.Buffer
	s, err := New(tc.eng, Config{}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct{ method, path, body, token string }{
		{"POST", "/api/v1/certificates", `{"csr": "x", "template": "WebServer"}`, tc.tokAlice},
		{"GET", "/api/v1/requests", "", tc.tokBob},
		{"POST", "/certsrv/signin", url.Values{"user": {"alice"}, "password": {"x"}}.Encode(), ""},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)).WithContext(ctx)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Errorf("%s %s: status %d", c.method, c.path, rec.Code)
		}
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a client that went away was logged as an error:\n%s", logs.String())
	}
}
