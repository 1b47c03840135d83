package certfmt

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/testtool"
)

// TestUnsupportedKeyAlgorithms: a valid file whose key this program cannot
// use is refused by naming the algorithm and the object of the file, not
// as corruption or a wrong password.
func TestUnsupportedKeyAlgorithms(t *testing.T) {
	openssl, certtool, dir := fieldTools(t)
	dsaParams := filepath.Join(dir, "dsa.param")
	run(t, openssl, "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "pbits:2048", "-out", dsaParams)
	tests := []struct {
		name    string
		genpkey []string
		cert    bool // openssl can self-sign with it
		gnutls  bool // certtool reads its certificate
		want    string
		pfxWhat string // the object of the PFX the error names
	}{
		{"DSA", []string{"-paramfile", dsaParams}, true, true, "unsupported key algorithm DSA (1.2.840.10040.4.1)", "private key"},
		{"RSA-PSS", []string{"-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"}, true, true, "unsupported key algorithm RSA-PSS (1.2.840.113549.1.1.10)", "private key"},
		{"brainpool", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:brainpoolP256r1"}, true, false, "unsupported EC curve brainpoolP256r1 (1.3.36.3.3.2.8.1.1.7)", "certificate"},
		{"explicit curve", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-pkeyopt", "ec_param_enc:explicit"}, true, false, "explicit curve parameters", "certificate"},
		{"secp256k1", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"}, true, false, "unsupported EC curve secp256k1 (1.3.132.0.10)", "certificate"},
		{"X25519", []string{"-algorithm", "X25519"}, false, false, "unsupported key algorithm X25519 (1.3.101.110)", "private key"},
		{"Ed448", []string{"-algorithm", "ED448"}, true, false, "unsupported key algorithm Ed448 (1.3.101.113)", "private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := filepath.Join(dir, tc.name+".key")
			run(t, openssl, append([]string{"genpkey", "-out", key}, tc.genpkey...)...)
			_, err := ParsePrivateKey(readFile(t, key))
			checkUnsupported(t, "key file", err, tc.want, "PRIVATE KEY")

			pfx := filepath.Join(dir, tc.name+".pfx")
			if tc.cert {
				cert := filepath.Join(dir, tc.name+".pem")
				run(t, openssl, "req", "-x509", "-key", key, "-subj", "/CN="+tc.name, "-days", "30", "-out", cert)
				if tc.gnutls {
					run(t, certtool, "-i", "--infile", cert)
				}
				if _, err := ParseCertificates(readFile(t, cert)); err != nil {
					checkUnsupported(t, "certificate", err, tc.want, "PEM block 1: certificate")
				}
				run(t, openssl, "pkcs12", "-export", "-inkey", key, "-in", cert, "-passout", "pass:pw", "-out", pfx)
			} else {
				run(t, openssl, "pkcs12", "-export", "-inkey", key, "-nocerts", "-passout", "pass:pw", "-out", pfx)
			}
			run(t, openssl, "pkcs12", "-in", pfx, "-passin", "pass:pw", "-noout")
			_, err = DecodePFX(readFile(t, pfx), "pw")
			checkUnsupported(t, "pfx", err, tc.want, "bag 1: "+tc.pfxWhat)
			if errors.Is(err, ErrWrongPassword) {
				t.Fatal("reported as a wrong password")
			}
		})
	}
	// No tool here writes these; the encodings are made by hand.
	t.Run("ML-KEM-768 PKCS#8", func(t *testing.T) {
		der, err := asn1.Marshal(struct {
			Version int
			Alg     struct{ OID asn1.ObjectIdentifier }
			Key     []byte
		}{0, struct{ OID asn1.ObjectIdentifier }{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}}, make([]byte, 64)})
		if err != nil {
			t.Fatal(err)
		}
		run(t, openssl, "asn1parse", "-inform", "DER", "-in", writeFile(t, dir, "mlkem.der", der))
		_, err = ParsePrivateKey(der)
		checkUnsupported(t, "key", err, "unsupported key algorithm ML-KEM-768 (2.16.840.1.101.3.4.4.2)", "")
	})
	t.Run("RSA-OAEP public key", func(t *testing.T) {
		rsaC, _ := chains(t)
		spki := append([]byte(nil), rsaC.Leaf.RawSubjectPublicKeyInfo...)
		rsaOID := []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}
		i := strings.Index(string(spki), string(rsaOID))
		spki[i+len(rsaOID)-1] = 0x07 // rsaEncryption → id-RSAES-OAEP
		if got := SPKIUnsupported(spki); got != "unsupported key algorithm RSAES-OAEP (1.2.840.113549.1.1.7)" {
			t.Fatalf("SPKIUnsupported = %q", got)
		}
		if got := SPKIUnsupported(rsaC.Leaf.RawSubjectPublicKeyInfo); got != "" {
			t.Fatalf("RSA refused: %q", got)
		}
	})
}

func checkUnsupported(t *testing.T, what string, err error, want, object string) {
	t.Helper()
	if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrMalformed) {
		t.Fatalf("%s: err = %v, want ErrUnsupported (and not ErrMalformed)", what, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) || !strings.Contains(msg, object) || strings.Count(msg, "unsupported") != 1 {
		t.Fatalf("%s: message %q does not say %q once about %q", what, msg, want, object)
	}
}

// TestSeveralKeysInPFX: a keystore with two key pairs, as Java's keytool
// writes it, is read whole with each key's certificate and alias; the
// one-key reader names what the file holds.
func TestSeveralKeysInPFX(t *testing.T) {
	openssl, _, dir := fieldTools(t)
	keytool := testtool.Path(t, "keytool")
	ks := filepath.Join(dir, "ks.p12")
	for _, k := range []struct{ alias, dn, alg string }{{"web", "CN=web.contoso.com", "RSA"}, {"edge", "CN=edge.contoso.com", "EC"}} {
		run(t, keytool, "-genkeypair", "-keystore", ks, "-storetype", "PKCS12", "-storepass", "changeit", "-alias", k.alias,
			"-keyalg", k.alg, "-dname", k.dn, "-validity", "30")
	}
	run(t, openssl, "pkcs12", "-in", ks, "-passin", "pass:changeit", "-noout")
	data := readFile(t, ks)
	all, err := DecodePFXAll(data, "changeit")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range all.Pairs {
		if !PublicKeysEqual(p.Key.Public(), p.Leaf.PublicKey) {
			t.Fatalf("%s: key and certificate do not match", p.FriendlyName)
		}
		got[p.FriendlyName] = p.Leaf.Subject.CommonName
	}
	if len(got) != 2 || got["web"] != "web.contoso.com" || got["edge"] != "edge.contoso.com" || len(all.Certs) != 0 {
		t.Fatalf("pairs %v, other certificates %d", got, len(all.Certs))
	}
	_, err = DecodePFX(data, "changeit")
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"CN=web.contoso.com"`) || !strings.Contains(err.Error(), `"CN=edge.contoso.com"`) {
		t.Fatalf("one-key reader: %v", err)
	}
}

// TestKeyContainerIsNotFriendlyName: Windows writes the key's container
// name as the key bag's friendlyName; it is kept as the container, and the
// friendly name comes from the certificate bag.
func TestKeyContainerIsNotFriendlyName(t *testing.T) {
	openssl, _, dir := fieldTools(t)
	_, ec := chains(t)
	const container = "te-WebServer-3f1c2a9e-0b7d-4c1e-9a55-1d2e3f4a5b6c"
	csp := BagAttribute{Type: OIDMSCSPName, Values: mustMarshal(t, bmpValue("Microsoft Software Key Storage Provider"))}
	attrs := func(name string, extra ...BagAttribute) []pkcs12Attribute {
		a, err := encodeBagAttributes([]byte("id"), name, extra)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		name                string
		certAttrs, keyAttrs []pkcs12Attribute
		friendly, wantCntnr string
	}{
		{"certmgr export: container on the key, nothing on the certificate", attrs(""), attrs(container, csp), "", container},
		{"friendly name on the certificate, container on the key", attrs("Edge External"), attrs(container, csp), "Edge External", container},
		{"GUID container without provider attribute", attrs(""), attrs("{3F1C2A9E-0B7D-4C1E-9A55-1D2E3F4A5B6C}"), "", "{3F1C2A9E-0B7D-4C1E-9A55-1D2E3F4A5B6C}"},
		{"openssl -name on both bags", attrs("Edge External"), attrs("Edge External"), "Edge External", ""},
		{"a name on the key bag only", attrs(""), attrs("Edge External"), "Edge External", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := buildPFX(t, "pw", []safeBag{testCertBag(t, ec.Leaf, tc.certAttrs), testKeyBag(t, ec.LeafKey, "pw", tc.keyAttrs)})
			run(t, openssl, "pkcs12", "-in", writeFile(t, dir, "c.pfx", data), "-passin", "pass:pw", "-noout")
			p, err := DecodePFX(data, "pw")
			if err != nil {
				t.Fatal(err)
			}
			if p.FriendlyName != tc.friendly || p.KeyContainer != tc.wantCntnr {
				t.Fatalf("friendly %q container %q, want %q %q", p.FriendlyName, p.KeyContainer, tc.friendly, tc.wantCntnr)
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSelfSignedRoots: version 1 roots and roots self-signed with SHA-1 or
// MD5 are self-signed (they go to root), while crypto/x509 still refuses
// to verify an MD5 signature for a chain.
func TestSelfSignedRoots(t *testing.T) {
	openssl, certtool, dir := fieldTools(t)
	key := filepath.Join(dir, "r.key")
	run(t, openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
	csr := filepath.Join(dir, "r.csr")
	run(t, openssl, "req", "-new", "-key", key, "-subj", "/O=Old Root Authority/CN=Old Root", "-out", csr)
	tests := []struct {
		name    string
		args    []string
		version int
	}{
		{"v1 sha256", []string{"x509", "-req", "-in", csr, "-signkey", key, "-sha256"}, 1},
		{"v1 sha1", []string{"x509", "-req", "-in", csr, "-signkey", key, "-sha1"}, 1},
		{"v1 md5", []string{"x509", "-req", "-in", csr, "-signkey", key, "-md5"}, 1},
		{"v3 sha1", []string{"req", "-x509", "-key", key, "-subj", "/CN=Old Root", "-sha1"}, 3},
		{"v3 md5", []string{"req", "-x509", "-key", key, "-subj", "/CN=Old Root", "-md5"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".pem")
			run(t, openssl, append(tc.args, "-days", "30", "-out", path)...)
			run(t, certtool, "-i", "--infile", path)
			c, err := first(ParseCertificates(readFile(t, path)))
			if err != nil {
				t.Fatal(err)
			}
			if c.Version != tc.version || !IsSelfSigned(c) {
				t.Fatalf("version %d, self-signed %v", c.Version, IsSelfSigned(c))
			}
			if c.SignatureAlgorithm == x509.MD5WithRSA && c.CheckSignatureFrom(c) == nil {
				t.Fatal("crypto/x509 verifies MD5 now: the trust check must be reviewed")
			}
		})
	}
	// Another key with the same name is not the issuer.
	_, ec := chains(t)
	if IssuedBy(ec.Leaf, ec.Root) || !IssuedBy(ec.Leaf, ec.Inter) {
		t.Fatal("IssuedBy does not follow the key")
	}
}

// TestDecodeNSSPFX: a .pfx that NSS's pk12util exports (PBES2 with
// AES-128 and AES-256, 600,000 iterations, nickname as friendly name) is
// read, as OpenSSL and GnuTLS read it.
func TestDecodeNSSPFX(t *testing.T) {
	openssl, certtool, dir := fieldTools(t)
	nssCertutil := testtool.Path(t, "certutil")
	pk12util := testtool.Path(t, "pk12util")
	db := "sql:" + dir
	pw := writeFile(t, dir, "pw.txt", []byte("db-password\n"))
	noise := writeFile(t, dir, "noise", []byte(strings.Repeat("noise for the key generation ", 4)))
	run(t, nssCertutil, "-N", "-d", db, "-f", pw)
	run(t, nssCertutil, "-S", "-d", db, "-f", pw, "-z", noise, "-n", "Edge External", "-s", "CN=edge.contoso.com,O=Contoso",
		"-x", "-t", "CT,,", "-k", "ec", "-q", "nistp256", "-v", "1")
	pfx := filepath.Join(dir, "edge.p12")
	run(t, pk12util, "-o", pfx, "-n", "Edge External", "-d", db, "-k", pw, "-W", "Pfx-Password")
	run(t, openssl, "pkcs12", "-in", pfx, "-passin", "pass:Pfx-Password", "-noout")
	run(t, certtool, "--p12-info", "--inder", "--infile", pfx, "--password", "Pfx-Password")
	p, err := DecodePFX(readFile(t, pfx), "Pfx-Password")
	if err != nil {
		t.Fatal(err)
	}
	if p.FriendlyName != "Edge External" || p.KeyContainer != "" || p.Leaf.Subject.CommonName != "edge.contoso.com" || !PublicKeysEqual(p.Key.Public(), p.Leaf.PublicKey) {
		t.Fatalf("read %q %q %v", p.FriendlyName, p.KeyContainer, p.Leaf.Subject)
	}
}
