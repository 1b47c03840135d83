package cli

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCAUserCommands: remove, disable, enable, passwd, set and token
// revocation, their exit codes, and their audit entries.
func TestCAUserCommands(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "ca")
	pass := caWrite(t, tmp, "pass.txt", "ca passphrase\n")
	pw := caWrite(t, tmp, "pw.txt", "a password\n")
	must := func(want int, args ...string) string {
		t.Helper()
		out, errs, code := runCACLI(t, args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errs)
		}
		return out + errs
	}
	must(0, "ca", "init", "--dir", dir, "--name", "Contoso", "--key", "p256", "--passphrase-file", pass)
	must(0, "ca", "user", "add", "--dir", dir, "alice", "--admin", "--password-file", pw)
	must(0, "ca", "user", "add", "--dir", dir, "bot", "--group", "g")
	ids := regexp.MustCompile(`\(id ([0-9a-f]{12})\)`)
	var tokIDs []string
	for i := 0; i < 2; i++ {
		m := ids.FindStringSubmatch(must(0, "ca", "user", "token", "--dir", dir, "bot", "--out", filepath.Join(tmp, "bot.token")))
		if m == nil {
			t.Fatal("ca user token did not print the token's id")
		}
		tokIDs = append(tokIDs, m[1])
	}
	var list []struct{ ID string }
	json.Unmarshal([]byte(must(0, "ca", "user", "token", "list", "--dir", dir, "bot", "-o", "json")), &list)
	if len(list) != 2 {
		t.Fatalf("token list: %+v", list)
	}
	for _, c := range []struct {
		name string
		want int
		args []string
	}{
		{"revoke one token", 0, []string{"ca", "user", "token", "revoke", "--dir", dir, "bot", "--id", tokIDs[0]}},
		{"revoke it again", 2, []string{"ca", "user", "token", "revoke", "--dir", dir, "bot", "--id", tokIDs[0]}},
		{"revoke without --id or --all", 2, []string{"ca", "user", "token", "revoke", "--dir", dir, "bot"}},
		{"revoke with both", 2, []string{"ca", "user", "token", "revoke", "--dir", dir, "bot", "--all", "--id", tokIDs[1]}},
		{"revoke all", 0, []string{"ca", "user", "token", "revoke", "--dir", dir, "bot", "--all"}},
		{"demote", 0, []string{"ca", "user", "set", "--dir", dir, "alice", "--admin=false"}},
		{"set nothing", 2, []string{"ca", "user", "set", "--dir", dir, "alice"}},
		{"new password", 0, []string{"ca", "user", "passwd", "--dir", dir, "alice", "--password-file", pw}},
		{"password of nobody", 2, []string{"ca", "user", "passwd", "--dir", dir, "nobody", "--password-file", pw}},
		{"disable", 0, []string{"ca", "user", "disable", "--dir", dir, "alice"}},
		{"token for a disabled user", 1, []string{"ca", "user", "token", "--dir", dir, "alice"}},
		{"enable", 0, []string{"ca", "user", "enable", "--dir", dir, "alice"}},
		{"remove", 0, []string{"ca", "user", "remove", "--dir", dir, "bot"}},
		{"remove again", 2, []string{"ca", "user", "remove", "--dir", dir, "bot"}},
	} {
		t.Run(c.name, func(t *testing.T) { must(c.want, c.args...) })
	}
	var users []struct {
		Name     string
		Admin    bool
		Disabled bool
	}
	json.Unmarshal([]byte(must(0, "ca", "user", "list", "--dir", dir, "-o", "json")), &users)
	if len(users) != 1 || users[0].Name != "alice" || users[0].Admin || users[0].Disabled {
		t.Fatalf("users: %+v", users)
	}
	audit := must(0, "ca", "audit", "--dir", dir, "-o", "json")
	for _, action := range []string{"token-revoke", "user-set", "user-passwd", "user-disable", "user-enable", "user-remove"} {
		if !strings.Contains(audit, `"`+action+`"`) {
			t.Errorf("no %s entry in the audit log", action)
		}
	}
}
