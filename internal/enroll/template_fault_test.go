package enroll

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/ca"
)

// TestBrokenTemplateIsAServerFault: a template file the CA cannot use is
// a 500 for the request that names it, without the CA's paths, while the
// other templates keep issuing (issue 14, item 12).
func TestBrokenTemplateIsAServerFault(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	dir := tc.eng.(*ca.Engine).Dir()
	if err := os.WriteFile(filepath.Join(dir, "templates", "Broken.yaml"), []byte("name: Broken\nvalidity: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "web1.contoso.com"), "template": "Broken"})
	if st != http.StatusInternalServerError || strings.Contains(string(body), dir) || strings.Contains(string(body), ".yaml") {
		t.Fatalf("status %d: %s", st, body)
	}
	st, body = ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "web2.contoso.com"), "template": tmplAuto})
	if st != http.StatusCreated {
		t.Fatalf("a good template after a bad one: status %d: %s", st, body)
	}
}
