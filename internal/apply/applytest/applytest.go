// Package applytest is for tests only: it builds a workspace for a topology
// and carries out the whole procedure on it with a real CA (the product's
// internal CA engine, or a stand-in CA whose issuance a test can bend) and a
// stand-in public CA, with the CRLs published on a loopback HTTP server.
package applytest

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgecert/examples"
	"edgecert/internal/apply"
	"edgecert/internal/apply/standinca"
	"edgecert/internal/ca"
	"edgecert/internal/plan"
	"edgecert/internal/store"
	"edgecert/internal/topology"
)

// Env is a test deployment.
type Env struct {
	Dir       string
	Topology  string // path of the topology file
	Topo      *topology.Topology
	Plan      *plan.Plan
	Workspace *apply.Workspace
	Issuer    apply.Issuer
	Engine    *ca.Engine // nil with a stand-in internal CA
	Internal  *StandIn   // the stand-in internal CA, when used
	Public    *standinca.CA
	CRL       *httptest.Server
	// PublicBend, when set, changes how the stand-in public CA signs.
	PublicBend func(o *standinca.SignOptions)
}

// Options configure New.
type Options struct {
	// EngineCA uses the product's CA engine as the internal CA; otherwise a
	// stand-in CA (fast, and its issuance can be bent with Bend).
	EngineCA bool
	// Dir reuses a directory (for re-exec'd children); empty: t.TempDir().
	Dir string
}

// Example returns the text of a bundled example topology.
func Example(t testing.TB, name string) string {
	t.Helper()
	b, err := examples.FS.ReadFile(name)
	if err != nil {
		t.Fatalf("example %s: %v", name, err)
	}
	return string(b)
}

