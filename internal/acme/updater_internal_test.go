package acme

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"edgecert/internal/topology"
)

// The RFC 2136 rule becomes lego's provider: TSIG with the secret from its
// file, or GSS-TSIG with a keytab or a password file; a missing secret file
// is invalid input naming the key. (GSS-TSIG itself needs a KDC and is not
// exercised here.)
func TestUpdaterConfig(t *testing.T) {
	dir := t.TempDir()
	secret, pw := filepath.Join(dir, "tsig.key"), filepath.Join(dir, "gss.pw")
	_ = os.WriteFile(secret, []byte("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\n"), 0o600)
	_ = os.WriteFile(pw, []byte("kerberos password\n"), 0o600)
	c := &Client{}
	for _, tc := range []struct {
		name string
		cfg  topology.RFC2136
		bad  bool
	}{
		{"tsig", topology.RFC2136{Server: "127.0.0.1:53", Zone: "contoso.test.", TSIGKey: "k", TSIGAlgorithm: "hmac-sha256", TSIGSecretFile: secret}, false},
		{"tsig secret missing", topology.RFC2136{Server: "127.0.0.1:53", Zone: "contoso.test.", TSIGKey: "k", TSIGAlgorithm: "hmac-sha256", TSIGSecretFile: filepath.Join(dir, "none")}, true},
		{"gss keytab", topology.RFC2136{Server: "127.0.0.1:53", Zone: "contoso.test.", TSIGAlgorithm: "gss-tsig", GSSRealm: "CONTOSO.TEST", GSSUsername: "acme", GSSKeytabFile: filepath.Join(dir, "acme.keytab")}, false},
		{"gss password", topology.RFC2136{Server: "127.0.0.1:53", Zone: "contoso.test.", TSIGAlgorithm: "gss-tsig", GSSRealm: "CONTOSO.TEST", GSSUsername: "acme", GSSPasswordFile: pw}, false},
		{"gss password missing", topology.RFC2136{Server: "127.0.0.1:53", Zone: "contoso.test.", TSIGAlgorithm: "gss-tsig", GSSRealm: "CONTOSO.TEST", GSSUsername: "acme", GSSPasswordFile: filepath.Join(dir, "none")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := c.updater(&tc.cfg)
			if tc.bad {
				if !errors.Is(err, ErrInvalidInput) {
					t.Errorf("got %v, want invalid input", err)
				}
				return
			}
			if err != nil || p == nil {
				t.Errorf("updater: %v", err)
			}
		})
	}
}
