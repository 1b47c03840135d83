package cli

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/http01"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"

	"edgecert/internal/ca"
	"edgecert/internal/testtool"
	"edgecert/internal/testtool/testdns"
)

// acmeProc is the real binary's `ca serve`, with ACME validations through
// a test DNS server on a loopback http-01 port.
type acmeProc struct {
	bin, dir, pass, listen string
	resolver               string
	httpPort               int
	cmd                    *exec.Cmd
	url                    string
	// profile, when set, runs ca serve under bench profile, writing its
	// CPU profile there when it is stopped with SIGTERM.
	profile string
}

func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newACMECA builds the binary, creates a CA whose WebServer template takes
// names under contoso.test from group webadmins, the user webadmin and
// its EAB key, and writes the CA chain (PEM) to chain.pem.
func newACMECA(t testing.TB) (p *acmeProc, eab *ca.EABKey, chainPEM string) {
	t.Helper()
	gobin := testtool.Path(t, "go")
	tmp := t.TempDir()
	p = &acmeProc{bin: filepath.Join(tmp, "edgecert"), dir: filepath.Join(tmp, "ca"), pass: filepath.Join(tmp, "pass")}
	if out, err := exec.Command(gobin, "build", "-o", p.bin, "../../cmd/edgecert").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx := context.Background()
	os.WriteFile(p.pass, []byte("acme passphrase"), 0o600)
	if err := ca.Init(ctx, p.dir, ca.InitOptions{Name: "ACME Test", Key: "p256", Passphrase: []byte("acme passphrase"), AdminName: "admin", AdminPassword: []byte("admin-password-1")}); err != nil {
		t.Fatal(err)
	}
	groups, names := []string{"webadmins"}, []string{"*.contoso.test"}
	if _, err := ca.SetTemplate(p.dir, "WebServer", ca.TemplateChange{Enroll: &groups, AllowedDNS: &names}); err != nil {
		t.Fatal(err)
	}
	eng, err := ca.Open(ctx, p.dir, ca.OpenOptions{Passphrase: []byte("acme passphrase")})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.AddUser(ctx, ca.UserSpec{Name: "webadmin", Groups: groups}); err != nil {
		t.Fatal(err)
	}
	if eab, err = eng.NewEABKey(ctx, "webadmin"); err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, c := range eng.Chain() {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	chainPEM = filepath.Join(tmp, "chain.pem")
	os.WriteFile(chainPEM, chain, 0o644)
	p.resolver = testdns.Start(t).Addr
	p.httpPort = freeLoopbackPort(t)
	p.listen = "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
	return p, eab, chainPEM
}

// start runs ca serve and waits for its banner.
func (p *acmeProc) start(t testing.TB) {
	t.Helper()
	args := []string{"ca", "serve", "--dir", p.dir, "--listen", p.listen, "--passphrase-file", p.pass,
		"--acme-resolver", p.resolver, "--acme-http-port", strconv.Itoa(p.httpPort), "--acme-attempts", "1"}
	if p.profile != "" {
		args = append([]string{"bench", "profile", "--cpuprofile", p.profile, "--"}, args...)
	}
	p.cmd = exec.Command(p.bin, args...)
	stdout, _ := p.cmd.StdoutPipe()
	p.cmd.Stderr = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := p.cmd
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := regexp.MustCompile(`HTTPS:\s+(https://\S+)/certsrv/`).FindStringSubmatch(sc.Text()); m != nil {
			p.url = m[1]
			break
		}
	}
	if p.url == "" {
		t.Fatal("ca serve printed no URL")
	}
	go io.Copy(io.Discard, stdout)
}

