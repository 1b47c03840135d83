package acmeserver

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
)

// legoServer is the directory and newNonce of Server behind a real TLS
// listener, plus, for this test only, a newAccount and an account resource
// built on Verifier and VerifyEAB, so that lego's own JWS and External
// Account Binding (go-jose) go through this package's checks.
type legoServer struct {
	t          *testing.T
	ts         *httptest.Server
	s          *Server
	v          *Verifier
	eab        eabKeys
	mu         sync.Mutex
	accounts   accounts
	badNonceOn atomic.Int32 // refuse this many requests with badNonce first
	badNonces  atomic.Int32
}

func newLegoServer(t *testing.T) *legoServer {
	ls := &legoServer{t: t, accounts: accounts{}, eab: eabKeys{"kid-7": []byte("an HMAC key of 32 bytes, for EAB")}}
	mux := http.NewServeMux()
	ls.ts = httptest.NewTLSServer(mux)
	t.Cleanup(ls.ts.Close)
	c := newClock()
	nonces, err := NewNonces(testSecret, NonceOptions{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	ls.s, err = NewServer(Config{BaseURL: ls.ts.URL, Nonces: nonces, Templates: testTemplates})
	if err != nil {
		t.Fatal(err)
	}
	ls.v = &Verifier{Nonces: nonces, Accounts: ls}
	mux.Handle("/", ls.s.Handler())
	mux.HandleFunc("POST /acme/WebServer/new-account", ls.newAccount)
	mux.HandleFunc("POST /acme/WebServer/account/{id}", ls.account)
	mux.HandleFunc("POST /acme/WebServer/key-change", ls.keyChange)
	return ls
}

func (ls *legoServer) AccountKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.accounts.AccountKey(ctx, kid)
}

func (ls *legoServer) refuseNonce(w http.ResponseWriter) bool {
	if ls.badNonceOn.Add(-1) >= 0 {
		ls.badNonces.Add(1)
		WriteProblem(w, NewProblem(BadNonce, "test: refused once"), ls.s.nonces, "")
		return true
	}
	return false
}

func (ls *legoServer) newAccount(w http.ResponseWriter, r *http.Request) {
	url := ls.s.URL("WebServer", EndpointNewAccount)
	if ls.refuseNonce(w) {
		return
	}
	req, err := ls.v.Verify(r, url, JWKRequired)
	if err != nil {
		WriteProblem(w, err, ls.s.nonces, "")
		return
	}
	var na NewAccount
	if err := req.DecodePayload(&na); err != nil {
		WriteProblem(w, err, ls.s.nonces, "")
		return
	}
	if _, err := VerifyEAB(r.Context(), ls.eab, na.ExternalAccountBinding, req.Key, url); err != nil {
		WriteProblem(w, err, ls.s.nonces, "")
		return
	}
	loc := ls.ts.URL + "/acme/WebServer/account/1"
	ls.mu.Lock()
	ls.accounts[loc] = req.Key
	ls.mu.Unlock()
	ls.answer(w, loc, http.StatusCreated, na.Contact)
}

func (ls *legoServer) account(w http.ResponseWriter, r *http.Request) {
	req, err := ls.v.Verify(r, ls.s.RequestURL(r), KIDRequired)
	if err != nil {
		WriteProblem(w, err, ls.s.nonces, "")
		return
	}
	if !req.PostAsGet() {
		WriteProblem(w, NewProblem(Malformed, "test: only POST-as-GET"), ls.s.nonces, "")
		return
	}
	ls.answer(w, req.KID, http.StatusOK, nil)
}

func (ls *legoServer) keyChange(w http.ResponseWriter, r *http.Request) {
	req, err := ls.v.Verify(r, ls.s.URL("WebServer", EndpointKeyChange), KIDRequired)
	if err != nil {
		WriteProblem(w, err, ls.s.nonces, "")
		return
	}
	newKey, err := VerifyKeyChange(req)
	if err != nil {
		WriteProblem(w, err, ls.s.nonces, "")
		return
	}
	ls.mu.Lock()
	ls.accounts[req.KID] = newKey
	ls.mu.Unlock()
	ls.answer(w, req.KID, http.StatusOK, nil)
}

func (ls *legoServer) answer(w http.ResponseWriter, loc string, status int, contact []string) {
	n, _ := ls.s.nonces.New()
	w.Header().Set("Replay-Nonce", n)
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "valid", "contact": contact})
}