// New writes topologyYAML, plans it, and sets up the CAs and the workspace.
func New(t testing.TB, topologyYAML string, o Options) *Env {
	t.Helper()
	e := &Env{Dir: o.Dir}
	if e.Dir == "" {
		e.Dir = t.TempDir()
	}
	e.Topology = filepath.Join(e.Dir, "topology.yaml")
	if err := os.WriteFile(e.Topology, []byte(topologyYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.Topo, err = topology.Load(e.Topology, ""); err != nil {
		t.Fatalf("topology: %v", err)
	}
	if e.Plan, err = plan.Build(e.Topo); err != nil {
		t.Fatalf("plan: %v", err)
	}
	var mu sync.Mutex
	handlers := map[string]func() ([]byte, error){}
	e.CRL = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := handlers[r.URL.Path]
		mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		der, err := h()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(der)
	}))
	t.Cleanup(e.CRL.Close)
	if e.Public, err = standinca.Open(filepath.Join(e.Dir, "public-ca"), standinca.Options{CRLURL: e.CRL.URL + "/public.crl"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	handlers["/public.crl"] = e.Public.CRL
	mu.Unlock()
	if o.EngineCA {
		e.Engine = openEngine(t, e.Dir, e.CRL.URL+"/crl/")
		mu.Lock()
		handlers["/crl/"+e.Engine.FileName()+".crl"] = func() ([]byte, error) { return e.Engine.CRL(context.Background(), false) }
		mu.Unlock()
		p, err := e.Engine.PrincipalFor(context.Background(), "admin")
		if err != nil {
			t.Fatal(err)
		}
		e.Issuer = apply.LocalCA(e.Engine, p)
	} else {
		sca, err := standinca.Open(filepath.Join(e.Dir, "internal-ca"), standinca.Options{Name: "Stand-in Internal Root CA", CRLURL: e.CRL.URL + "/internal.crl"})
		if err != nil {
			t.Fatal(err)
		}
		e.Internal = &StandIn{CA: sca}
		e.Issuer = e.Internal
		mu.Lock()
		handlers["/internal.crl"] = sca.CRL
		mu.Unlock()
	}
	if e.Workspace, err = apply.OpenWorkspace(filepath.Join(e.Dir, "workspace"), store.Options{}); err != nil {
		t.Fatal(err)
	}
	return e
}

// Passphrase of the test CA engines.
const Passphrase = "test passphrase for the CA"

func openEngine(t testing.TB, dir, crlURL string) *ca.Engine {
	t.Helper()
	ctx := context.Background()
	cadir := filepath.Join(dir, "ca")
	if _, err := os.Stat(filepath.Join(cadir)); os.IsNotExist(err) {
		err := ca.Init(ctx, cadir, ca.InitOptions{Name: "Test", Key: "p256", CRLURL: crlURL, AIAURL: crlURL,
			Passphrase: []byte(Passphrase), AdminName: "admin", AdminPassword: []byte("admin password")})
		if err != nil {
			t.Fatalf("ca init: %v", err)
		}
	}
	eng, err := ca.Open(ctx, cadir, ca.OpenOptions{Passphrase: []byte(Passphrase)})
	if err != nil {
		t.Fatalf("ca open: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// Options returns apply options with the env's issuer.
func (e *Env) Options() apply.Options {
	return apply.Options{Issuer: e.Issuer}
}

// ApplyAll runs apply, has the public CA sign the outbox, imports its
// responses and runs apply again, failing t on any error.
func (e *Env) ApplyAll(t testing.TB, opts apply.Options) *apply.Result {
	t.Helper()
	res, err := e.ApplyAllErr(opts)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

// ApplyAllErr is ApplyAll returning the error.
func (e *Env) ApplyAllErr(opts apply.Options) (*apply.Result, error) {
	ctx := context.Background()
	if opts.Issuer == nil {
		opts.Issuer = e.Issuer
	}
	if _, err := apply.Run(ctx, e.Plan, e.Workspace, opts); err != nil {
		return nil, err
	}
	reqs, _ := filepath.Glob(filepath.Join(e.Workspace.Dir, "outbox", "*.csr"))
	if len(reqs) > 0 {
		var files []apply.Response
		for _, r := range reqs {
			b, err := os.ReadFile(r)
			if err != nil {
				return nil, err
			}
			var so standinca.SignOptions
			if e.PublicBend != nil {
				e.PublicBend(&so)
			}
			leaf, err := e.Public.Sign(b, so)
			if err != nil {
				return nil, err
			}
			p7b, err := e.Public.Response(leaf)
			if err != nil {
				return nil, err
			}
			files = append(files, apply.Response{Name: filepath.Base(r), Data: p7b})
		}
		if _, err := apply.ImportResponses(ctx, e.Plan, e.Workspace, files, opts); err != nil {
			return nil, err
		}
	}
	return apply.Run(ctx, e.Plan, e.Workspace, opts)
}

// Cert returns the plan entry with this id (or kind prefix).
func (e *Env) Cert(t testing.TB, idOrKind string) *plan.Certificate {
	t.Helper()
	for i := range e.Plan.Certificates {
		c := &e.Plan.Certificates[i]
		if c.ID == idOrKind || strings.HasPrefix(c.ID, idOrKind+"/") {
			return c
		}
	}
	t.Fatalf("no certificate %s in the plan", idOrKind)
	return nil
}

// Store opens a server's store.
func (e *Env) Store(t testing.TB, server string) *store.Store {
	t.Helper()
	st, _, err := e.Workspace.Store(server)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// StandIn is a stand-in internal CA whose issuance a test can bend.
type StandIn struct {
	*standinca.CA
	mu   sync.Mutex
	bend func(req *x509.CertificateRequest, o *standinca.SignOptions)
	// Issued lists every certificate issued.
	Issued []*x509.Certificate
}

// Bend makes the next issuances go through f.
func (s *StandIn) Bend(f func(req *x509.CertificateRequest, o *standinca.SignOptions)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bend = f
}

// Chain implements apply.Issuer.
func (s *StandIn) Chain(context.Context) ([]*x509.Certificate, error) {
	return []*x509.Certificate{s.Cert}, nil
}

// Submit implements apply.Issuer.
func (s *StandIn) Submit(_ context.Context, der []byte, _ string) (*apply.Issued, error) {
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	var o standinca.SignOptions
	s.mu.Lock()
	if s.bend != nil {
		s.bend(req, &o)
	}
	s.mu.Unlock()
	leaf, err := s.Sign(der, o)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.Issued = append(s.Issued, leaf)
	s.mu.Unlock()
	return &apply.Issued{Leaf: leaf, Chain: []*x509.Certificate{s.Cert}}, nil
}

// Retrieve implements apply.Issuer.
func (s *StandIn) Retrieve(context.Context, int64) (*apply.Issued, error) {
	return nil, os.ErrNotExist
}

// Now is a fixed clock helper: time.Now shifted by d.
func Now(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

// EdgePoolsYAML returns a topology of one site with n edge pools of
// perPool servers each, every certificate from the internal CA (so that
// apply completes without the public CA's round trip).
func EdgePoolsYAML(n, perPool int) string {
	var b strings.Builder
	b.WriteString("version: 1\nsip_domains: [contoso.com]\nsimple_urls:\n  meet:\n    contoso.com: https://meet.contoso.com\n  dialin: https://dialin.contoso.com\nsites:\n  - name: Bench\n    edge_pools:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      - fqdn: edgepool%03d.contoso.net\n        servers: [", i)
		for j := 0; j < perPool; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "edge%03d-%d.contoso.net", i, j)
		}
		fmt.Fprintf(&b, "]\n        load_balancing: dns\n        access: sip%03d.contoso.com\n        webconf: webcon%03d.contoso.com\n        av: av%03d.contoso.com\n        external_issuer: internal\n", i, i, i)
	}
	return b.String()
}
