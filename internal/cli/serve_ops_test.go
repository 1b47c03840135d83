package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"edgecert/internal/ca"
)

// serveProc is a `ca serve` running in this process.
type serveProc struct {
	url, plain string
	out, errw  *syncBuffer
	done       chan int
	cancel     context.CancelFunc
}

// newServeCA creates a CA for the serve tests in dir; it returns the
// passphrase file.
func newServeCA(t *testing.T, dir string) string {
	t.Helper()
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("serve ops passphrase\n"), 0o600)
	if err := ca.Init(context.Background(), dir, ca.InitOptions{Name: "Serve Ops", Key: "p256", Passphrase: []byte("serve ops passphrase"),
		AdminName: "admin", AdminPassword: []byte("admin-password-1")}); err != nil {
		t.Fatal(err)
	}
	return pass
}

// startServe runs `ca serve` with args and waits for its banner; a server
// that exits first fails the test.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &serveProc{out: &syncBuffer{}, errw: &syncBuffer{}, done: make(chan int, 1), cancel: cancel}
	go func() { p.done <- runServeCmd(ctx, p.out, p.errw, append([]string{"ca", "serve"}, args...)...) }()
	urlRE := regexp.MustCompile(`HTTPS:\s+(https://\S+)/certsrv/`)
	plainRE := regexp.MustCompile(`HTTP:\s+(http://[^/\s]+)/crl/`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s := p.out.String()
		if m := urlRE.FindStringSubmatch(s); m != nil && strings.Contains(s, "fingerprint") {
			p.url = m[1]
			if m := plainRE.FindStringSubmatch(s); m != nil {
				p.plain = m[1]
			}
			t.Cleanup(func() { p.stop(t) })
			return p
		}
		select {
		case code := <-p.done:
			cancel()
			t.Fatalf("serve exited %d: %s %s", code, p.out.String(), p.errw.String())
		default:
		}
	}
	cancel()
	t.Fatalf("serve did not start: %s %s", p.out.String(), p.errw.String())
	return nil
}

// stop ends the server and waits for it (once).
func (p *serveProc) stop(t *testing.T) {
	if p.done == nil {
		return
	}
	p.cancel()
	select {
	case code := <-p.done:
		if code != 0 {
			t.Errorf("serve exited %d: %s", code, p.errw.String())
		}
	case <-time.After(40 * time.Second):
		t.Error("serve did not stop")
	}
	p.done = nil
}

// servedLeaf is the certificate the server presents.
func servedLeaf(t *testing.T, url string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// issuedCount is the number of certificates in the CA's database.
func issuedCount(t *testing.T, dir string) int {
	t.Helper()
	eng, err := ca.Open(context.Background(), dir, ca.OpenOptions{WithoutKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cs, err := eng.Certificates(context.Background(), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

// TestServeKeepsItsCertificate: a start on an address in use fails before
// any certificate is issued; the first real start issues the server's
// certificate and keeps it, and the next start presents the same one.
func TestServeKeepsItsCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	pass := newServeCA(t, dir)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, args := range [][]string{
		{"--listen", busy.Addr().String()},
		{"--listen", "127.0.0.1:0", "--http-listen", busy.Addr().String()},
	} {
		var o, e syncBuffer
		code := runServeCmd(context.Background(), &o, &e, append([]string{"ca", "serve", "--dir", dir, "--passphrase-file", pass}, args...)...)
		if code == 0 || !strings.Contains(e.String(), "address already in use") {
			t.Fatalf("%v: exit %d: %s", args, code, e.String())
		}
		if n := issuedCount(t, dir); n != 0 {
			t.Fatalf("%v: a failed start issued %d certificates", args, n)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "server.crt")); err == nil {
		t.Fatal("a failed start kept a certificate")
	}

	var serials []string
	for range 2 {
		p := startServe(t, "--dir", dir, "--passphrase-file", pass, "--listen", "127.0.0.1:0")
		serials = append(serials, servedLeaf(t, p.url).SerialNumber.String())
		p.stop(t)
	}
	if serials[0] != serials[1] {
		t.Fatalf("the second start presents another certificate: %v", serials)
	}
	if n := issuedCount(t, dir); n != 1 {
		t.Fatalf("two starts issued %d certificates, want 1", n)
	}
}
