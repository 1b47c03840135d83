package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInputSizeCaps: every reader of an outside file stops at the size
// its format can have and says "file too large" with the bound, quickly,
// for /dev/zero, a FIFO-like endless stream and an oversized file alike.
func TestInputSizeCaps(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(65 << 20) // sparse: over every bound, costs no disk
	f.Close()
	st := filepath.Join(dir, "store")
	// A YAML topology without anchors or aliases, far larger than any
	// deployment: refused by its node budget before a tree is built.
	var y strings.Builder
	y.WriteString("version: 1\nsites:\n")
	for y.Len() < 3<<20 {
		y.WriteString("  - name: site\n    servers: [a, b]\n")
	}
	hugeYAML := writeFile(t, dir, "huge.yaml", []byte(y.String()))
	cases := []struct {
		name  string
		args  []string
		limit string
	}{
		{"store import /dev/zero", []string{"store", "import", "--store", st, "/dev/zero"}, "4 MiB"},
		{"store import big", []string{"store", "import", "--store", st, big}, "4 MiB"},
		{"request show /dev/zero", []string{"request", "show", "/dev/zero"}, "1 MiB"},
		{"request show big", []string{"request", "show", big}, "1 MiB"},
		{"ca issue --csr /dev/zero", []string{"ca", "issue", "--dir", filepath.Join(dir, "ca"), "--as", "admin", "--csr", "/dev/zero"}, "1 MiB"},
		{"ca import-issuing /dev/zero", []string{"ca", "import-issuing", "--dir", filepath.Join(dir, "ca"), "--cert", "/dev/zero", "--root", "/dev/zero"}, "4 MiB"},
		{"passphrase file /dev/zero", []string{"store", "list", "--store", st, "--passphrase-file", "/dev/zero"}, "64 KiB"},
		{"plan /dev/zero", []string{"plan", "-t", "/dev/zero"}, "64 MiB"},
		{"plan big", []string{"plan", "-t", big}, "64 MiB"},
		{"plan huge yaml", []string{"plan", "-t", hugeYAML}, "at most 200000"},
	}
	if err := os.Mkdir(st, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, errs, code := runStoreCLI(t, tc.args...)
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %v", d)
			}
			if code != ExitUsage || !strings.Contains(errs, "file too large") || !strings.Contains(errs, tc.limit) {
				t.Fatalf("exit %d, want %d with \"file too large\" and %s:\n%s", code, ExitUsage, tc.limit, errs)
			}
		})
	}
}

// TestRequestShowStdinCapped: standard input is bounded too.
func TestRequestShowStdinCapped(t *testing.T) {
	z, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var out, errb strings.Builder
	code := Main([]string{"request", "show", "-"}, Streams{In: z, Out: &out, Err: &errb})
	if code != ExitUsage || !strings.Contains(errb.String(), "standard input: file too large") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
