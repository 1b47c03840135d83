package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUnknownSubcommandIsUsage: a word that is no subcommand of a group is
// a usage error (exit 2) in one line that suggests the command meant, even
// when flags of the meant command follow; the bare group prints its help.
func TestUnknownSubcommandIsUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"typo in a group", []string{"store", "lst"}, ExitUsage, `unknown command "lst" for "edgecert store"; did you mean list?`},
		{"typo with the meant command's flags", []string{"store", "lst", "--store", "x"}, ExitUsage, `did you mean list?`},
		{"typo two levels down", []string{"ca", "template", "lst", "--dir", "x"}, ExitUsage, `unknown command "lst" for "edgecert ca template"`},
		{"unknown top-level command", []string{"bogus"}, ExitUsage, `unknown command "bogus" for "edgecert" (see 'edgecert --help')`},
		{"top-level typo", []string{"sotre", "list"}, ExitUsage, `did you mean store?`},
		{"bare group prints its help", []string{"store"}, ExitOK, ""},
		{"group help", []string{"store", "--help"}, ExitOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runApplyCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			if tc.want == "" {
				if !strings.Contains(out, "Available Commands") {
					t.Fatalf("no help on stdout:\n%s", out)
				}
				return
			}
			if !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("stderr is not one line with %q:\n%s", tc.want, errOut)
			}
		})
	}
}

// tourCA initialises a CA in dir (no user) and returns its --ca-dir flags.
func tourCA(t *testing.T, dir string) []string {
	t.Helper()
	pass := caWrite(t, dir, "ca.pass", "a long CA passphrase\n")
	caDir := filepath.Join(dir, "ca")
	if out, errOut, code := runApplyCLI(t, "ca", "init", "--dir", caDir, "--name", "Contoso", "--key", "p256", "--passphrase-file", pass); code != ExitOK {
		t.Fatalf("ca init: exit %d\n%s%s", code, out, errOut)
	}
	return []string{"--ca-dir", caDir, "--passphrase-file", pass}
}

// TestApplyWaitingExits4: apply --ca-dir right after ca init (no user:
// whoever holds the CA folder is its operator), then apply that leaves the public CA's request in the
// outbox, and status while it waits, exit 4; once the answer is imported
// both exit 0.
func TestApplyWaitingExits4(t *testing.T) {
	dir := t.TempDir()
	caFlags := tourCA(t, dir) // no user: the CA folder's holder is its operator
	topo, ws := examplePath("edge-pool-dns.yaml"), filepath.Join(dir, "ws")
	apply := append([]string{"apply", "-t", topo, "--workspace", ws}, caFlags...)
	if _, errOut, code := runApplyCLI(t, append(apply, "--as", "nobody")...); code != ExitUsage || !strings.Contains(errOut, "--as nobody") {
		t.Fatalf("--as an unknown user: exit %d, want %d\n%s", code, ExitUsage, errOut)
	}
	out, errOut, code := runApplyCLI(t, apply...)
	if code != ExitWaiting || !strings.Contains(out, "1 waiting") {
		t.Fatalf("apply with a public CA certificate: exit %d, want %d\n%s%s", code, ExitWaiting, out, errOut)
	}
	if errOut != "" && strings.Contains(errOut, "error") {
		t.Fatalf("waiting is not an error:\n%s", errOut)
	}
	if _, _, code := runApplyCLI(t, "status", "-t", topo, "--workspace", ws); code != ExitWaiting {
		t.Fatalf("status with work left: exit %d, want %d", code, ExitWaiting)
	}
	csr := filepath.Join(ws, "outbox", "edge-external_lsedge.contoso.net.csr")
	ext := filepath.Join(dir, "ext.cer")
	if _, _, code := runApplyCLI(t, "ca", "user", "add", "--dir", caFlags[1], "admin", "--admin", "--password-file", caWrite(t, dir, "pw", "admin password\n")); code != ExitOK {
		t.Fatal("ca user add failed")
	}
	if out, errOut, code := runApplyCLI(t, append([]string{"ca", "issue", "--as", "admin", "--csr", csr, "--out", ext, "--dir"}, caFlags[1:]...)...); code != ExitOK {
		t.Fatalf("ca issue: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runApplyCLI(t, append(apply, "--import-response", ext)...); code != ExitOK {
		t.Fatalf("apply with the answer: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := runApplyCLI(t, "status", "-t", topo, "--workspace", ws); code != ExitOK {
		t.Fatalf("status when done: exit %d\n%s", code, out)
	}
}
