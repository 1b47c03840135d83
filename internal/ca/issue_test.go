package ca

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"

	"edgecert/internal/db"
)

// TestEveryTemplateIssuesLintCleanCertificates issues under each shipped
// template, on both databases and both key families, and re-lints the
// result with every RFC 5280 lint (warnings included).
func TestEveryTemplateIssuesLintCleanCertificates(t *testing.T) {
	for _, b := range backends() {
		for _, key := range []string{"p256", "rsa2048"} {
			t.Run(b.name+"/"+key, func(t *testing.T) {
				e, _ := newCA(t, b.dsn(t), key)
				ctx := context.Background()
				admin := mustPrincipal(t, e, "admin")
				cases := map[string]csrSpec{
					"WebServer":           {cn: "sip.contoso.com", dns: []string{"sip.contoso.com", "*.contoso.com"}},
					"WebServerClientAuth": {key: rsaKey, cn: "proxy.contoso.com", dns: []string{"proxy.contoso.com"}},
					"SubCA":               {cn: "Contoso Sub CA", org: "Contoso"},
					"OCSPSigning":         {cn: "ocsp.contoso.com", dns: []string{"ocsp.contoso.com"}},
				}
				for name, spec := range cases {
					res, err := e.Submit(ctx, admin, makeCSR(t, spec), name)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if res.Status == StatusPending {
						if res, err = e.Approve(ctx, admin, res.RequestID); err != nil {
							t.Fatalf("%s approve: %v", name, err)
						}
					}
					if res.Status != StatusIssued || res.Certificate == nil {
						t.Fatalf("%s: status %s", name, res.Status)
					}
					checkIssued(t, e, name, res.Certificate)
				}
			})
		}
	}
}

// checkIssued verifies the chain and lints c with all RFC 5280 lints.
func checkIssued(t *testing.T, e *Engine, tmpl string, c *x509.Certificate) {
	t.Helper()
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(e.root)
	inters.AddCert(e.issuer)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("%s: chain does not verify: %v", tmpl, err)
	}
	if c.SerialNumber.BitLen() < 64 || c.SerialNumber.Sign() <= 0 {
		t.Errorf("%s: weak serial %x", tmpl, c.SerialNumber)
	}
	if len(c.SubjectKeyId) == 0 || len(c.AuthorityKeyId) == 0 {
		t.Errorf("%s: SKI/AKI missing", tmpl)
	}
	if len(c.CRLDistributionPoints) != 1 || len(c.IssuingCertificateURL) != 1 || len(c.OCSPServer) != 1 {
		t.Errorf("%s: CDP/AIA/OCSP missing: %v %v %v", tmpl, c.CRLDistributionPoints, c.IssuingCertificateURL, c.OCSPServer)
	}
	zc, err := zx509.ParseCertificate(c.Raw)
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: lint.SourceList{lint.RFC5280}})
	rs := zlint.LintCertificateEx(zc, reg)
	for n, r := range rs.Results {
		if r.Status == lint.Error || r.Status == lint.Fatal || r.Status == lint.Warn {
			t.Errorf("%s: lint %s: %s %s", tmpl, n, r.Status, r.Details)
		}
	}
}

