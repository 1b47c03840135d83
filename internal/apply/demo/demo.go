// Package demo runs the whole procedure on the bundled example topology
// (examples/demo.yaml) with nothing installed: an embedded internal CA
// (package ca, initialised with a generated passphrase), a stand-in public
// CA that signs the requests left in the outbox, apply, the public CA's
// responses imported, status and verification, with the CRLs of both CAs
// published over loopback HTTP while it runs.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edgecert/examples"
	"edgecert/internal/apply"
	"edgecert/internal/apply/standinca"
	"edgecert/internal/ca"
	"edgecert/internal/plan"
	"edgecert/internal/store"
	"edgecert/internal/topology"
	"edgecert/internal/verify"
)

// Options configure a demo run.
type Options struct {
	Dir      string // working directory (created when missing)
	Progress func(apply.Event)
	Log      io.Writer // section headings; nil: none
	Now      func() time.Time
	Rand     io.Reader
}

// Result is what the demo produced.
type Result struct {
	Dir       string
	Topology  string
	Workspace string
	Plan      *plan.Plan
	Status    *apply.StatusReport
	Report    *verify.Report
}

const adminName = "admin"

// Run carries out the demo in o.Dir.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	res := &Result{Dir: o.Dir, Topology: filepath.Join(o.Dir, "demo.yaml"), Workspace: filepath.Join(o.Dir, "workspace")}
	p, err := writeTopology(res.Topology)
	if err != nil {
		return nil, err
	}
	res.Plan = p
	fmt.Fprintf(o.Log, "== plan -t %s (%d certificates)\n\n", res.Topology, len(p.Certificates))
	if err := plan.WriteTable(o.Log, p, false, 0); err != nil {
		return nil, err
	}
	fmt.Fprintln(o.Log)
	ln, base, err := listen(o.Dir)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	fmt.Fprintf(o.Log, "== Internal CA in %s (CRLs on %s)\n", filepath.Join(o.Dir, "ca"), base)
	eng, err := openCA(ctx, o, base)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	pub, err := standinca.Open(filepath.Join(o.Dir, "public-ca"), standinca.Options{
		Name: "Stand-in Public Root CA", CRLURL: base + "/public/root.crl", Now: o.Now, Rand: o.Rand})
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: crlHandler(eng, pub), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	principal, err := eng.PrincipalFor(ctx, adminName)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	ws, err := apply.OpenWorkspace(res.Workspace, store.Options{Now: o.Now, Rand: o.Rand})
	if err != nil {
		return nil, err
	}
	opts := apply.Options{Now: o.Now, Rand: o.Rand, Issuer: apply.LocalCA(eng, principal), Progress: o.Progress}
	fmt.Fprintf(o.Log, "== apply -t %s --workspace %s --ca-dir %s\n", res.Topology, res.Workspace, filepath.Join(o.Dir, "ca"))
	if _, err := apply.Run(ctx, p, ws, opts); err != nil {
		return nil, err
	}
	if err := answerOutbox(ctx, o, p, ws, pub, opts); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "== apply again (resumes after the public CA's responses)\n")
	if _, err := apply.Run(ctx, p, ws, opts); err != nil {
		return nil, err
	}
	if res.Status, err = apply.Status(p, ws); err != nil {
		return nil, err
	}
	res.Report, err = verify.Offline(ctx, p, ws.Store, verify.Options{Now: o.Now})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// writeTopology copies the bundled demo.yaml to path and plans it.
