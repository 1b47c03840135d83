package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCAInitFolderPassphraseAndSecretFiles: ca init refuses a non-empty
// folder and a short passphrase (exit 2, nothing written), and a secret
// file that others may read works but draws a warning naming it.
func TestCAInitFolderPassphraseAndSecretFiles(t *testing.T) {
	tmp := t.TempDir()
	private := caWrite(t, tmp, "private.pass", "a long CA passphrase\n")
	shared := filepath.Join(tmp, "shared.pass")
	if err := os.WriteFile(shared, []byte("a long CA passphrase\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	short := caWrite(t, tmp, "short.pass", "elevenchars\n")
	full := filepath.Join(tmp, "full")
	os.Mkdir(full, 0o755)
	caWrite(t, full, "keep.txt", "keep")
	for _, c := range []struct {
		name    string
		dir     string
		pass    string
		code    int
		warning bool
	}{
		{"non-empty folder", full, private, 2, false},
		{"short passphrase", filepath.Join(tmp, "a"), short, 2, false},
		{"passphrase file others can read", filepath.Join(tmp, "b"), shared, 0, true},
		{"private passphrase file", filepath.Join(tmp, "c"), private, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := runCACLI(t, "ca", "init", "--dir", c.dir, "--key", "p256", "--passphrase-file", c.pass)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.code, out, errs)
			}
			if warned := strings.Contains(errs, "warning: passphrase file "+c.pass+" can be read by others"); warned != c.warning {
				t.Errorf("warning %v, want %v: %q", warned, c.warning, errs)
			}
			if strings.Count(strings.TrimSpace(errs), "\n") > 1 {
				t.Errorf("more than a line or two on stderr: %q", errs)
			}
			if c.code != 0 && c.dir != full {
				if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
					t.Errorf("a refused init left %s", c.dir)
				}
			}
		})
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Errorf("the non-empty folder now holds %d entries", len(ents))
	}
	if st, _ := os.Stat(full); st.Mode().Perm() != 0o755 {
		t.Errorf("the non-empty folder's mode changed to %v", st.Mode().Perm())
	}
}
