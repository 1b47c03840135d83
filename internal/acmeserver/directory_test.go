package acmeserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// templates is a Templates over a map; "Broken" fails.
type templates map[string]Template

func (m templates) ACMETemplate(_ context.Context, name string) (Template, bool, error) {
	if name == "Broken" {
		return Template{}, false, errors.New("reading the template: permission denied")
	}
	t, ok := m[name]
	return t, ok, nil
}

var testTemplates = templates{
	"WebServer": {Name: "WebServer", ExternalAccountRequired: true, TermsOfService: "https://pki.contoso.net/terms", Website: "https://pki.contoso.net/"},
	"Lab":       {Name: "Lab"},
}

func newTestServer(t *testing.T, base string) (*Server, *Nonces) {
	t.Helper()
	c := newClock()
	n := newNonces(t, c)
	s, err := NewServer(Config{BaseURL: base, Nonces: n, Templates: testTemplates})
	if err != nil {
		t.Fatal(err)
	}
	return s, n
}

func TestDirectoryGolden(t *testing.T) {
	s, _ := newTestServer(t, "https://ca.contoso.net:8443")
	for _, name := range []string{"WebServer", "Lab"} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/acme/"+name+"/directory", nil))
			if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("%d %v", w.Code, w.Header())
			}
			golden(t, "directory-"+name+".json", w.Body.Bytes())
		})
	}
}

// TestHandler: the directory and newNonce, and what the handler refuses.
func TestHandler(t *testing.T) {
	for _, base := range []string{"https://ca.test", "https://ca.test/pki/"} {
		s, n := newTestServer(t, base)
		prefix := map[string]string{"https://ca.test": "", "https://ca.test/pki/": "/pki"}[base]
		dir := "https://ca.test" + prefix + "/acme/WebServer/directory"
		for _, tc := range []struct {
			name, method, path string
			status             int
			problem            ErrorType // "" no problem document
			nonce              bool      // a usable Replay-Nonce
			index              bool      // Link rel=index to the directory
		}{
			{"directory", "GET", "/acme/WebServer/directory", 200, "", false, false},
			{"newNonce HEAD", "HEAD", "/acme/WebServer/new-nonce", 200, "", true, true},
			{"newNonce GET", "GET", "/acme/WebServer/new-nonce", 204, "", true, true},
			{"newNonce POST", "POST", "/acme/WebServer/new-nonce", 405, Malformed, false, false},
			{"directory POST", "POST", "/acme/WebServer/directory", 405, Malformed, false, false},
			{"unknown template", "GET", "/acme/Nope/directory", 404, Malformed, false, false},
			{"template name not valid", "GET", "/acme/We%2e%2e/directory", 404, Malformed, false, false},
			{"template lookup fails", "GET", "/acme/Broken/directory", 500, ServerInternal, false, false},
			{"endpoint still to come", "POST", "/acme/WebServer/new-order", 404, Malformed, true, true},
			{"outside /acme", "GET", "/acme/WebServer", 404, Malformed, false, false},
		} {
			t.Run(base+" "+tc.name, func(t *testing.T) {
				w := httptest.NewRecorder()
				s.Handler().ServeHTTP(w, httptest.NewRequest(tc.method, "https://ca.test"+prefix+tc.path, nil))
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
				}
				h := w.Header()
				if tc.problem != "" {
					var doc struct{ Type string }
					if h.Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &doc) != nil || doc.Type != tc.problem.URN() {
						t.Fatalf("problem %q %s, want %s", h.Get("Content-Type"), w.Body, tc.problem)
					}
				}
				if tc.nonce {
					if err := n.Use(h.Get("Replay-Nonce")); err != nil {
						t.Fatalf("Replay-Nonce %q: %v", h.Get("Replay-Nonce"), err)
					}
				}
				if tc.index && h.Get("Link") != "<"+dir+`>;rel="index"` {
					t.Fatalf("Link %q", h.Get("Link"))
				}
				if tc.name == "newNonce HEAD" || tc.name == "newNonce GET" {
					if h.Get("Cache-Control") != "no-store" || w.Body.Len() != 0 {
						t.Fatalf("Cache-Control %q, body %q", h.Get("Cache-Control"), w.Body)
					}
				}
				if tc.status == 405 && h.Get("Allow") == "" {
					t.Fatal("405 without Allow")
				}
				if tc.name == "directory" {
					var d Directory
					if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || d.NewNonce != "https://ca.test"+prefix+"/acme/WebServer/new-nonce" || !d.Meta.ExternalAccountRequired {
						t.Fatalf("directory %+v, %v", d, err)
					}
				}
			})
		}
	}
}

func TestNewServerRefusesBadBase(t *testing.T) {
	n := newNonces(t, newClock())
	for _, base := range []string{"", "ca.test", "ftp://ca.test", "https://", "https://ca.test/?x=1", "https://u:p@ca.test"} {
		if _, err := NewServer(Config{BaseURL: base, Nonces: n, Templates: testTemplates}); err == nil {
			t.Errorf("base %q accepted", base)
		}
	}
}

// TestDirectoryOverHTTP: the same through a real listener, as a client
// sees it.
func TestDirectoryOverHTTP(t *testing.T) {
	var s *Server
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.Handler().ServeHTTP(w, r) }))
	defer ts.Close()
	s, n := newTestServer(t, ts.URL)
	resp, err := ts.Client().Get(ts.URL + "/acme/WebServer/directory")
	if err != nil {
		t.Fatal(err)
	}
	var d Directory
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&d)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp, err = ts.Client().Head(d.NewNonce)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || n.Use(resp.Header.Get("Replay-Nonce")) != nil {
		t.Fatalf("newNonce: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestRequestURL: the url a JWS must carry comes from the configured base,
// whatever Host the request names.
func TestRequestURL(t *testing.T) {
	s, _ := newTestServer(t, "https://ca.contoso.net:8443/pki")
	r := httptest.NewRequest(http.MethodPost, "https://evil.test/pki/acme/WebServer/account/12", nil)
	if got, want := s.RequestURL(r), "https://ca.contoso.net:8443/pki/acme/WebServer/account/12"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	if got := s.URL("WebServer", EndpointNewOrder); got != "https://ca.contoso.net:8443/pki/acme/WebServer/new-order" {
		t.Fatal(got)
	}
}
