package acmeserver

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs:\n got: %s\nwant: %s", name, got, want)
	}
}

// TestWriteProblem: the documents, statuses and headers of problems.
func TestWriteProblem(t *testing.T) {
	rateLimited := NewProblem(RateLimited, "too many new orders for this account")
	rateLimited.RetryAfter = 30
	badAlg := NewProblem(BadSignatureAlgorithm, "JWS alg %q is not accepted", "none")
	badAlg.Algorithms = Algorithms
	for _, tc := range []struct {
		name   string
		err    error
		status int
		header map[string]string
	}{
		{"badNonce", NewProblem(BadNonce, "the nonce was already used"), 400, nil},
		{"unauthorized", NewProblem(Unauthorized, "the JWS url header is not the URL requested"), 403, nil},
		{"badSignatureAlgorithm", badAlg, 400, nil},
		{"accountDoesNotExist", NewProblem(AccountDoesNotExist, "no account"), 400, nil},
		{"externalAccountRequired", NewProblem(ExternalAccountRequired, "bind the account"), 400, nil},
		{"rateLimited", rateLimited, 429, map[string]string{"Retry-After": "30"}},
		{"rejectedIdentifier", RejectedIdentifiers([]Subproblem{
			{Type: RejectedIdentifier, Detail: "not in the template's allowed names", Identifier: Identifier{"dns", "www.example.com"}},
			{Type: RejectedIdentifier, Detail: "wildcards are not allowed by this template", Identifier: Identifier{"dns", "*.contoso.net"}},
		}), 400, nil},
		{"serverInternal-hides-cause", fmt.Errorf("db: %w", errors.New("disk full at /var/lib/secret")), 500, nil},
		{"status-override", func() error { p := NewProblem(Malformed, "too large"); p.Status = 413; return p }(), 413, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			n := newNonces(t, c)
			w := httptest.NewRecorder()
			WriteProblem(w, tc.err, n, "https://ca.test/acme/WebServer/directory")
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			h := w.Header()
			if h.Get("Content-Type") != "application/problem+json" || h.Get("Link") != `<https://ca.test/acme/WebServer/directory>;rel="index"` {
				t.Fatalf("headers %v", h)
			}
			if err := n.Use(h.Get("Replay-Nonce")); err != nil {
				t.Fatalf("Replay-Nonce: %v", err)
			}
			for k, v := range tc.header {
				if h.Get(k) != v {
					t.Fatalf("%s: %q, want %q", k, h.Get(k), v)
				}
			}
			var doc struct {
				Status int `json:"status"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Status != tc.status {
				t.Fatalf("body status %d, %v", doc.Status, err)
			}
			golden(t, "problem-"+tc.name+".json", w.Body.Bytes())
		})
	}
}

func TestProblemFromKeepsCause(t *testing.T) {
	cause := errors.New("database closed")
	p := ProblemFrom(fmt.Errorf("looking up: %w", cause))
	if p.Type != ServerInternal || !errors.Is(p, cause) || p.HTTPStatus() != http.StatusInternalServerError {
		t.Fatalf("%+v", p)
	}
	wrapped := fmt.Errorf("handler: %w", NewProblem(BadNonce, "x"))
	if ProblemFrom(wrapped).Type != BadNonce {
		t.Fatal("a wrapped problem is not found")
	}
}