func writeTopology(path string) (*plan.Plan, error) {
	b, err := examples.FS.ReadFile("demo.yaml")
	if err != nil {
		return nil, fmt.Errorf("demo: bundled topology: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	t, err := topology.Load(path, "")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return plan.Build(t)
}

// listen opens the loopback HTTP listener of the CRLs, on the port of an
// earlier run in the same directory when it is free (the URLs are in the
// CA's certificates).
func listen(dir string) (net.Listener, string, error) {
	portFile := filepath.Join(dir, "crl-port")
	if b, err := os.ReadFile(portFile); err == nil {
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strings.TrimSpace(string(b))); err == nil {
			return ln, "http://" + ln.Addr().String(), nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("demo: %w", err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if err := os.WriteFile(portFile, []byte(port+"\n"), 0o644); err != nil {
		ln.Close()
		return nil, "", fmt.Errorf("demo: %w", err)
	}
	return ln, "http://" + ln.Addr().String(), nil
}

// openCA initialises the internal CA on the first run, with a generated
// passphrase kept in DIR/ca-passphrase (0600), and opens it.
func openCA(ctx context.Context, o Options, base string) (*ca.Engine, error) {
	dir := filepath.Join(o.Dir, "ca")
	passFile := filepath.Join(o.Dir, "ca-passphrase")
	pass, err := os.ReadFile(passFile)
	if errors.Is(err, os.ErrNotExist) {
		pass = []byte(randomString(o.Rand))
		admin := []byte(randomString(o.Rand))
		if err := os.WriteFile(passFile, append(pass, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		err = ca.Init(ctx, dir, ca.InitOptions{Name: "Contoso Demo", Key: "p256", CRLURL: base + "/crl/", AIAURL: base + "/aia/",
			Passphrase: pass, Now: o.Now, Rand: o.Rand, AdminName: adminName, AdminPassword: admin})
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	pass = []byte(strings.TrimSpace(string(pass)))
	eng, err := ca.Open(ctx, dir, ca.OpenOptions{Passphrase: pass, Now: o.Now, Rand: o.Rand})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return eng, nil
}

func randomString(r io.Reader) string {
	b := make([]byte, 18)
	if _, err := io.ReadFull(r, b); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// crlHandler publishes the internal CA's CRLs and issuer certificates and
// the stand-in public CA's CRL.
func crlHandler(eng *ca.Engine, pub *standinca.CA) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /crl/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var der []byte
		var err error
		switch name {
		case eng.FileName() + "+.crl":
			der, err = eng.CRL(r.Context(), true)
		case eng.FileName() + ".crl":
			der, err = eng.CRL(r.Context(), false)
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(der)
	})
	mux.HandleFunc("GET /aia/{name}", func(w http.ResponseWriter, r *http.Request) {
		chain := eng.Chain()
		if len(chain) == 0 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(chain[0].Raw)
	})
	mux.HandleFunc("GET /public/root.crl", func(w http.ResponseWriter, r *http.Request) {
		der, err := pub.CRL()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(der)
	})
	return mux
}

// answerOutbox plays the public CA: it signs every request in the outbox
// and imports its PKCS#7 responses with apply --import-response.
func answerOutbox(ctx context.Context, o Options, p *plan.Plan, ws *apply.Workspace, pub *standinca.CA, opts apply.Options) error {
	reqs, err := filepath.Glob(filepath.Join(ws.Dir, "outbox", "*.csr"))
	if err != nil || len(reqs) == 0 {
		return err
	}
	fmt.Fprintf(o.Log, "== stand-in public CA signs %d request(s) from %s\n", len(reqs), filepath.Join(ws.Dir, "outbox"))
	var files []apply.Response
	for _, path := range reqs {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		leaf, err := pub.Sign(b, standinca.SignOptions{})
		if err != nil {
			return err
		}
		p7b, err := pub.Response(leaf)
		if err != nil {
			return err
		}
		out := filepath.Join(o.Dir, "public-ca", "responses", strings.TrimSuffix(filepath.Base(path), ".csr")+".p7b")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := os.WriteFile(out, p7b, 0o644); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		files = append(files, apply.Response{Name: out, Data: p7b})
	}
	fmt.Fprintf(o.Log, "== apply --import-response (%d files)\n", len(files))
	_, err = apply.ImportResponses(ctx, p, ws, files, opts)
	return err
}
