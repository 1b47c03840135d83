package certfmt

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/testtool"
)

const testPassword = "Pa55-wörd"

// pemFiles writes the leaf key, the leaf and the chain of c as PEM files.
func pemFiles(t *testing.T, c *testChain) (dir, key, leaf, chain string) {
	t.Helper()
	dir = t.TempDir()
	k, err := MarshalPrivateKeyPEM(c.LeafKey)
	if err != nil {
		t.Fatal(err)
	}
	key = writeFile(t, dir, "leaf.key", k)
	leaf = writeFile(t, dir, "leaf.pem", EncodeCertificatePEM(c.Leaf))
	chain = writeFile(t, dir, "chain.pem", EncodeCertificatePEM(c.Inter, c.Root))
	return dir, key, leaf, chain
}

// TestDecodeOpenSSLPFX reads PFX files that OpenSSL 3 writes with every
// option set an administrator or Windows-minded script uses.
func TestDecodeOpenSSLPFX(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	rsaC, ecC := chains(t)
	tests := []struct {
		name  string
		chain *testChain
		args  []string
		check func(t *testing.T, p *PFX)
	}{
		{name: "default aes256 pbkdf2", chain: rsaC},
		{name: "default ecdsa", chain: ecC},
		{name: "legacy rc2-40 3des sha1", chain: rsaC, args: []string{"-legacy"}},
		{name: "descert", chain: rsaC, args: []string{"-descert"}},
		{name: "3des sha1 like windows", chain: ecC, args: []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"}},
		{name: "sha512 mac", chain: rsaC, args: []string{"-macalg", "sha512"}},
		{name: "no mac", chain: rsaC, args: []string{"-nomac"}},
		{name: "unencrypted bags", chain: ecC, args: []string{"-keypbe", "NONE", "-certpbe", "NONE"}},
		{name: "lmk csp", chain: rsaC, args: []string{"-LMK", "-CSP", "Microsoft Enhanced RSA and AES Cryptographic Provider"},
			check: func(t *testing.T, p *PFX) {
				var csp string
				var lmk bool
				for _, a := range p.KeyAttributes {
					switch {
					case a.Type.Equal(OIDMSCSPName):
						csp = a.Text()
					case a.Type.Equal(OIDMSLocalMachineKeyset):
						lmk = true
					}
				}
				if csp != "Microsoft Enhanced RSA and AES Cryptographic Provider" || !lmk {
					t.Fatalf("Windows attributes lost: CSP %q, LMK %v (%d attributes)", csp, lmk, len(p.KeyAttributes))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, key, leaf, chain := pemFiles(t, tt.chain)
			out := filepath.Join(dir, "out.pfx")
			args := append([]string{"pkcs12", "-export", "-inkey", key, "-in", leaf, "-certfile", chain,
				"-name", "Lync Edge (external)", "-passout", "pass:" + testPassword, "-out", out}, tt.args...)
			run(t, openssl, args...)
			data, _ := os.ReadFile(out)
			if Detect(data) != FormatPKCS12 {
				t.Fatalf("Detect = %v", Detect(data))
			}
			p, err := DecodePFX(data, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			checkPFX(t, p, tt.chain, "Lync Edge (external)")
			if tt.check != nil {
				tt.check(t, p)
			}
			if _, err := DecodePFX(data, "wrong"); !errors.Is(err, ErrWrongPassword) {
				t.Fatalf("wrong password: err = %v", err)
			}
		})
	}
}

// checkPFX checks that p holds c's key, leaf and chain and the friendly name.
func checkPFX(t *testing.T, p *PFX, c *testChain, name string) {
	t.Helper()
	if !PublicKeysEqual(p.Key.Public(), c.Leaf.PublicKey) {
		t.Fatal("key does not match the leaf")
	}
	if !p.Leaf.Equal(c.Leaf) {
		t.Fatalf("leaf is %q, want %q", p.Leaf.Subject, c.Leaf.Subject)
	}
	if len(p.CA) != 2 || !p.CA[0].Equal(c.Inter) || !p.CA[1].Equal(c.Root) {
		t.Fatalf("chain has %d certificates, want intermediate and root", len(p.CA))
	}
	if p.FriendlyName != name {
		t.Fatalf("friendly name %q, want %q", p.FriendlyName, name)
	}
	if len(p.LocalKeyID) == 0 {
		t.Fatal("no localKeyId")
	}
}

// TestOpenSSLAndCerttoolReadOurPFX writes both profiles and has OpenSSL
// (without -legacy) and GnuTLS read them, friendly name included.
func TestOpenSSLAndCerttoolReadOurPFX(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	certtool := testtool.Path(t, "certtool")
	rsaC, ecC := chains(t)
	tests := []struct {
		name    string
		profile PFXProfile
		chain   *testChain
		cipher  string
		mac     string
	}{
		{"modern rsa", PFXModern, rsaC, "PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256", "MAC: sha256, Iteration 2048"},
		{"modern ecdsa", PFXModern, ecC, "PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256", "MAC: sha256, Iteration 2048"},
		{"legacy rsa", PFXLegacy, rsaC, "pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048", "MAC: sha1, Iteration 2048"},
		{"legacy ecdsa", PFXLegacy, ecC, "pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048", "MAC: sha1, Iteration 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.chain
			data, err := EncodePFX(rand.Reader, &PFX{Key: c.LeafKey, Leaf: c.Leaf, CA: []*x509.Certificate{c.Inter, c.Root},
				FriendlyName: "Lync Edge (external)"}, testPassword, tt.profile, false)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			f := writeFile(t, dir, "our.pfx", data)
			info := string(run(t, openssl, "pkcs12", "-info", "-nokeys", "-in", f, "-passin", "pass:"+testPassword))
			for _, want := range []string{tt.mac, "PKCS7 Encrypted data: " + tt.cipher, "Shrouded Keybag: " + tt.cipher,
				"friendlyName: Lync Edge (external)", "localKeyID:", "subject=O = Contoso, CN = " + c.Leaf.Subject.CommonName} {
				if !strings.Contains(info, want) {
					t.Errorf("openssl pkcs12 -info lacks %q:\n%s", want, info)
				}
			}
			run(t, openssl, "pkcs12", "-info", "-noout", "-in", f, "-passin", "pass:"+testPassword)
			keyPEM := run(t, openssl, "pkcs12", "-in", f, "-passin", "pass:"+testPassword, "-nocerts", "-nodes")
			k, err := ParsePrivateKey(keyPEM[bytes.Index(keyPEM, []byte("-----BEGIN")):])
			if err != nil || !PublicKeysEqual(k.Public(), c.Leaf.PublicKey) {
				t.Fatalf("openssl extracted a different key: %v", err)
			}
			gt := string(run(t, certtool, "--p12-info", "--inder", "--password", testPassword, "--infile", f))
			for _, want := range []string{"Friendly name: Lync Edge (external)", "Key ID:", "Type: PKCS #8 Encrypted key", "Elements: 3"} {
				if !strings.Contains(gt, want) {
					t.Errorf("certtool --p12-info lacks %q:\n%s", want, gt)
				}
			}
		})
	}
}

// TestPFXRoundTrip checks our own reader on our writer, with Windows key
// attributes carried over.
func TestPFXRoundTrip(t *testing.T) {
	rsaC, ecC := chains(t)
	csp, _ := asn1.Marshal(bmpValue("Microsoft Software Key Storage Provider"))
	for _, profile := range []PFXProfile{PFXModern, PFXLegacy} {
		for _, c := range []*testChain{rsaC, ecC} {
			in := &PFX{Key: c.LeafKey, Leaf: c.Leaf, CA: []*x509.Certificate{c.Inter, c.Root}, FriendlyName: "edge-int",
				KeyAttributes: []BagAttribute{{Type: OIDMSCSPName, Values: csp}}}
			data, err := EncodePFX(rand.Reader, in, "pw", profile, false)
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodePFX(data, "pw")
			if err != nil {
				t.Fatal(err)
			}
			checkPFX(t, p, c, "edge-int")
			if len(p.KeyAttributes) != 1 || p.KeyAttributes[0].Text() != "Microsoft Software Key Storage Provider" {
				t.Fatalf("key attributes: %+v", p.KeyAttributes)
			}
		}
	}
}

func TestEncodePFXRefuses(t *testing.T) {
	rsaC, ecC := chains(t)
	ok := &PFX{Key: rsaC.LeafKey, Leaf: rsaC.Leaf}
	if _, err := EncodePFX(rand.Reader, ok, "", PFXModern, false); !errors.Is(err, ErrEmptyPassword) {
		t.Fatalf("empty password: %v", err)
	}
	data, err := EncodePFX(rand.Reader, ok, "", PFXModern, true)
	if err != nil {
		t.Fatalf("empty password allowed: %v", err)
	}
	if _, err := DecodePFX(data, ""); err != nil {
		t.Fatalf("reading an empty-password PFX: %v", err)
	}
	if _, err := EncodePFX(rand.Reader, &PFX{Key: ecC.LeafKey, Leaf: rsaC.Leaf}, "pw", PFXModern, false); err == nil {
		t.Fatal("mismatched key accepted")
	}
	if _, err := EncodePFX(rand.Reader, &PFX{Leaf: rsaC.Leaf}, "pw", PFXModern, false); err == nil {
		t.Fatal("missing key accepted")
	}
}

// TestPFXLeafNotFirst: the leaf is found by its key wherever it is.
func TestPFXLeafNotFirst(t *testing.T) {
	c, _ := chains(t)
	data := buildPFX(t, "pw", []safeBag{
		testCertBag(t, c.Root, nil), testCertBag(t, c.Inter, nil),
		testKeyBag(t, c.LeafKey, "pw", testAttrs(t, "k1", "")),
		testCertBag(t, c.Leaf, testAttrs(t, "k1", "leaf-last")),
	})
	p, err := DecodePFX(data, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Leaf.Equal(c.Leaf) || p.FriendlyName != "leaf-last" || len(p.CA) != 2 || !p.CA[0].Equal(c.Root) {
		t.Fatalf("leaf %q, name %q, %d CA", p.Leaf.Subject, p.FriendlyName, len(p.CA))
	}
}

// TestPFXBER reads a PFX in BER (indefinite lengths, segmented OCTET
// STRINGs at every level, as Windows writes), after checking that OpenSSL
// reads the same file.
func TestPFXBER(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	rsaC, _ := chains(t)
	for _, profile := range []PFXProfile{PFXModern, PFXLegacy} {
		der, err := EncodePFX(rand.Reader, &PFX{Key: rsaC.LeafKey, Leaf: rsaC.Leaf, CA: []*x509.Certificate{rsaC.Inter, rsaC.Root},
			FriendlyName: "ber"}, "pw", profile, false)
		if err != nil {
			t.Fatal(err)
		}
		ber := pfxToBER(t, der, "pw")
		if bytes.Equal(ber, der) || !bytes.HasPrefix(ber, []byte{0x30, 0x80}) {
			t.Fatal("BER conversion did nothing")
		}
		f := writeFile(t, t.TempDir(), "ber.pfx", ber)
		info := string(run(t, openssl, "pkcs12", "-info", "-nokeys", "-in", f, "-passin", "pass:pw"))
		if !strings.Contains(info, "friendlyName: ber") {
			t.Fatalf("openssl did not read the BER file:\n%s", info)
		}
		p, err := DecodePFX(ber, "pw")
		if err != nil {
			t.Fatal(err)
		}
		checkPFX(t, p, rsaC, "ber")
		if Detect(ber) != FormatPKCS12 {
			t.Fatal("Detect BER PFX")
		}
	}
}

// TestPKCS7Interop: OpenSSL and certtool read our .p7b; we read theirs.
func TestPKCS7Interop(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	certtool := testtool.Path(t, "certtool")
	c, _ := chains(t)
	der, err := EncodePKCS7([]*x509.Certificate{c.Leaf, c.Inter, c.Root})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := writeFile(t, dir, "our.p7b", der)
	out := string(run(t, openssl, "pkcs7", "-inform", "DER", "-in", f, "-print_certs", "-noout"))
	for _, cn := range []string{"sip.contoso.com", "Test Issuing CA", "Test Root CA"} {
		if !strings.Contains(out, "CN = "+cn) {
			t.Errorf("openssl pkcs7 -print_certs lacks %s:\n%s", cn, out)
		}
	}
	gt := string(run(t, certtool, "--p7-info", "--inder", "--infile", f))
	if strings.Count(gt, "-----BEGIN CERTIFICATE-----") != 3 {
		t.Errorf("certtool --p7-info did not show 3 certificates:\n%s", gt)
	}
	chainPEM := writeFile(t, dir, "chain.pem", EncodeCertificatePEM(c.Leaf, c.Inter, c.Root))
	for _, form := range []string{"PEM", "DER"} {
		t.Run("openssl "+form, func(t *testing.T) {
			p := filepath.Join(dir, "openssl."+form)
			run(t, openssl, "crl2pkcs7", "-nocrl", "-certfile", chainPEM, "-outform", form, "-out", p)
			data, _ := os.ReadFile(p)
			if Detect(data) != FormatPKCS7 {
				t.Fatalf("Detect = %v", Detect(data))
			}
			certs, err := DecodePKCS7(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != 3 || !certs[0].Equal(c.Leaf) {
				t.Fatalf("got %d certificates", len(certs))
			}
		})
	}
}

// TestWindowsAttributesSurvive: the CSP name and machine key set marker
// OpenSSL writes with -LMK -CSP are read, written back by EncodePFX and
// shown by OpenSSL on our file.
func TestWindowsAttributesSurvive(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	rsaC, _ := chains(t)
	dir, key, leaf, chain := pemFiles(t, rsaC)
	in := filepath.Join(dir, "win.pfx")
	run(t, openssl, "pkcs12", "-export", "-LMK", "-CSP", "Microsoft RSA SChannel Cryptographic Provider",
		"-inkey", key, "-in", leaf, "-certfile", chain, "-name", "edge", "-passout", "pass:pw", "-out", in)
	data, _ := os.ReadFile(in)
	p, err := DecodePFX(data, "pw")
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncodePFX(rand.Reader, p, "pw", PFXLegacy, false)
	if err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, dir, "ours.pfx", out)
	info := string(run(t, openssl, "pkcs12", "-info", "-nodes", "-in", f, "-passin", "pass:pw"))
	for _, want := range []string{"Microsoft Local Key set", "Microsoft CSP Name: Microsoft RSA SChannel Cryptographic Provider", "friendlyName: edge"} {
		if !strings.Contains(info, want) {
			t.Errorf("openssl -info on our re-export lacks %q:\n%s", want, info)
		}
	}
}

// TestDecodeWindowsLikePFX reads what a Windows export looks like: legacy
// encryption, Windows key attributes and BER at every level, starting from
// files OpenSSL writes; and an empty-password file.
func TestDecodeWindowsLikePFX(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	rsaC, _ := chains(t)
	dir, key, leaf, chain := pemFiles(t, rsaC)
	tests := []struct {
		name, password string
		args           []string
	}{
		{"3des lmk csp ber", "pw", []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-LMK", "-CSP", "Microsoft Enhanced Cryptographic Provider v1.0"}},
		{"rc2 legacy ber", "pw", []string{"-legacy"}},
		{"aes sha256 ber", "pw", nil},
		{"empty password", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "win.pfx")
			args := append([]string{"pkcs12", "-export", "-inkey", key, "-in", leaf, "-certfile", chain,
				"-name", "Windows export", "-passout", "pass:" + tt.password, "-out", out}, tt.args...)
			run(t, openssl, args...)
			data, _ := os.ReadFile(out)
			if strings.HasSuffix(tt.name, "ber") {
				data = pfxToBER(t, data, tt.password)
				f := writeFile(t, dir, "win-ber.pfx", data)
				run(t, openssl, append([]string{"pkcs12", "-info", "-noout", "-in", f, "-passin", "pass:" + tt.password}, legacyFlag(tt.args)...)...)
			}
			p, err := DecodePFX(data, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			checkPFX(t, p, rsaC, "Windows export")
		})
	}
}

// legacyFlag returns -legacy when the export used it (OpenSSL 3 needs it to
// read RC2 back).
func legacyFlag(args []string) []string {
	for _, a := range args {
		if a == "-legacy" {
			return []string{"-legacy"}
		}
	}
	return nil
}

// TestOpenSSLReadsEmptyPasswordPFX: with allowEmpty, the file OpenSSL reads
// with an empty password (M9 makes this an explicit choice).
func TestOpenSSLReadsEmptyPasswordPFX(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	_, ecC := chains(t)
	data, err := EncodePFX(rand.Reader, &PFX{Key: ecC.LeafKey, Leaf: ecC.Leaf, FriendlyName: "open"}, "", PFXModern, true)
	if err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, t.TempDir(), "empty.pfx", data)
	info := string(run(t, openssl, "pkcs12", "-info", "-nokeys", "-in", f, "-passin", "pass:"))
	if !strings.Contains(info, "friendlyName: open") {
		t.Fatalf("openssl -info:\n%s", info)
	}
}

func TestDecodePFXCertificates(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "bad", "no-key.pfx"))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := DecodePFXCertificates(data, "right")
	if err != nil || len(certs) != 2 {
		t.Fatalf("no-key PFX: %d certificates, %v", len(certs), err)
	}
	if _, err := DecodePFXCertificates(data, "wrong"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	_, ecC := chains(t)
	full, _ := EncodePFX(rand.Reader, &PFX{Key: ecC.LeafKey, Leaf: ecC.Leaf, CA: []*x509.Certificate{ecC.Root}}, "pw", PFXModern, false)
	certs, err = DecodePFXCertificates(full, "pw")
	if err != nil || len(certs) != 2 || !certs[0].Equal(ecC.Leaf) {
		t.Fatalf("full PFX: %d certificates, %v", len(certs), err)
	}
}
