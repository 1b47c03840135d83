package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"edgecert/internal/ca"
	"edgecert/internal/testtool"
)

// syncBuffer is a buffer the server goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runServeCmd runs one command line with ctx, as Main does.
func runServeCmd(ctx context.Context, out, errw *syncBuffer, args ...string) int {
	env := &Env{Streams: Streams{In: strings.NewReader(""), Out: out, Err: errw}, Now: time.Now, Rand: rand.Reader, Ctx: ctx}
	root := NewRootCmd(env)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errw)
	err := root.ExecuteContext(ctx)
	if err != nil {
		errw.Write([]byte(err.Error() + "\n"))
	}
	return ExitCode(err)
}

// TestServeAndFetchChain starts `ca serve`, fetches the chain with
// `ca fetch-chain` (pinning the printed fingerprint), and stops the server.
func TestServeAndFetchChain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("serve test passphrase\n"), 0o600)
	if err := ca.Init(context.Background(), dir, ca.InitOptions{Name: "Serve Test", Key: "p256", Passphrase: []byte("serve test passphrase"),
		AdminName: "admin", AdminPassword: []byte("admin-password-1")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errw syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runServeCmd(ctx, &out, &errw, "ca", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--passphrase-file", pass, "--workers", "3")
	}()
	urlRE := regexp.MustCompile(`HTTPS:\s+(https://\S+)/certsrv/`)
	plainRE := regexp.MustCompile(`HTTP:\s+(http://[^/\s]+)/crl/`)
	fpRE := regexp.MustCompile(`fingerprint: ([0-9A-F]{64})`)
	var url, plain, fp string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s := out.String()
		if m := fpRE.FindStringSubmatch(s); m != nil {
			url, plain, fp = urlRE.FindStringSubmatch(s)[1], plainRE.FindStringSubmatch(s)[1], m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s %s", code, out.String(), errw.String())
		default:
		}
	}
	if fp == "" {
		t.Fatalf("serve printed no fingerprint: %s %s", out.String(), errw.String())
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errw.String(), "workers=3") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(errw.String(), "workers=3") {
		t.Fatalf("--workers 3 did not reach the engine: %s", errw.String())
	}

	t.Run("fetch-chain", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "chain.p7b")
		var o, e syncBuffer
		if code := runServeCmd(ctx, &o, &e, "ca", "fetch-chain", "--ca", url, "--ca-fingerprint", strings.ToLower(fp), "--out", file, "--pin-file", filepath.Join(t.TempDir(), "pins.json")); code != 0 {
			t.Fatalf("exit %d: %s %s", code, o.String(), e.String())
		}
		der, _ := os.ReadFile(file)
		p7, err := pkcs7.Parse(der)
		if err != nil || len(p7.Certificates) != 2 {
			t.Fatalf("chain.p7b: %v", err)
		}
	})
	t.Run("fetch-chain refuses another root", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "chain.p7b")
		var o, e syncBuffer
		code := runServeCmd(ctx, &o, &e, "ca", "fetch-chain", "--ca", url, "--ca-fingerprint", strings.Repeat("0", 64), "--out", file, "--pin-file", filepath.Join(t.TempDir(), "pins.json"))
		if code != ExitFailure || !strings.Contains(e.String()+o.String(), "fingerprint") {
			t.Fatalf("exit %d: %s %s", code, o.String(), e.String())
		}
		if _, err := os.Stat(file); err == nil {
			t.Errorf("wrote the chain of an untrusted server")
		}
	})
	t.Run("fetch-chain bad input", func(t *testing.T) {
		var o, e syncBuffer
		if code := runServeCmd(ctx, &o, &e, "ca", "fetch-chain", "--ca", "http://"+strings.TrimPrefix(url, "https://"), "--out", "x.p7b"); code != ExitUsage {
			t.Fatalf("plain http URL: exit %d", code)
		}
	})
	t.Run("plain HTTP serves the CRL only", func(t *testing.T) {
		resp, err := http.Get(plain + "/certsrv/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("/certsrv/ over plain HTTP: %d", resp.StatusCode)
		}
	})

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d after shutdown: %s", code, errw.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string // in the error, when set
	}{
		{"no dir", []string{"ca", "serve", "--listen", ":0"}, "dir"},
		{"missing dir", []string{"ca", "serve", "--dir", filepath.Join(t.TempDir(), "none"), "--listen", ":0", "--passphrase-file", "/dev/null"}, "--dir"},
		{"tls cert without key", []string{"ca", "serve", "--dir", t.TempDir(), "--listen", ":0", "--tls-cert", "x.pem"}, "tls-key"},
		{"negative workers", []string{"ca", "serve", "--dir", t.TempDir(), "--listen", ":0", "--workers", "-1"}, "--workers"},
		{"too many workers", []string{"ca", "serve", "--dir", t.TempDir(), "--listen", ":0", "--workers", "100000"}, "--workers"},
		{"zero db timeout", []string{"ca", "serve", "--dir", t.TempDir(), "--listen", ":0", "--db-timeout", "0s"}, "--db-timeout"},
		{"bench: negative server workers", []string{"bench", "issue", "--server-workers", "-2", "--duration", "1s"}, "--server-workers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var o, e syncBuffer
			if code := runServeCmd(context.Background(), &o, &e, c.args...); code != ExitUsage {
				t.Fatalf("exit %d: %s", code, e.String())
			}
			if !strings.Contains(e.String(), c.want) {
				t.Fatalf("the error does not name %q: %s", c.want, e.String())
			}
		})
	}
}

// TestServeSIGTERMFinishesInFlight runs the real binary: a request whose
// body is still arriving when SIGTERM comes is answered in full, and the
// process exits 0.
func TestServeSIGTERMFinishesInFlight(t *testing.T) {
	gobin := testtool.Path(t, "go")
	bin := filepath.Join(t.TempDir(), "edgecert")
	if out, err := exec.Command(gobin, "build", "-o", bin, "../../cmd/edgecert").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ca")
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("sigterm passphrase"), 0o600)
	if err := ca.Init(ctx, dir, ca.InitOptions{Name: "Sigterm", Key: "p256", Passphrase: []byte("sigterm passphrase"), AdminName: "admin", AdminPassword: []byte("admin-password-1")}); err != nil {
		t.Fatal(err)
	}
	eng, err := ca.Open(ctx, dir, ca.OpenOptions{Passphrase: []byte("sigterm passphrase")})
	if err != nil {
		t.Fatal(err)
	}
	token, err := eng.NewToken(ctx, "admin")
	chain := eng.Chain()
	eng.Close()
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "ca", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--passphrase-file", pass)
	stdout, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var host string
	for sc.Scan() {
		if m := regexp.MustCompile(`HTTPS:\s+https://(\S+)/certsrv/`).FindStringSubmatch(sc.Text()); m != nil {
			host = m[1]
			break
		}
	}
	if host == "" {
		t.Fatalf("no URL printed: %s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)

	pool := x509.NewCertPool()
	pool.AddCert(chain[len(chain)-1])
	conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "inflight.contoso.com"}, DNSNames: []string{"inflight.contoso.com"}}, key)
	body, _ := json.Marshal(map[string]string{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), "template": "WebServer"})
	fmt.Fprintf(conn, "POST /api/v1/certificates HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", host, token, len(body))
	conn.Write(body[:10])
	time.Sleep(300 * time.Millisecond) // the server is now reading the body

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	conn.Write(body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v (%s)", err, stderr.String())
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, b)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
}