// TestPolicyRefusals has one case per policy decision of a template.
func TestPolicyRefusals(t *testing.T) {
	e, dir := newCA(t, "", "p256")
	ctx := context.Background()
	admin := mustPrincipal(t, e, "admin")
	restricted := []string{"contoso.com", "*.contoso.com"}
	if _, err := SetTemplate(dir, "Restricted", TemplateChange{CopyFrom: "WebServer", AllowedDNS: &restricted}); err != nil {
		t.Fatal(err)
	}
	noWild := false
	_ = noWild
	yes := true
	if _, err := SetTemplate(dir, "PublicWeb", TemplateChange{CopyFrom: "WebServer", PubliclyTrusted: &yes}); err != nil {
		t.Fatal(err)
	}
	small := mustKey(rsaGenerate(1024))
	p521 := mustKey(ecdsaP521())
	cases := []struct {
		name     string
		csr      []byte
		template string
		want     error
	}{
		{"malformed request", []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), "WebServer", ErrBadRequest},
		{"bad signature", tamper(makeCSR(t, csrSpec{cn: "a.contoso.com"})), "WebServer", ErrBadRequest},
		{"no template", makeCSR(t, csrSpec{cn: "a.contoso.com"}), "", ErrBadRequest},
		{"unknown template", makeCSR(t, csrSpec{cn: "a.contoso.com"}), "NoSuch", ErrNotFound},
		{"rsa key too small", makeCSR(t, csrSpec{key: small, cn: "a.contoso.com"}), "WebServer", ErrBadRequest},
		{"curve not allowed", makeCSR(t, csrSpec{key: p521, cn: "a.contoso.com"}), "WebServer", ErrBadRequest},
		{"wildcard CN", makeCSR(t, csrSpec{cn: "*.contoso.com", dns: []string{"*.contoso.com"}}), "WebServer", ErrBadRequest},
		{"wildcard SAN not allowed", makeCSR(t, csrSpec{cn: "a.contoso.com", dns: []string{"*.contoso.com"}}), "OCSPSigning", ErrBadRequest},
		{"name outside allowed domains", makeCSR(t, csrSpec{cn: "www.fabrikam.com"}), "Restricted", ErrBadRequest},
		{"SAN outside allowed domains", makeCSR(t, csrSpec{cn: "a.contoso.com", dns: []string{"a.contoso.com", "evil.example"}}), "Restricted", ErrBadRequest},
		{"invalid DNS name", makeCSR(t, csrSpec{cn: "a.contoso.com", dns: []string{"bad_name.contoso.com"}}), "WebServer", ErrBadRequest},
		{"EKU not granted", makeCSR(t, csrSpec{cn: "a.contoso.com", ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}), "WebServer", ErrBadRequest},
		{"IP SAN not allowed", makeCSR(t, csrSpec{cn: "ocsp.contoso.com", ips: []net.IP{net.ParseIP("10.1.1.1")}}), "OCSPSigning", ErrBadRequest},
		{"no names", makeCSR(t, csrSpec{}), "WebServer", ErrBadRequest},
		{"lint: BR validity for a publicly-trusted template", makeCSR(t, csrSpec{cn: "www.contoso.com"}), "PublicWeb", ErrBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := e.Certificates(ctx, false, 0)
			_, err := e.Submit(ctx, admin, c.csr, c.template)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if strings.HasPrefix(c.name, "lint") && !strings.Contains(err.Error(), "e_server_cert_valid_time_longer_than") {
				t.Fatalf("not refused by the BR validity lint: %v", err)
			}
			after, _ := e.Certificates(ctx, false, 0)
			if len(after) != len(before) {
				t.Fatal("a refused request left a certificate")
			}
		})
	}
	// And the allowed forms pass.
	for _, spec := range []csrSpec{{cn: "contoso.com"}, {cn: "a.b.contoso.com", dns: []string{"*.contoso.com"}}} {
		if _, err := e.Submit(ctx, admin, makeCSR(t, spec), "Restricted"); err != nil {
			t.Errorf("%v: %v", spec.cn, err)
		}
	}
	// The template in the request is used when the caller names none.
	res, err := e.Submit(ctx, admin, makeCSR(t, csrSpec{cn: "c.contoso.com", template: "WebServerClientAuth"}), "")
	if err != nil || res.Template != "WebServerClientAuth" {
		t.Fatalf("template from request: %v %+v", err, res)
	}
	// Refusals are audited.
	log, _ := e.AuditLog(ctx, 0)
	refused := 0
	for _, a := range log {
		if a.Result == "refused" {
			refused++
		}
	}
	if refused < len(cases)-1 {
		t.Errorf("audit log has %d refusals, want at least %d", refused, len(cases)-1)
	}
}

