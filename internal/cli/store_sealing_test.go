package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreSealingRefusedBeforeWriting: a store made with a passphrase
// refuses a request or import without it or with another, exit 2, and
// nothing in it changes.
func TestStoreSealingRefusedBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store")
	right := writeFile(t, dir, "right.txt", []byte("right horse battery\n"))
	wrong := writeFile(t, dir, "wrong.txt", []byte("wrong horse battery\n"))
	mustRun(t, "request", "new", "--store", st, "--passphrase-file", right, "--cn", "a.contoso.com", "--key", "p256", "--out", filepath.Join(dir, "a.csr"))
	before := hashTree(t, st)
	for _, extra := range [][]string{nil, {"--passphrase-file", wrong}} {
		args := append([]string{"request", "new", "--store", st, "--cn", "b.contoso.com", "--key", "p256", "--out", filepath.Join(dir, "b.csr")}, extra...)
		_, errs, code := runStoreCLI(t, args...)
		if code != ExitUsage || !strings.Contains(errs, "passphrase") {
			t.Fatalf("%v: exit %d\n%s", args, code, errs)
		}
		if hashTree(t, st) != before {
			t.Fatalf("%v changed the store", args)
		}
	}
	mustRun(t, "request", "new", "--store", st, "--passphrase-file", right, "--cn", "b.contoso.com", "--key", "p256", "--out", filepath.Join(dir, "b.csr"))
	mustRun(t, "store", "check", "--store", st, "--passphrase-file", right)
}