// kill ends ca serve with SIGKILL.
func (p *acmeProc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// TestACMECertbot: certbot, unchanged, against ca serve: an EAB-bound
// account, a certificate by http-01 (certbot's standalone server on the
// loopback port the CA validates on, the name resolved through the CA's
// resolver), a renewal, and a revocation the CA's listing shows.
func TestACMECertbot(t *testing.T) {
	certbot := testtool.Path(t, "certbot")
	p, eab, chain := newACMECA(t)
	p.start(t)
	work := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		args = append(args, "--non-interactive", "--config-dir", filepath.Join(work, "config"), "--work-dir", filepath.Join(work, "work"),
			"--logs-dir", filepath.Join(work, "logs"), "--server", p.url+"/acme/WebServer/directory")
		cmd := exec.Command(certbot, args...)
		cmd.Env = append(os.Environ(), "REQUESTS_CA_BUNDLE="+chain)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("certbot %v: %v\n%s", args[0], err, out)
		}
		return string(out)
	}
	standalone := []string{"--standalone", "--http-01-address", "127.0.0.1", "--http-01-port", strconv.Itoa(p.httpPort)}
	run(append([]string{"certonly", "--agree-tos", "--register-unsafely-without-email", "--eab-kid", eab.KID, "--eab-hmac-key", eab.HMACKey,
		"-d", "lync-fe01.contoso.test", "-d", "pool01.contoso.test"}, standalone...)...)
	live := filepath.Join(work, "config", "live", "lync-fe01.contoso.test", "cert.pem")
	first := readLeafSerial(t, live)
	if n := issuedCount(t, p.dir); n != 2 { // the server's own certificate and certbot's
		t.Fatalf("%d certificates in the CA", n)
	}
	run(append([]string{"renew", "--force-renewal", "--no-random-sleep-on-renew"}, standalone...)...)
	second := readLeafSerial(t, live)
	if second == first || issuedCount(t, p.dir) != 3 {
		t.Fatalf("renewal: %s then %s, %d certificates", first, second, issuedCount(t, p.dir))
	}
	run("revoke", "--cert-path", live, "--reason", "superseded", "--no-delete-after-revoke")
	eng, err := ca.Open(context.Background(), p.dir, ca.OpenOptions{WithoutKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	revoked, err := eng.Certificates(context.Background(), true, 0)
	if err != nil || len(revoked) != 1 || revoked[0].Serial != second {
		t.Fatalf("revoked: %+v %v", revoked, err)
	}
}

func readLeafSerial(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := certcrypto.ParsePEMBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(certs[0].SerialNumber.Text(16))
}

type cliLegoUser struct {
	key crypto.Signer
	reg *acme.ExtendedAccount
}

func (u *cliLegoUser) GetEmail() string                       { return "" }
func (u *cliLegoUser) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *cliLegoUser) GetPrivateKey() crypto.Signer           { return u.key }

// TestACMEKill9: ca serve is killed with SIGKILL after an order was
// finalized and before the client downloads again; after the restart the
// order's certificate downloads, the same one, and the CA holds no second.
func TestACMEKill9(t *testing.T) {
	p, eab, chain := newACMECA(t)
	p.start(t)
	u := &cliLegoUser{}
	u.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	client := func() *lego.Client {
		cfg := lego.NewConfig(u)
		cfg.CADirURL = p.url + "/acme/WebServer/directory"
		roots, err := lego.CreateCertPool([]string{chain}, false)
		if err != nil {
			t.Fatal(err)
		}
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		c, err := lego.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := client()
	reg, err := c.Registration.RegisterWithExternalAccountBinding(context.Background(), registration.RegisterEABOptions{TermsOfServiceAgreed: true, Kid: eab.KID, HmacEncoded: eab.HMACKey})
	if err != nil {
		t.Fatal(err)
	}
	u.reg = reg
	c.Challenge.SetHTTP01Provider(http01.NewProviderServer("127.0.0.1", strconv.Itoa(p.httpPort)))
	res, err := c.Certificate.Obtain(context.Background(), certificate.ObtainRequest{Domains: []string{"edge-int.contoso.test"}, KeyType: certcrypto.EC256})
	if err != nil {
		t.Fatal(err)
	}
	want := readLeafSerialBytes(t, res.Certificate)
	p.kill(t)
	p.start(t)
	got, err := client().Certificate.Get(context.Background(), res.CertURL, false)
	if err != nil {
		t.Fatalf("download after the restart: %v", err)
	}
	if s := readLeafSerialBytes(t, got.Certificate); s != want {
		t.Fatalf("downloaded %s after the restart, issued %s", s, want)
	}
	if n := issuedCount(t, p.dir); n != 2 {
		t.Fatalf("%d certificates in the CA", n)
	}
}

func readLeafSerialBytes(t *testing.T, b []byte) string {
	t.Helper()
	certs, err := certcrypto.ParsePEMBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(certs[0].SerialNumber.Text(16))
}

// TestServeACMEFlags: bad --acme-* values are invalid input (exit 2) that
// name the flag, before the CA is opened.
func TestServeACMEFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"http port 0", []string{"--acme-http-port", "0"}, "--acme-http-port"},
		{"tls port too large", []string{"--acme-tls-port", "70000"}, "--acme-tls-port"},
		{"resolver without port", []string{"--acme-resolver", "10.0.0.53"}, "--acme-resolver"},
		{"resolver a name", []string{"--acme-resolver", "dns.contoso.net:53"}, "--acme-resolver"},
		{"attempts", []string{"--acme-attempts", "0"}, "--acme-attempts"},
		{"timeout", []string{"--acme-timeout", "2h"}, "--acme-timeout"},
		{"url not https", []string{"--acme-url", "http://ca.contoso.net"}, "--acme-url"},
		{"unbound without networks", []string{"--acme-unbound", "WebServer"}, "--acme-unbound"},
		{"unbound bad network", []string{"--acme-unbound", "WebServer=10.0.0.0/33"}, "--acme-unbound"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errw syncBuffer
			args := append([]string{"ca", "serve", "--dir", dir, "--listen", "127.0.0.1:0"}, c.args...)
			if code := runServeCmd(context.Background(), &out, &errw, args...); code != 2 || !strings.Contains(errw.String(), c.want) {
				t.Fatalf("exit %d: %s", code, errw.String())
			}
		})
	}
}