// TestPermissions: no Enroll permission refuses every path; approval,
// denial and revocation are for administrators.
func TestPermissions(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e, dir := newCA(t, b.dsn(t), "p256")
			ctx := context.Background()
			for _, u := range []UserSpec{{Name: "alice", Groups: []string{"RTCUniversalServerAdmins"}}, {Name: "bob"}, {Name: "carol", Admin: true}} {
				if err := e.AddUser(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			alice, bob, admin := mustPrincipal(t, e, "alice"), mustPrincipal(t, e, "bob"), mustPrincipal(t, e, "carol")
			csr := makeCSR(t, csrSpec{cn: "edge.contoso.com", template: "WebServer"})
			// After init nobody but administrators may enroll.
			for _, tmpl := range []string{"WebServer", ""} {
				if _, err := e.Submit(ctx, alice, csr, tmpl); !errors.Is(err, ErrForbidden) {
					t.Fatalf("alice before grant (%q): %v", tmpl, err)
				}
			}
			if ts, _ := e.Templates(ctx, alice); len(ts) != 0 {
				t.Fatalf("alice sees templates %v", ts)
			}
			groups := []string{"RTCUniversalServerAdmins"}
			if _, err := SetTemplate(dir, "WebServer", TemplateChange{Enroll: &groups}); err != nil {
				t.Fatal(err)
			}
			e.loadTemplates(true)
			res, err := e.Submit(ctx, alice, csr, "")
			if err != nil {
				t.Fatalf("alice after grant: %v", err)
			}
			if _, err := e.Submit(ctx, bob, csr, "WebServer"); !errors.Is(err, ErrForbidden) {
				t.Fatalf("bob: %v", err)
			}
			if _, err := e.Submit(ctx, bob, makeCSR(t, csrSpec{cn: "ocsp.contoso.com"}), "OCSPSigning"); !errors.Is(err, ErrForbidden) {
				t.Fatalf("bob OCSPSigning: %v", err)
			}
			if _, err := e.Request(ctx, bob, res.RequestID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("bob sees alice's request: %v", err)
			}
			if _, err := e.Request(ctx, alice, res.RequestID); err != nil {
				t.Fatalf("alice's own request: %v", err)
			}
			if err := e.Revoke(ctx, alice, res.Certificate.SerialNumber, "keyCompromise"); !errors.Is(err, ErrForbidden) {
				t.Fatalf("alice revokes: %v", err)
			}
			// Approval: a requester cannot approve their own request unless an administrator.
			yes := true
			if _, err := SetTemplate(dir, "WebServer", TemplateChange{Approval: &yes}); err != nil {
				t.Fatal(err)
			}
			e.loadTemplates(true)
			pend, err := e.Submit(ctx, alice, csr, "WebServer")
			if err != nil || pend.Status != StatusPending {
				t.Fatalf("pending: %v %+v", err, pend)
			}
			if _, err := e.Approve(ctx, alice, pend.RequestID); !errors.Is(err, ErrForbidden) {
				t.Fatalf("alice approves her own: %v", err)
			}
			if err := e.Deny(ctx, bob, pend.RequestID, "no"); !errors.Is(err, ErrForbidden) {
				t.Fatalf("bob denies: %v", err)
			}
			own, err := e.Submit(ctx, admin, csr, "WebServer")
			if err != nil {
				t.Fatal(err)
			}
			if r, err := e.Approve(ctx, admin, own.RequestID); err != nil || r.Status != StatusIssued {
				t.Fatalf("admin approves own: %v", err)
			}
			if _, err := e.Approve(ctx, admin, pend.RequestID); err != nil {
				t.Fatalf("admin approves alice's: %v", err)
			}
			if _, err := e.Approve(ctx, admin, pend.RequestID); !errors.Is(err, ErrConflict) {
				t.Fatalf("second approval: %v", err)
			}
			third, _ := e.Submit(ctx, alice, csr, "WebServer")
			if err := e.Deny(ctx, admin, third.RequestID, "not needed"); err != nil {
				t.Fatal(err)
			}
			if r, _ := e.Request(ctx, alice, third.RequestID); r.Status != StatusDenied || r.Reason != "not needed" {
				t.Fatalf("denied: %+v", r)
			}
			if _, err := e.Approve(ctx, admin, third.RequestID); !errors.Is(err, ErrConflict) {
				t.Fatalf("approve denied: %v", err)
			}
			if err := e.Revoke(ctx, admin, res.Certificate.SerialNumber, "keyCompromise"); err != nil {
				t.Fatal(err)
			}
			if err := e.Revoke(ctx, admin, res.Certificate.SerialNumber, "keyCompromise"); !errors.Is(err, ErrConflict) {
				t.Fatalf("revoke twice: %v", err)
			}
			if r, _ := e.Request(ctx, alice, res.RequestID); r.Status != StatusRevoked {
				t.Fatalf("status after revoke: %s", r.Status)
			}
			if _, err := e.Submit(ctx, nil, csr, "WebServer"); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("nil principal: %v", err)
			}
		})
	}
}

