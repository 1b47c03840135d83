package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"edgecert/internal/ca"
)

// startServe initialises a CA named name and serves it on listen; it
// returns the HTTPS URL, the root's fingerprint, what it printed so far
// and a stop function.
func startPinServe(t *testing.T, name, listen string, initOpts ...func(*ca.InitOptions)) (url, fp string, banner func() string, stop func()) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("pin test passphrase\n"), 0o600)
	io := ca.InitOptions{Name: name, Key: "p256", Passphrase: []byte("pin test passphrase")}
	for _, f := range initOpts {
		f(&io)
	}
	if err := ca.Init(context.Background(), dir, io); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errw syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runServeCmd(ctx, &out, &errw, "ca", "serve", "--dir", dir, "--listen", listen, "--http-listen", "127.0.0.1:0", "--passphrase-file", pass)
	}()
	urlRE := regexp.MustCompile(`HTTPS:\s+(https://\S+)/certsrv/`)
	fpRE := regexp.MustCompile(`fingerprint: ([0-9A-F]{64})`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && fp == ""; time.Sleep(50 * time.Millisecond) {
		if m := fpRE.FindStringSubmatch(out.String()); m != nil {
			url, fp = urlRE.FindStringSubmatch(out.String())[1], m[1]
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited %d: %s %s", code, out.String(), errw.String())
		default:
		}
	}
	if fp == "" {
		cancel()
		t.Fatalf("serve printed no fingerprint: %s %s", out.String(), errw.String())
	}
	return url, fp, out.String, func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Fatal("serve did not stop")
		}
	}
}

// TestPinSaidAloudAndMismatchInOneLine: pinning a CA root on first use
// says so and where; a later CA on the same address is refused in one line
// that names the pin file, both fingerprints and the command that re-pins,
// and that command, as printed, re-pins.
func TestPinSaidAloudAndMismatchInOneLine(t *testing.T) {
	pins := filepath.Join(t.TempDir(), "pins.json")
	url, oldFP, _, stop := startPinServe(t, "First CA", "127.0.0.1:0")
	fetch := []string{"ca", "fetch-chain", "--ca", url, "--pin-file", pins, "--out", filepath.Join(t.TempDir(), "chain.p7b")}
	_, errOut, code := runApplyCLI(t, fetch...)
	if code != ExitOK || !strings.Contains(errOut, "pinned the CA root of "+url+" (SHA-256 "+oldFP+") in "+pins) {
		t.Fatalf("first use: exit %d, the pin is not said aloud:\n%s", code, errOut)
	}
	if _, errOut, _ := runApplyCLI(t, fetch...); strings.Contains(errOut, "pinned") {
		t.Fatalf("an existing pin is announced again:\n%s", errOut)
	}
	stop()

	url2, newFP, _, stop2 := startPinServe(t, "Second CA", strings.TrimPrefix(url, "https://"))
	defer stop2()
	if url2 != url {
		t.Fatalf("the second CA serves %s, not %s", url2, url)
	}
	_, errOut, code = runApplyCLI(t, fetch...)
	if code == ExitOK {
		t.Fatal("a CA with another root was trusted")
	}
	if strings.Count(errOut, "\n") != 1 {
		t.Fatalf("the mismatch is not one line:\n%s", errOut)
	}
	for _, want := range []string{pins, oldFP, newFP, "edgecert ca fetch-chain --ca " + url + " --ca-fingerprint " + newFP} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the mismatch line lacks %q:\n%s", want, errOut)
		}
	}
	_, repin, ok := strings.Cut(strings.TrimSpace(errOut), "re-pin: edgecert ")
	if !ok {
		t.Fatalf("no re-pin command:\n%s", errOut)
	}
	args := strings.Fields(repin)
	for i := range args {
		if args[i] == "--out" && i+1 < len(args) {
			args[i+1] = filepath.Join(t.TempDir(), args[i+1])
		}
	}
	if _, errOut, code := runApplyCLI(t, args...); code != ExitOK || !strings.Contains(errOut, "pinned the CA root of "+url+" (SHA-256 "+newFP+")") {
		t.Fatalf("the printed re-pin command: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := runApplyCLI(t, fetch...); code != ExitOK {
		t.Fatalf("after re-pinning: exit %d\n%s", code, errOut)
	}
}

// TestLoopbackURLsSaidAloud: ca init and ca serve's banner warn when the
// certificates will carry loopback CRL, AIA and OCSP URLs (the defaults),
// and say nothing when they are addresses clients reach.
func TestLoopbackURLsSaidAloud(t *testing.T) {
	pass := caWrite(t, t.TempDir(), "pass", "a long CA passphrase\n")
	public := []string{"--crl-url", "http://pki.contoso.com/crl/", "--aia-url", "http://pki.contoso.com/aia/", "--ocsp-url", "http://pki.contoso.com/ocsp"}
	for _, tc := range []struct {
		name  string
		flags []string
		warn  []string
	}{
		{"defaults", nil, []string{"http://127.0.0.1:8080/crl/Contoso-Issuing-CA.crl", "http://127.0.0.1:8080/aia/Contoso-Issuing-CA.crt", "http://127.0.0.1:8080/ocsp", "--crl-url"}},
		{"localhost OCSP only", append(public[:4:4], "--ocsp-url", "http://localhost:8080/ocsp"), []string{"http://localhost:8080/ocsp"}},
		{"public addresses", public, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"ca", "init", "--dir", filepath.Join(t.TempDir(), "ca"), "--name", "Contoso", "--key", "p256", "--passphrase-file", pass}, tc.flags...)
			_, errOut, code := runApplyCLI(t, args...)
			if code != ExitOK {
				t.Fatalf("init: exit %d\n%s", code, errOut)
			}
			if tc.warn == nil && errOut != "" {
				t.Fatalf("a warning for reachable URLs:\n%s", errOut)
			}
			for _, w := range tc.warn {
				if !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, w) {
					t.Errorf("the init warning lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	t.Run("serve banner", func(t *testing.T) {
		_, _, banner, stop := startPinServe(t, "Loopback CA", "127.0.0.1:0")
		defer stop()
		if !strings.Contains(banner(), "warning: the certificates carry loopback revocation and issuer URLs (http://127.0.0.1:8080/crl/") {
			t.Fatalf("the banner does not warn:\n%s", banner())
		}
		_, _, banner2, stop2 := startPinServe(t, "Public CA", "127.0.0.1:0", func(o *ca.InitOptions) {
			o.CRLURL, o.AIAURL, o.OCSPURL = "http://pki.contoso.com/crl/", "http://pki.contoso.com/aia/", "http://pki.contoso.com/ocsp"
		})
		defer stop2()
		if strings.Contains(banner2(), "warning") {
			t.Fatalf("the banner warns about reachable URLs:\n%s", banner2())
		}
	})
}
