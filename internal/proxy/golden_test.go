package proxy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/apply/standinca"
	"edgecert/internal/proxy"
	"edgecert/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenConfig writes the configuration of one listener with two rules
// (conf.d mode or not) forwarding to upstream (HTTPS on 4443, HTTP on
// 8080) into a new directory, and returns it and the files.
func goldenConfig(t *testing.T, confD bool, upstream string) (string, *proxy.Files) {
	t.Helper()
	ca, err := standinca.Open(filepath.Join(t.TempDir(), "ca"), standinca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "webext.contoso.com"}, DNSNames: []string{"webext.contoso.com"}}, key)
	leaf, err := ca.Sign(csrDER, standinca.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := proxy.WriteNginx(proxy.Config{
		Dir: dir, Listen: "0.0.0.0:443", HTTPListen: "0.0.0.0:80", ConfD: confD, ConfDName: "rp01.contoso.com.conf",
		UpstreamTrust: []*x509.Certificate{ca.Cert},
		Listeners: []proxy.Listener{{Name: "reverse-proxy_rp", Cert: leaf, Chain: []*x509.Certificate{ca.Cert}, Key: key, Rules: []proxy.Rule{
			{Name: "external web services of pool01.contoso.net", Hosts: []string{"webext.contoso.com"}, HTTPSUpstream: upstream + ":4443", HTTPUpstream: upstream + ":8080", UpstreamName: "pool01.contoso.net"},
			{Name: "simple URLs and lyncdiscover (to pool01.contoso.net)", Hosts: []string{"dialin.contoso.com", "meet.contoso.com"}, HTTPSUpstream: upstream + ":4443", HTTPUpstream: upstream + ":8080", UpstreamName: "pool01.contoso.net"},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir, files
}

// TestNginxConfigGolden compares the written nginx.conf, and the conf.d
// server-block file, (with the output directory replaced by $DIR) to
// their golden files in testdata.
func TestNginxConfigGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		confD  bool
		golden string
	}{
		{"private nginx", false, "nginx.conf.golden"},
		{"distribution's conf.d", true, "conf.d.golden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, files := goldenConfig(t, tc.confD, "pool01.contoso.net")
			b, err := os.ReadFile(files.Config)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(string(b), dir, "$DIR")
			golden := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Fatalf("%s differs from %s (run go test -update after checking):\n%s", files.Config, golden, got)
			}
			served, err := os.ReadFile(files.Certs[0])
			if err != nil || strings.Count(string(served), "BEGIN CERTIFICATE") != 1 {
				t.Fatalf("the served file must hold the leaf without the root: %v", err)
			}
		})
	}
}

// TestNginxConfDWithDistributionNginx: the conf.d file has no pid, events
// or runtime paths, names every file by an absolute path, and the
// distribution's nginx accepts it (nginx -t) when a minimal main
// configuration includes it from its http block, as /etc/nginx/nginx.conf
// includes /etc/nginx/conf.d/*.conf.
func TestNginxConfDWithDistributionNginx(t *testing.T) {
	nginx := testtool.Path(t, "nginx")
	dir, files := goldenConfig(t, true, "127.0.0.1") // nginx -t resolves upstream names
	b, err := os.ReadFile(files.Config)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, forbidden := range []string{"pid ", "events", "error_log", "_temp_path", "worker_processes", "http {"} {
		for _, line := range strings.Split(conf, "\n") {
			if l := strings.TrimSpace(line); !strings.HasPrefix(l, "#") && strings.Contains(l, forbidden) {
				t.Errorf("the conf.d file has %q, which belongs to the main configuration: %s", forbidden, l)
			}
		}
	}
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ";"))
		if len(f) == 2 && (f[0] == "ssl_certificate" || f[0] == "ssl_certificate_key" || f[0] == "proxy_ssl_trusted_certificate") && !filepath.IsAbs(f[1]) {
			t.Errorf("%s is not absolute: %s", f[0], line)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 5 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("conf.d mode wrote %v: want the certificate, key, chain, upstream trust and the .conf only", names)
	}

	// A minimal main configuration of the distribution's shape, its
	// runtime files in a temporary folder.
	prefix := t.TempDir()
	confDDir := filepath.Join(prefix, "conf.d")
	if err := os.Mkdir(confDDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(files.Config, filepath.Join(confDDir, filepath.Base(files.Config))); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server_names_hash_bucket_size 128;
    include %[1]s/conf.d/*.conf;
}
`, prefix)
	mainPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(mainPath, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-p", prefix, "-c", mainPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "test is successful") {
		t.Fatalf("nginx -t with the conf.d file included: %v\n%s", err, out)
	}
}

// TestNginxConfigGoldenACME: with an ACME http-01 webroot, each port 80
// server answers /.well-known/acme-challenge/ from it and nothing else on
// port 80 changes; a listener whose certificate is not issued yet gets its
// port 80 servers only (so that the CA can validate), no TLS server.
func TestNginxConfigGoldenACME(t *testing.T) {
	ca, err := standinca.Open(filepath.Join(t.TempDir(), "ca"), standinca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rules := []proxy.Rule{
		{Name: "external web services of pool01.contoso.net", Hosts: []string{"webext.contoso.com"}, HTTPSUpstream: "pool01.contoso.net:4443", HTTPUpstream: "pool01.contoso.net:8080", UpstreamName: "pool01.contoso.net", ACMEWebroot: "/var/lib/edgecert/acme"},
		{Name: "simple URLs and lyncdiscover (to pool01.contoso.net)", Hosts: []string{"dialin.contoso.com", "meet.contoso.com"}, HTTPSUpstream: "pool01.contoso.net:4443", HTTPUpstream: "pool01.contoso.net:8080", UpstreamName: "pool01.contoso.net"},
	}
	for _, tc := range []struct {
		name, golden string
		issued       bool
	}{
		{"issued", "nginx-acme.conf.golden", true},
		{"waiting for its certificate", "nginx-acme-bootstrap.conf.golden", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := proxy.Listener{Name: "reverse-proxy_rp", Rules: rules}
			if tc.issued {
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "webext.contoso.com"}, DNSNames: []string{"webext.contoso.com"}}, key)
				if l.Cert, err = ca.Sign(csrDER, standinca.SignOptions{}); err != nil {
					t.Fatal(err)
				}
				l.Key, l.Chain = key, []*x509.Certificate{ca.Cert}
			}
			dir := t.TempDir()
			files, err := proxy.WriteNginx(proxy.Config{Dir: dir, Listen: "0.0.0.0:443", HTTPListen: "0.0.0.0:80",
				UpstreamTrust: trust(tc.issued, ca.Cert), Listeners: []proxy.Listener{l}})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(files.Config)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(string(b), dir, "$DIR")
			golden := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Fatalf("nginx.conf differs from %s (run go test -update after checking):\n%s", golden, got)
			}
			if !tc.issued && (len(files.Certs) != 0 || strings.Contains(got, "ssl_certificate")) {
				t.Error("a TLS listener was written without its certificate")
			}
		})
	}
}

// trust is the upstream trust of a configuration: none before any
// certificate is installed on the reverse proxy.
func trust(issued bool, root *x509.Certificate) []*x509.Certificate {
	if !issued {
		return nil
	}
	return []*x509.Certificate{root}
}
