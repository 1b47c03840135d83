package proxy_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgecert/internal/apply/applytest"
	"edgecert/internal/apply/standinca"
	"edgecert/internal/certfmt"
	"edgecert/internal/plan"
	"edgecert/internal/proxy"
	"edgecert/internal/testtool"
	"edgecert/internal/verify"
)

const rpID = "reverse-proxy/rp-redmond"

// TestNginxReverseProxy writes the configuration of a reverse proxy server,
// starts a real nginx with it on loopback in front of a Go upstream that
// plays the pool's external web services, and checks it with verify --live
// and curl --cacert; then a plan with one more SAN must fail verification.
func TestNginxReverseProxy(t *testing.T) {
	nginx := testtool.Path(t, "nginx")
	curl := testtool.Path(t, "curl")
	e := applytest.New(t, applytest.Example(t, "demo.yaml"), applytest.Options{})
	e.ApplyAll(t, e.Options())

	upHTTPS, upHTTP := startUpstreams(t, e.Internal.CA, "pool01.contoso.net")
	cfg, err := proxy.FromWorkspace(e.Topo, e.Plan, e.Workspace, "rp01.contoso.com", proxy.Upstreams{
		HTTPS: map[string]string{"pool01.contoso.net": upHTTPS},
		HTTP:  map[string]string{"pool01.contoso.net": upHTTP},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir = t.TempDir()
	cfg.Listen, cfg.HTTPListen = freeAddr(t), freeAddr(t)
	files, err := proxy.WriteNginx(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyMode(t, files.Keys[0])
	startNginx(t, nginx, cfg.Dir, files.Config, cfg.Listen)

	// verify --live against nginx, with SNI for every planned name.
	rep := live(t, e, e.Plan, cfg.Listen)
	if rep.Failed() || rep.Checked < 5 {
		t.Fatalf("verify --live against nginx: checked %d: %+v", rep.Checked, rep.Findings)
	}

	// curl --cacert through every published name, HTTPS and HTTP.
	root := filepath.Join(t.TempDir(), "public-root.pem")
	if err := os.WriteFile(root, certfmt.EncodeCertificatePEM(e.Public.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(cfg.Listen)
	_, hport, _ := net.SplitHostPort(cfg.HTTPListen)
	for _, host := range []string{"webext.contoso.com", "meet.fabrikam.com", "dialin.contoso.com", "lyncdiscover.contoso.com"} {
		out := run(t, curl, "-sS", "--fail", "--cacert", root, "--resolve", host+":"+port+":127.0.0.1", "https://"+host+":"+port+"/x")
		if !strings.Contains(out, "upstream https host="+host) {
			t.Errorf("curl https://%s: %q", host, out)
		}
		out = run(t, curl, "-sS", "--fail", "--resolve", host+":"+hport+":127.0.0.1", "http://"+host+":"+hport+"/x")
		if !strings.Contains(out, "upstream http host="+host) {
			t.Errorf("curl http://%s: %q", host, out)
		}
	}

	// One more SAN in the plan: the served certificate no longer satisfies it.
	changed := clonePlan(t, e.Plan)
	for i := range changed.Certificates {
		if changed.Certificates[i].ID == rpID {
			changed.Certificates[i].SANs = append(changed.Certificates[i].SANs, "extra.contoso.com")
		}
	}
	rep = live(t, e, changed, cfg.Listen)
	if !rep.Has(verify.SeverityError, verify.CheckLiveNames, "") {
		t.Fatalf("a changed SAN passed verify --live: %+v", rep.Findings)
	}
}

func live(t *testing.T, e *applytest.Env, p *plan.Plan, addr string) *verify.Report {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(e.Public.Cert)
	targets, err := verify.Targets(p, map[string]string{rpID: addr}, func(string) (*x509.CertPool, error) { return pool, nil })
	if err != nil {
		t.Fatal(err)
	}
	return verify.Live(context.Background(), p, targets, verify.Options{Certificates: []string{rpID}})
}

func clonePlan(t *testing.T, p *plan.Plan) *plan.Plan {
	t.Helper()
	b, _ := json.Marshal(p)
	var out plan.Plan
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func checkKeyMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}

// startUpstreams runs the pool's external web services: HTTPS with a
// certificate of the internal CA for name, and HTTP.
func startUpstreams(t *testing.T, ca *standinca.CA, name string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Sign(csrDER, standinca.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	handler := func(scheme string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "upstream %s host=%s", scheme, strings.Split(r.Host, ":")[0])
		})
	}
	s := httptest.NewUnstartedServer(handler("https"))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}}}
	s.StartTLS()
	t.Cleanup(s.Close)
	h := httptest.NewServer(handler("http"))
	t.Cleanup(h.Close)
	return s.Listener.Addr().String(), h.Listener.Addr().String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startNginx checks the configuration with nginx -t and runs nginx in the
// foreground until the test ends.
func startNginx(t *testing.T, nginx, dir, conf, addr string) {
	t.Helper()
	run(t, nginx, "-t", "-p", dir, "-c", conf)
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-g", "daemon off;")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM: the master stops its workers (a killed master would
		// leave them running, orphaned).
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
			t.Fatalf("nginx did not start: %v\n%s\n%s", err, stderr.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
