package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"edgecert/internal/ca"
	"edgecert/internal/testtool"
)

// serveProc is a `ca serve` running in this process.
type serveProc struct {
	url, plain string
	out, errw  *syncBuffer
	done       chan int
	cancel     context.CancelFunc
}

// newServeCA creates a CA for the serve tests in dir, its database at dsn
// (empty: SQLite in dir); it returns the passphrase file.
func newServeCA(t *testing.T, dir, dsn string) string {
	t.Helper()
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("serve ops passphrase\n"), 0o600)
	if err := ca.Init(context.Background(), dir, ca.InitOptions{Name: "Serve Ops", Key: "p256", Passphrase: []byte("serve ops passphrase"), DSN: dsn,
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
	pass := newServeCA(t, dir, "")
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

// mountFull mounts a small tmpfs at a new folder and returns it, with a
// function that fills it (a file of ours, removed at the end) until a
// write fails. Mounting needs root (or CAP_SYS_ADMIN): elsewhere the test
// skips, the one place this suite skips, since a full disk cannot be made
// without it.
func mountFull(t *testing.T, size string) (dir string, fill func(), unfill func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs to fill needs root")
	}
	dir = filepath.Join(t.TempDir(), "disk")
	os.Mkdir(dir, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	filler := filepath.Join(dir, "filler")
	fill = func() {
		f, err := os.OpenFile(filler, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		chunk := make([]byte, 64<<10)
		for {
			if _, err := f.Write(chunk); err != nil {
				break
			}
		}
		for _, n := range []int{4096, 512, 1} { // the last blocks
			for {
				if _, err := f.Write(chunk[:n]); err != nil {
					break
				}
			}
		}
	}
	unfill = func() { os.Remove(filler) }
	return dir, fill, unfill
}

// TestServeOnFullDisk: with the CA directory's disk full, its database
// there (SQLite) or elsewhere (PostgreSQL), `ca serve` starts (it reuses
// its kept certificate: before, it issued one at every start and failed;
// SQLite keeps its shared-memory index rather than write a new one),
// serves the CRLs, answers /healthz but not /readyz; with room again it is
// ready.
func TestServeOnFullDisk(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := ""
			if db == "postgres" {
				dsn = testtool.PostgresSchema(t)
			}
			serveOnFullDisk(t, dsn)
		})
	}
}

func serveOnFullDisk(t *testing.T, dsn string) {
	disk, fill, unfill := mountFull(t, "24m")
	dir := filepath.Join(disk, "ca")
	pass := newServeCA(t, dir, dsn)
	eng, err := ca.Open(context.Background(), dir, ca.OpenOptions{Passphrase: []byte("serve ops passphrase")})
	if err != nil {
		t.Fatal(err)
	}
	eng.Close()
	args := []string{"--dir", dir, "--passphrase-file", pass, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--db-timeout", "2s"}
	p := startServe(t, args...)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(u string) (int, []byte) {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	crl := "/crl/" + eng.FileName() + ".crl"
	if st, b := get(p.plain + crl); st != 200 {
		t.Fatalf("CRL before: %d %s", st, b)
	}
	p.stop(t)

	fill()
	p = startServe(t, args...)
	if st, b := get(p.plain + crl); st != 200 {
		t.Fatalf("CRL on a full disk: %d %s", st, b)
	}
	if st, b := get(p.plain + "/crl/" + eng.FileName() + "+.crl"); st != 200 {
		t.Fatalf("delta CRL on a full disk: %d %s", st, b)
	}
	if st, _ := get(p.url + "/healthz"); st != 200 {
		t.Fatalf("healthz on a full disk: %d", st)
	}
	if st, b := get(p.url + "/readyz"); st != http.StatusServiceUnavailable || !strings.Contains(string(b), "not ready") {
		t.Fatalf("readyz on a full disk: %d %s", st, b)
	}
	unfill()
	if st, b := get(p.url + "/readyz"); st != 200 {
		t.Fatalf("readyz with room again: %d %s", st, b)
	}
}
