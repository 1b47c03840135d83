package acme_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgecert/internal/acme"
	"edgecert/internal/testtool"
	"edgecert/internal/topology"
)

// rateLimitingProxy stands between the client and pebble, sends every URL
// through itself, and answers the first new-order request with HTTP 429,
// a rateLimited problem and Retry-After: 1, as a public CA under load does.
func rateLimitingProxy(t *testing.T, p *testtool.Pebble) (url, caFile string, limited *atomic.Int64, retriedAfter *atomic.Int64) {
	t.Helper()
	caPEM, err := os.ReadFile(p.DirectoryCA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	upstream := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	origin := strings.TrimSuffix(p.Directory, "/dir")
	limited, retriedAfter = &atomic.Int64{}, &atomic.Int64{}
	var refusedAt atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "order-plz") && r.Method == http.MethodPost {
			if limited.Add(1) == 1 {
				refusedAt.Store(time.Now().UnixNano())
				w.Header().Set("Content-Type", "application/problem+json")
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many new orders","status":429}`))
				return
			}
			retriedAfter.Store(time.Now().UnixNano() - refusedAt.Load())
		}
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, origin+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		req.Host = r.Host // pebble checks the JWS url against the host it was asked for
		resp, err := upstream.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		out = bytes.ReplaceAll(out, []byte(origin), []byte(srv.URL))
		for k, vs := range resp.Header {
			if k == "Content-Length" {
				continue
			}
			for _, v := range vs {
				w.Header().Add(k, strings.ReplaceAll(v, origin, srv.URL))
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "proxy-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL + "/dir", caFile, limited, retriedAfter
}

// A rate-limited new order is retried after the CA's Retry-After, and the
// certificate is issued.
func TestObtainRetriesRateLimit(t *testing.T) {
	e := newEnv(t)
	url, caFile, limited, retriedAfter := rateLimitingProxy(t, e.pebble)
	cfg := e.config(e.dns.SecretFile)
	cfg.Directory, cfg.DirectoryCA = url, caFile
	c := open(t, cfg, t.TempDir())
	if _, err := c.Obtain(context.Background(), "cert/limited", request(t, "sip.contoso.test"), nil); err != nil {
		t.Fatalf("Obtain after a 429: %v", err)
	}
	if limited.Load() < 2 {
		t.Fatalf("the new order was not retried (%d requests)", limited.Load())
	}
	if d := time.Duration(retriedAfter.Load()); d < time.Second {
		t.Errorf("retried after %s, before the CA's Retry-After of 1s", d)
	}
}

// A CA that requires External Account Binding accepts the account with the
// configured key id and HMAC file, and refuses it without, in its words.
func TestExternalAccountBinding(t *testing.T) {
	const kid, hmac = "kid-contoso", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	p := testtool.StartPebble(t, testtool.PebbleOptions{EAB: map[string]string{kid: hmac}})
	cfg := &topology.ACME{Directory: p.Directory, DirectoryCA: p.DirectoryCA, AcceptTOS: true}
	_, err := acme.Open(context.Background(), acme.Options{Config: cfg, Dir: t.TempDir(), Passphrase: []byte("p"), Rand: rand.Reader})
	if err == nil || !strings.Contains(err.Error(), "urn:ietf:params:acme:error:externalAccountRequired") {
		t.Fatalf("without EAB: %v, want the CA's externalAccountRequired", err)
	}
	hmacFile := filepath.Join(t.TempDir(), "eab.key")
	if err := os.WriteFile(hmacFile, []byte(hmac+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.EAB = &topology.EAB{KID: kid, HMACFile: hmacFile}
	dir := t.TempDir()
	if _, err := acme.Open(context.Background(), acme.Options{Config: cfg, Dir: dir, Passphrase: []byte("p"), Rand: rand.Reader}); err != nil {
		t.Fatalf("with EAB: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "account.json")); err != nil || !bytes.Contains(b, []byte("my-account")) {
		t.Errorf("account not recorded: %s %v", b, err)
	}
}
