package certfmt

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"path/filepath"
	"strings"
	"testing"
)

// TestNameString: names are shown as OpenSSL's RFC 2253 form shows them
// (with E for the e-mail address, as Windows), from the certificate's own
// encoding, DC and E included.
func TestNameString(t *testing.T) {
	openssl, certtool, dir := fieldTools(t)
	tests := []struct {
		name, subj, want string
	}{
		{"domain components and e-mail", "/DC=com/DC=contoso/OU=Servers/CN=edge01/emailAddress=admin@contoso.com", "E=admin@contoso.com,CN=edge01,OU=Servers,DC=contoso,DC=com"},
		{"Active Directory CA", "/DC=local/DC=corp/CN=corp-DC01-CA", "CN=corp-DC01-CA,DC=corp,DC=local"},
		{"order as written", "/CN=sip.contoso.com/O=Contoso/C=US", "C=US,O=Contoso,CN=sip.contoso.com"},
		{"multi-valued RDN", "/O=Contoso/CN=a+UID=b", "CN=a+UID=b,O=Contoso"},
		{"escapes", "/O=Contoso\\, Ltd/CN=#edge", "CN=\\#edge,O=Contoso\\, Ltd"},
		{"unnamed attribute", "/businessCategory=Private/CN=x", "CN=x,2.5.4.15=#0c0750726976617465"},
	}
	key := filepath.Join(dir, "k.pem")
	run(t, openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "c.pem")
			run(t, openssl, "req", "-x509", "-key", key, "-multivalue-rdn", "-utf8", "-subj", tc.subj, "-days", "1", "-out", path)
			run(t, certtool, "-i", "--infile", path)
			c, err := first(ParseCertificates(readFile(t, path)))
			if err != nil {
				t.Fatal(err)
			}
			got := NameString(c.RawSubject)
			if got != tc.want {
				t.Fatalf("NameString = %q, want %q", got, tc.want)
			}
			ossl := strings.TrimSpace(strings.TrimPrefix(string(run(t, openssl, "x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253")), "subject="))
			// OpenSSL also reverses the values of a multi-valued RDN;
			// crypto/x509 and this program keep their encoded order.
			if !strings.Contains(tc.name, "unnamed") && !strings.Contains(tc.name, "multi") && strings.ReplaceAll(ossl, "emailAddress=", "E=") != got {
				t.Fatalf("OpenSSL shows %q, NameString %q", ossl, got)
			}
		})
	}
	// Names crypto/x509 shows the same way are shown unchanged.
	_, ec := chains(t)
	if NameString(ec.Leaf.RawSubject) != ec.Leaf.Subject.String() {
		t.Fatalf("%q != %q", NameString(ec.Leaf.RawSubject), ec.Leaf.Subject.String())
	}
	// A BMPString value, as Windows writes some names.
	raw, _ := asn1.Marshal(pkix.RDNSequence{{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: asn1.RawValue{Tag: asn1.TagBMPString, Bytes: []byte{0, 'W', 0, 'i', 0, 'n'}}}}})
	if got := NameString(raw); got != "CN=Win" {
		t.Fatalf("BMPString: %q", got)
	}
	if got := NameString([]byte{1, 2, 3}); got != "#010203" {
		t.Fatalf("garbage: %q", got)
	}
}