func TestUsersPasswordsTokens(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e, _ := newCA(t, b.dsn(t), "p256")
			ctx := context.Background()
			if err := e.AddUser(ctx, UserSpec{Name: "dave", Groups: []string{"g1", "g2"}, Password: []byte("pw")}); err != nil {
				t.Fatal(err)
			}
			if err := e.AddUser(ctx, UserSpec{Name: "dave"}); !errors.Is(err, ErrConflict) {
				t.Fatalf("duplicate user: %v", err)
			}
			if err := e.AddUser(ctx, UserSpec{Name: "bad name"}); !errors.Is(err, ErrBadRequest) {
				t.Fatalf("bad name: %v", err)
			}
			p, err := e.Authenticate(ctx, "dave", []byte("pw"))
			if err != nil || p.Name != "dave" || len(p.Groups) != 2 || p.Admin {
				t.Fatalf("authenticate: %v %+v", err, p)
			}
			if _, err := e.Authenticate(ctx, "dave", []byte("wrong")); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("wrong password: %v", err)
			}
			if _, err := e.Authenticate(ctx, "nobody", []byte("pw")); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("unknown user: %v", err)
			}
			tok, err := e.NewToken(ctx, "dave")
			if err != nil {
				t.Fatal(err)
			}
			if p, err := e.AuthenticateToken(ctx, tok); err != nil || p.Name != "dave" {
				t.Fatalf("token: %v", err)
			}
			if _, err := e.AuthenticateToken(ctx, tok+"x"); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("bad token: %v", err)
			}
			if _, err := e.NewToken(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("token for unknown user: %v", err)
			}
			us, _ := e.Users(ctx)
			if len(us) != 2 {
				t.Fatalf("users: %+v", us)
			}
			hash, _ := hashPassword(e.rand, []byte("x"))
			if !checkPassword(hash, []byte("x")) || checkPassword(hash, []byte("y")) || hash[:10] != "$argon2id$" {
				t.Fatalf("hash %s", hash)
			}
		})
	}
}

var _ = time.Now

