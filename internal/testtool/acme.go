package testtool

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a loopback port that is free for both TCP and UDP at
// the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		_ = l.Close()
		if err == nil {
			_ = u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// DNS is a BIND 9 named serving one zone on loopback that accepts RFC 2136
// updates signed with a TSIG key (HMAC-SHA256).
type DNS struct {
	Addr       string // 127.0.0.1:PORT
	Zone       string // "contoso.test."
	KeyName    string
	SecretFile string // the base64 secret, as tsig_secret_file reads it
	Secret     string
}

// Named starts named for zone (every name under it has an A record
// 127.0.0.1) and stops it when the test ends.
func Named(t testing.TB, zone string) *DNS {
	t.Helper()
	named := "/usr/sbin/named"
	if _, err := os.Stat(named); err != nil {
		named = Path(t, "named")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	zone = strings.TrimSuffix(zone, ".")
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	d := &DNS{Zone: zone + ".", KeyName: "acme-update", Secret: base64.StdEncoding.EncodeToString(secret),
		SecretFile: filepath.Join(dir, "tsig.key")}
	port := FreePort(t)
	d.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	zoneFile := fmt.Sprintf(`$TTL 60
@ IN SOA ns.%[1]s. hostmaster.%[1]s. 1 60 60 600 60
@ IN NS ns.%[1]s.
@ IN A 127.0.0.1
* IN A 127.0.0.1
`, zone)
	conf := fmt.Sprintf(`options {
  directory "%[1]s";
  listen-on port %[2]d { 127.0.0.1; };
  listen-on-v6 { none; };
  pid-file "%[1]s/named.pid";
  recursion no;
  dnssec-validation no;
  notify no;
};
key "%[3]s" { algorithm hmac-sha256; secret "%[4]s"; };
controls { };
zone "%[5]s" { type primary; file "%[1]s/zone.db"; allow-update { key "%[3]s"; }; };
`, dir, port, d.KeyName, d.Secret, zone)
	for name, data := range map[string]string{"zone.db": zoneFile, "named.conf": conf, "tsig.key": d.Secret + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	// As root, named keeps running as root: its files are in the test's
	// private temporary directory, which another user could not read.
	args := []string{"-g", "-c", filepath.Join(dir, "named.conf")}
	cmd := exec.Command(named, args...)
	log, _ := os.Create(filepath.Join(dir, "named.log"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start named: %v", err)
	}
	t.Cleanup(func() { stopGroup(cmd) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "named.log"))
			t.Fatalf("named did not start on %s:\n%s", d.Addr, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

func stopGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// Pebble is Let's Encrypt's ACME test server, run by the test.
type Pebble struct {
	Directory   string // https://127.0.0.1:PORT/dir
	DirectoryCA string // PEM file of the CA of its HTTPS certificate
	RootsFile   string // PEM file of the roots of the chains it issues
	HTTPPort    int    // where it validates http-01
	Dir         string
}

// PebbleOptions configure [StartPebble].
type PebbleOptions struct {
	DNSServer string   // -dnsserver: where it resolves names to validate
	HTTPPort  int      // http-01 validation port (0: a free one)
	Blocklist []string // names it refuses (rejectedIdentifier)
	Env       []string // extra environment, e.g. PEBBLE_WFE_NONCEREJECT=0
	// EAB, when set, requires External Account Binding with these keys
	// (key id -> base64url HMAC key).
	EAB map[string]string
}

// StartPebble builds and runs pebble with `go tool pebble` (the module's
// tool dependency), waits for its directory and fetches its root, and
// stops it when the test ends. Its random nonce rejections stay on.
func StartPebble(t testing.TB, o PebbleOptions) *Pebble {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = Path(t, "go")
	}
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := tlsFiles(t)
	p := &Pebble{Dir: dir, DirectoryCA: filepath.Join(dir, "pebble-ca.pem"), RootsFile: filepath.Join(dir, "acme-roots.pem"), HTTPPort: o.HTTPPort}
	if p.HTTPPort == 0 {
		p.HTTPPort = FreePort(t)
	}
	port, mgmt := FreePort(t), FreePort(t)
	p.Directory = fmt.Sprintf("https://127.0.0.1:%d/dir", port)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", port),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":                    filepath.Join(dir, "cert.pem"),
		"privateKey":                     filepath.Join(dir, "key.pem"),
		"httpPort":                       p.HTTPPort,
		"tlsPort":                        FreePort(t),
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": len(o.EAB) > 0,
		"externalAccountMACKeys":         o.EAB,
		"domainBlocklist":                append([]string{"blocked-domain.example"}, o.Blocklist...),
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		// As Let's Encrypt's: classic keeps the subject name (which
		// Lync's edge needs), tlsserver and shortlived do not.
		"profiles": map[string]any{
			"classic":    map[string]any{"description": "classic", "validityPeriod": 7776000, "promoteCommonName": true},
			"tlsserver":  map[string]any{"description": "tlsserver", "validityPeriod": 7776000},
			"shortlived": map[string]any{"description": "shortlived", "validityPeriod": 518400},
		},
	}}
	b, _ := json.Marshal(cfg)
	for name, data := range map[string][]byte{"pebble-ca.pem": caPEM, "cert.pem": certPEM, "key.pem": keyPEM, "pebble.json": b} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"tool", "pebble", "-config", filepath.Join(dir, "pebble.json")}
	if o.DNSServer != "" {
		args = append(args, "-dnsserver", o.DNSServer)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Env = append(append(os.Environ(), "PEBBLE_VA_NOSLEEP=1"), o.Env...)
	log, _ := os.Create(filepath.Join(dir, "pebble.log"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pebble: %v", err)
	}
	t.Cleanup(func() { stopGroup(cmd) })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(3 * time.Minute) // the first `go tool pebble` builds it
	for {
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmt))
		if err == nil {
			root, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				if err := os.WriteFile(p.RootsFile, root, 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "pebble.log"))
			t.Fatalf("pebble did not start: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tlsFiles makes a CA and a certificate for 127.0.0.1 and localhost.
func tlsFiles(t testing.TB) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pebble test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}
