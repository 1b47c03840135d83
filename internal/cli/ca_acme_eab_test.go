package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/db"
)

// TestCAUserACMEEAB: acme-eab prints a key id and a 32-byte HMAC key
// (base64url) that the CA database then resolves to the user, audits it,
// and refuses unknown and disabled users.
func TestCAUserACMEEAB(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "ca")
	pass := caWrite(t, tmp, "pass.txt", "ca passphrase\n")
	must := func(want int, args ...string) string {
		t.Helper()
		out, errs, code := runCACLI(t, args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errs)
		}
		return out
	}
	must(0, "ca", "init", "--dir", dir, "--name", "Contoso", "--key", "p256", "--passphrase-file", pass)
	must(0, "ca", "user", "add", "--dir", dir, "webadmin", "--group", "g")
	var k struct {
		KID     string `json:"kid"`
		HMACKey string `json:"hmac_key"`
	}
	if err := json.Unmarshal([]byte(must(0, "ca", "user", "acme-eab", "--dir", dir, "webadmin", "-o", "json")), &k); err != nil {
		t.Fatal(err)
	}
	key, err := base64.RawURLEncoding.DecodeString(k.HMACKey)
	if err != nil || len(key) != 32 || k.KID == "" {
		t.Fatalf("acme-eab printed %+v (%v)", k, err)
	}
	if table := must(0, "ca", "user", "acme-eab", "--dir", dir, "webadmin"); !strings.Contains(table, "hmac_key") {
		t.Fatalf("table output: %q", table)
	}
	d, err := db.Open(context.Background(), filepath.Join(dir, "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	user, stored, err := d.EABKey(context.Background(), k.KID)
	d.Close()
	if err != nil || user != "webadmin" || string(stored) != string(key) {
		t.Fatalf("stored key: %q %x %v", user, stored, err)
	}
	must(2, "ca", "user", "acme-eab", "--dir", dir, "nobody")
	must(0, "ca", "user", "disable", "--dir", dir, "webadmin")
	must(1, "ca", "user", "acme-eab", "--dir", dir, "webadmin")
	must(2, "ca", "user", "acme-eab", "--dir", dir, "webadmin", "-o", "xml")
	if audit := must(0, "ca", "audit", "--dir", dir, "-o", "json"); !strings.Contains(audit, `"acme-eab-create"`) || !strings.Contains(audit, k.KID) {
		t.Errorf("no acme-eab-create entry naming %s in the audit log", k.KID)
	}
}
