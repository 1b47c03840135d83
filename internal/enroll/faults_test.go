package enroll

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"edgecert/internal/testtool"
)

// gateProxy forwards TCP connections to a server until paused: then it
// accepts and reads but forwards nothing, as a database that hangs (a
// stuck host, a lost network) looks to its clients.
type gateProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   chan struct{} // closed while forwarding
}

func newGateProxy(t *testing.T, target string) *gateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &gateProxy{ln: ln, target: target, open: make(chan struct{})}
	close(p.open)
	t.Cleanup(func() { p.resume(); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *gateProxy) gate() {
	p.mu.Lock()
	ch := p.open
	p.mu.Unlock()
	<-ch
}

func (p *gateProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

func (p *gateProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *gateProxy) serve(c net.Conn) {
	p.gate()
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.gate()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
			if err != nil {
				c.Close()
				d.Close()
				return
			}
		}
	}
	go pipe(d, c)
	go pipe(c, d)
}

// rawGet fetches a URL and returns the status, the Retry-After header and the body.
func rawGet(t *testing.T, client *http.Client, u, token string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b
}

// TestHungDatabase: PostgreSQL behind a proxy that stops forwarding. Every
// request that needs the database gets 503 with Retry-After within the
// deadline (it used to hang until the write timeout, or get 500); a
// submission whose certificate was handed to the database says it may
// still be recorded, with its serial, and it is found once the database is
// back; the CRLs signed before are served, and OCSP answers a serial
// looked up before with what was known then; /healthz stays 200 and
// /readyz is 503 until the database is back.
func TestHungDatabase(t *testing.T) {
	dsn := testtool.PostgresSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newGateProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	tc := newRealCAKey(t, "p256", u.String())
	ts := startServer(t, tc, Config{HTTPListen: "127.0.0.1:0", DBTimeout: time.Second, TokenCacheTTL: time.Minute})
	issuing := tc.eng.Chain()[0]

	// Before: a certificate, its OCSP status, the CRLs; both tokens checked.
	st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "before.contoso.com"), "template": tmplAuto})
	if st != http.StatusCreated {
		t.Fatalf("submit: %d %s", st, body)
	}
	leaf := parsePEMCert(t, decodeNoT(body).Certificate)
	oreq, err := ocsp.CreateRequest(leaf, issuing, nil)
	if err != nil {
		t.Fatal(err)
	}
	askOCSP := func() *ocsp.Response {
		t.Helper()
		resp, err := http.Post(ts.plain+"/ocsp", "application/ocsp-request", bytes.NewReader(oreq))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r, err := ocsp.ParseResponseForCert(b, leaf, issuing)
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("OCSP: %d %v", resp.StatusCode, err)
		}
		return r
	}
	known := askOCSP()
	full := "/crl/" + tc.eng.FileName() + ".crl"
	delta := "/crl/" + tc.eng.FileName() + "+.crl"
	fullBefore, deltaBefore := fetchCRL(t, ts, full), fetchCRL(t, ts, delta)
	if st, _ := ts.call(t, "GET", "/api/v1/requests", tc.tokAdmin, nil); st != 200 {
		t.Fatalf("requests: %d", st)
	}
	if st, _, b := rawGet(t, ts.client, ts.url+"/readyz", ""); st != 200 {
		t.Fatalf("readyz before: %d %s", st, b)
	}

	proxy.pause()
	quick := func(what string, f func()) {
		t.Helper()
		start := time.Now()
		f()
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("%s took %v with a deadline of 1s", what, d)
		}
	}
	quick("a listing", func() {
		st, ra, b := rawGet(t, ts.client, ts.url+"/api/v1/requests", tc.tokAdmin)
		if st != http.StatusServiceUnavailable || ra == "" || !strings.Contains(string(b), `"unavailable"`) {
			t.Errorf("listing with the database hung: %d Retry-After %q %s", st, ra, b)
		}
	})
	var maybe string
	quick("a submission", func() {
		st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "during.contoso.com"), "template": tmplAuto})
		m := regexp.MustCompile(`may still be recorded: look for serial ([0-9A-F]+)`).FindSubmatch(body)
		if st != http.StatusServiceUnavailable || m == nil {
			t.Fatalf("submission with the database hung: %d %s", st, body)
		}
		maybe = string(m[1])
	})
	quick("the CRLs", func() {
		if got := fetchCRL(t, ts, full); got.Number.Cmp(fullBefore.Number) != 0 {
			t.Errorf("full CRL %v while the database hangs, want the one signed before, %v", got.Number, fullBefore.Number)
		}
		if got := fetchCRL(t, ts, delta); got.Number.Cmp(deltaBefore.Number) != 0 {
			t.Errorf("delta CRL %v while the database hangs, want %v", got.Number, deltaBefore.Number)
		}
	})
	quick("OCSP", func() {
		r := askOCSP()
		if r.Status != ocsp.Good || !r.ThisUpdate.Equal(known.ThisUpdate) || !r.NextUpdate.Equal(known.NextUpdate) {
			t.Errorf("OCSP while the database hangs: status %d thisUpdate %v (known %v)", r.Status, r.ThisUpdate, known.ThisUpdate)
		}
	})
	quick("health", func() {
		if st, _, _ := rawGet(t, ts.client, ts.url+"/healthz", ""); st != 200 {
			t.Errorf("healthz while the database hangs: %d", st)
		}
		if st, ra, b := rawGet(t, ts.client, ts.url+"/readyz", ""); st != http.StatusServiceUnavailable || ra == "" {
			t.Errorf("readyz while the database hangs: %d Retry-After %q %s", st, ra, b)
		}
	})

	proxy.resume()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		st, body := ts.call(t, "GET", "/api/v1/requests", tc.tokAlice, nil)
		if st == 200 && strings.Contains(string(body), `"serial":"`+maybe+`"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the certificate %s that may have been recorded is not among alice's requests: %d %s", maybe, st, body)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if st, _, _ := rawGet(t, ts.client, ts.url+"/readyz", ""); st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readyz stays 503 after the database is back")
		}
	}
}
