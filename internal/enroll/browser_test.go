package enroll

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgecert/internal/ca"
	"edgecert/internal/testtool"
)

// browserResult is what browsertest/run.mjs reports.
type browserResult struct {
	Screenshots []string `json:"screenshots"`
	Downloads   map[string]struct {
		File      string `json:"file"`
		Suggested string `json:"suggested"`
	} `json:"downloads"`
	IssuedID       int64  `json:"issuedId"`
	PendingID      int64  `json:"pendingId"`
	RefusedStatus  int    `json:"refusedStatus"`
	RefusedMessage string `json:"refusedMessage"`
}

// testOutDir is where screenshots go: $EDGECERT_TEST_OUT/<test>, or a
// temporary directory.
func testOutDir(t *testing.T) string {
	dir := t.TempDir()
	if base := os.Getenv("EDGECERT_TEST_OUT"); base != "" {
		dir = filepath.Join(base, t.Name())
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBrowserEnrollment drives the pages in headless Chromium: sign in,
// download the chain, request and download a certificate, approve a
// pending request as an administrator, see the requests table fit at
// 1280 px and at a phone's width with every name of a pending request,
// revoke with a confirmation, and see a user without Enroll permission
// refused.
func TestBrowserEnrollment(t *testing.T) {
	node := testtool.Path(t, "node")
	chromium := testtool.Path(t, "chromium")
	openssl := testtool.Path(t, "openssl")
	if _, err := os.Stat("browsertest/node_modules/playwright-core"); err != nil {
		if testtool.Required() {
			t.Fatal("playwright-core is not installed in internal/enroll/browsertest (run ./scripts/test.sh)")
		}
		t.Skip("playwright-core not installed (npm ci in internal/enroll/browsertest)")
	}
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	out := testOutDir(t)
	// A pending request with a long subject and many names, to see the
	// requests table fit.
	wideNames := []string{"a-very-long-host-name-for-the-edge-pool.emea.contoso.com", "sip.contoso.com", "webconf.contoso.com", "av.contoso.com", "lyncdiscover.contoso.com"}
	st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSRNames(t, wideNames[0], wideNames), "template": tmplApproval})
	if st != 202 {
		t.Fatalf("wide request: %d %s", st, body)
	}
	cfg := map[string]any{
		"url": ts.url, "chromium": chromium, "out": out,
		"user": "alice", "password": tc.passAlice, "admin": "admin", "adminPassword": tc.passAdmin,
		"noEnrollUser": "carol", "noEnrollPassword": tc.passCar,
		"templateAuto": tmplAuto, "templateApproval": tmplApproval,
		"wideId": decodeNoT(body).RequestID, "wideNames": wideNames,
		"csrIssue": newCSR(t, "web.contoso.com"), "csrPending": newCSR(t, "pending.contoso.com"), "csrRefused": newCSR(t, "carol.contoso.com"),
	}
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "run.mjs", cfgFile)
	cmd.Dir = "browsertest"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("browser run: %v\n%s\n%s", err, stdout, stderr.String())
	}
	var res browserResult
	if err := json.Unmarshal(stdout, &res); err != nil {
		t.Fatalf("browser output %q: %v", stdout, err)
	}
	t.Logf("screenshots in %s", out)

	t.Run("chain is PKCS#7", func(t *testing.T) {
		for _, name := range []string{"certnew.p7b", "certnew-b64.p7b"} {
			d := res.Downloads[name]
			if d.Suggested != "certnew.p7b" {
				t.Errorf("%s saved as %q", name, d.Suggested)
			}
			data, _ := os.ReadFile(d.File)
			certs, err := parseP7BForTest(data)
			if err != nil || len(certs) != len(tc.eng.Chain()) {
				t.Errorf("%s: %d certificates, %v", name, len(certs), err)
			}
		}
		inform := "DER"
		outp, err := exec.Command(openssl, "pkcs7", "-inform", inform, "-in", res.Downloads["certnew.p7b"].File, "-print_certs", "-noout").CombinedOutput()
		if err != nil || strings.Count(string(outp), "subject=") != len(tc.eng.Chain()) {
			t.Errorf("openssl pkcs7: %v\n%s", err, outp)
		}
	})
	t.Run("issued certificate", func(t *testing.T) {
		data, _ := os.ReadFile(res.Downloads["issued.cer"].File)
		blk, _ := pem.Decode(data)
		if blk == nil {
			t.Fatalf("issued.cer is not Base64 (PEM): %q", data)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil || !strings.Contains(strings.Join(cert.DNSNames, ","), "web.contoso.com") {
			t.Fatalf("issued certificate: %v %v", err, cert.DNSNames)
		}
		p7, _ := os.ReadFile(res.Downloads["issued.p7b"].File)
		certs, err := parseP7BForTest(p7)
		if err != nil || len(certs) != 1+len(tc.eng.Chain()) || !certs[0].Equal(cert) {
			t.Errorf("issued .p7b: %d certificates, %v", len(certs), err)
		}
	})
	t.Run("pending approved", func(t *testing.T) {
		r, err := tc.eng.Request(context.Background(), ca.Operator(), res.PendingID)
		if err != nil || r.Status != ca.StatusIssued {
			t.Fatalf("request %d after approval: %+v, %v", res.PendingID, r, err)
		}
	})
	t.Run("no Enroll permission", func(t *testing.T) {
		if res.RefusedStatus != 403 || !strings.Contains(res.RefusedMessage, "may not enroll") {
			t.Errorf("forged request: status %d, %q", res.RefusedStatus, res.RefusedMessage)
		}
	})
	if len(res.Screenshots) < 15 {
		t.Errorf("%d screenshots", len(res.Screenshots))
	}
}