// TestSubmitAcceptsEveryEncoding: PEM, the Windows NEW CERTIFICATE REQUEST
// header, bare Base64 as certreq writes it, and DER.
func TestSubmitAcceptsEveryEncoding(t *testing.T) {
	e, _ := newCA(t, "", "p256")
	admin := mustPrincipal(t, e, "admin")
	p := makeCSR(t, csrSpec{cn: "enc.contoso.com"})
	blk, _ := pem.Decode(p)
	b64 := base64.StdEncoding.EncodeToString(blk.Bytes)
	forms := map[string][]byte{
		"pem":        p,
		"new header": pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: blk.Bytes}),
		"base64":     []byte(b64[:64] + "\r\n" + b64[64:] + "\r\n"),
		"der":        blk.Bytes,
	}
	for name, data := range forms {
		if res, err := e.Submit(context.Background(), admin, data, "WebServer"); err != nil || res.Status != StatusIssued {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// busyWorkers occupies every worker of e until the returned func is called.
func busyWorkers(t *testing.T, e *Engine) (release func()) {
	t.Helper()
	block := make(chan struct{})
	var started sync.WaitGroup
	for i := 0; i < e.work.n; i++ {
		started.Add(1)
		go e.work.do(context.Background(), func() { started.Done(); <-block })
	}
	started.Wait()
	return func() { close(block) }
}

// TestSubmitWaitsForAWorker checks the workers from Submit's side: while
// every worker is busy a submission waits, gives up with its context and
// leaves nothing behind; a waiting submission goes on as soon as a worker
// frees.
func TestSubmitWaitsForAWorker(t *testing.T) {
	e, _ := newCA(t, "", "p256")
	admin := mustPrincipal(t, e, "admin")
	release := busyWorkers(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.Submit(ctx, admin, makeCSR(t, csrSpec{cn: "late.contoso.com"}), "WebServer"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("busy workers: err = %v, want the context's deadline", err)
	}
	if rs, _, err := e.Requests(context.Background(), admin, "", Page{}); err != nil || len(rs) != 0 {
		t.Fatalf("a submission that never reached a worker left %d requests (%v)", len(rs), err)
	}
	done := make(chan error, 1)
	go func() {
		res, err := e.Submit(context.Background(), admin, makeCSR(t, csrSpec{cn: "next.contoso.com"}), "WebServer")
		if err == nil && res.Status != StatusIssued {
			err = fmt.Errorf("status %s", res.Status)
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("issued while every worker was busy: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPendingCountPastTheListingLimit checks that the pending count (the
// metric and the health check use it) counts every pending request, where
// one page of the listing stops at 1,000, and that the listing pages
// through them all, on both databases.
func TestPendingCountPastTheListingLimit(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e, _ := newCA(t, b.dsn(t), "p256")
			ctx := context.Background()
			const n = 1005
			var wg sync.WaitGroup
			errs := make(chan error, n)
			next := make(chan int, n)
			for i := 0; i < n; i++ {
				next <- i
			}
			close(next)
			for w := 0; w < 32; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						_, err := e.db.InsertPending(ctx, db.Request{Requester: "alice", Template: "WebServer", Subject: fmt.Sprintf("CN=p%d", i), CSR: []byte{0x30}, Submitted: time.Now()},
							db.Audit{Actor: "alice", Action: "submit", Result: "pending"})
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := e.PendingCount(ctx)
			if err != nil || got != n {
				t.Fatalf("PendingCount = %d, %v; want %d", got, err, n)
			}
			// The listing pages through all of them, newest first, without
			// repeating one.
			admin := mustPrincipal(t, e, "admin")
			seen := map[int64]bool{}
			last := int64(1 << 62)
			pages := 0
			for pg := (Page{Limit: 400}); ; pages++ {
				rs, next, err := e.Requests(ctx, admin, StatusPending, pg)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					if seen[r.RequestID] || r.RequestID >= last {
						t.Fatalf("page %d: request %d repeated or out of order", pages, r.RequestID)
					}
					seen[r.RequestID], last = true, r.RequestID
				}
				if next == 0 {
					break
				}
				pg.Before = next
			}
			if len(seen) != n || pages != 2 {
				t.Fatalf("paging listed %d requests in %d pages, want %d in 3", len(seen), pages+1, n)
			}
			if rs, _, _ := e.Requests(ctx, admin, StatusPending, Page{}); len(rs) != MaxPage {
				t.Fatalf("a page without a limit holds %d, want %d", len(rs), MaxPage)
			}
			if _, _, err := e.Requests(ctx, admin, StatusPending, Page{Before: -1}); !errors.Is(err, ErrBadRequest) {
				t.Fatalf("before=-1: err = %v", err)
			}
		})
	}
}
