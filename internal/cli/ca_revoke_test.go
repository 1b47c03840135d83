package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCARevokeRefusals: a serial over 20 octets and the reasons this CA
// does not offer are invalid input (exit 2) with one clear line.
func TestCARevokeRefusals(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "ca")
	pass := caWrite(t, tmp, "pass.txt", "ca passphrase\n")
	if _, errs, code := runCACLI(t, "ca", "init", "--dir", dir, "--key", "p256", "--passphrase-file", pass); code != 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct{ name, serial, reason, says string }{
		{"21 octets", "01" + strings.Repeat("FF", 20), "superseded", "a serial is at most 20 octets"},
		{"certificateHold", "0A", "certificateHold", "certificateHold is not offered"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errs, code := runCACLI(t, "ca", "revoke", "--dir", dir, "--serial", c.serial, "--reason", c.reason, "--passphrase-file", pass)
			if code != 2 || !strings.Contains(errs, c.says) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Fatalf("exit %d: %q", code, errs)
			}
		})
	}
}