// TestLego: lego's ACME client library reads the directory, takes nonces,
// creates an account with an External Account Binding (RS256, ES256 and
// ES384 keys: lego has no Ed25519 account keys), retries a badNonce with the
// fresh nonce, fetches the account by kid with POST-as-GET, rolls the
// account key over (keyChange), and reads the problems of refused bindings
// and of the old key.
func TestLego(t *testing.T) {
	keys := testKeys()
	for _, alg := range []string{"RS256", "ES256", "ES384"} {
		t.Run(alg, func(t *testing.T) {
			ls := newLegoServer(t)
			dirURL := ls.ts.URL + "/acme/WebServer/directory"
			core, err := api.New(ls.ts.Client(), "edgecert-test", dirURL, "", keys[alg])
			if err != nil {
				t.Fatal(err)
			}
			d := core.GetDirectory()
			if d.NewAccountURL != ls.s.URL("WebServer", EndpointNewAccount) || !d.Meta.ExternalAccountRequired || d.RenewalInfo == "" {
				t.Fatalf("directory as lego reads it: %+v", d)
			}
			ctx := context.Background()
			hmacB64 := base64.RawURLEncoding.EncodeToString(ls.eab["kid-7"])

			// Without a binding, and with a wrong key: the RFC's problems.
			_, err = core.Accounts.New(ctx, acme.Account{TermsOfServiceAgreed: true})
			wantProblem(t, err, ExternalAccountRequired)
			_, err = core.Accounts.NewEAB(ctx, acme.Account{TermsOfServiceAgreed: true}, "kid-7", base64.RawURLEncoding.EncodeToString([]byte("another HMAC key of 32 bytes....")))
			wantProblem(t, err, Unauthorized)
			_, err = core.Accounts.NewEAB(ctx, acme.Account{TermsOfServiceAgreed: true}, "kid-8", hmacB64)
			wantProblem(t, err, Unauthorized)

			// The binding, after a badNonce that lego retries.
			ls.badNonceOn.Store(1)
			acct, err := core.Accounts.NewEAB(ctx, acme.Account{TermsOfServiceAgreed: true, Contact: []string{"mailto:pki@contoso.net"}}, "kid-7", hmacB64)
			if err != nil {
				t.Fatal(err)
			}
			if ls.badNonces.Load() != 1 || acct.Location != ls.ts.URL+"/acme/WebServer/account/1" || acct.Status != "valid" {
				t.Fatalf("account %+v after %d badNonce", acct, ls.badNonces.Load())
			}
			// lego now signs with kid; POST-as-GET.
			got, err := core.Accounts.Get(ctx, acct.Location)
			if err != nil || got.Status != "valid" {
				t.Fatalf("account by kid: %+v, %v", got, err)
			}

			// Key rollover to another key type; lego then signs with the new
			// key, and the old one no longer verifies.
			next := keys["ES256"]
			if alg == "ES256" {
				next = keys["ES384"]
			}
			if err := core.Accounts.KeyChange(ctx, next); err != nil {
				t.Fatalf("keyChange: %v", err)
			}
			ls.mu.Lock()
			now := ls.accounts[acct.Location]
			ls.mu.Unlock()
			if now == nil || !sameKey(now, next.Public()) {
				t.Fatal("the account's key did not change")
			}
			if _, err := core.Accounts.Get(ctx, acct.Location); err != nil {
				t.Fatalf("account by kid with the new key: %v", err)
			}
			old, err := api.New(ls.ts.Client(), "edgecert-test", dirURL, acct.Location, keys[alg])
			if err != nil {
				t.Fatal(err)
			}
			_, err = old.Accounts.Get(ctx, acct.Location)
			wantProblem(t, err, BadSignatureAlgorithm) // the old key is of another type than the new
		})
	}
}

func wantProblem(t *testing.T, err error, want ErrorType) {
	t.Helper()
	var p *acme.ProblemDetails
	if !errors.As(err, &p) {
		t.Fatalf("error %v (%T), want a %s problem", err, err, want)
	}
	if p.Type != want.URN() {
		t.Fatalf("problem %s (%s), want %s", p.Type, p.Detail, want)
	}
}
