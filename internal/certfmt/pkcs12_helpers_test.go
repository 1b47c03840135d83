package certfmt

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"testing"
)

// Builders for PFX files with arbitrary bags (leaf not first, two keys, no
// key…), which no tool writes on request.

func testCertBag(t testing.TB, c *x509.Certificate, attrs []pkcs12Attribute) safeBag {
	t.Helper()
	v, err := asn1.Marshal(certBag{ID: oidX509CertType, Data: c.Raw})
	if err != nil {
		t.Fatal(err)
	}
	return safeBag{ID: oidCertBag, Value: explicitValue(v), Attributes: attrs}
}

func testKeyBag(t testing.TB, key crypto.Signer, pw string, attrs []pkcs12Attribute) safeBag {
	t.Helper()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	alg, ct, err := encryptPBE(rand.Reader, PFXModern, newPasswords(pw), pkcs8)
	if err != nil {
		t.Fatal(err)
	}
	v, err := asn1.Marshal(encryptedPrivateKeyInfo{Algorithm: alg, EncryptedData: ct})
	if err != nil {
		t.Fatal(err)
	}
	return safeBag{ID: oidShroudedKeyBag, Value: explicitValue(v), Attributes: attrs}
}

func testAttrs(t testing.TB, keyID, name string) []pkcs12Attribute {
	t.Helper()
	a, err := encodeBagAttributes([]byte(keyID), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// buildPFX puts bags in one unencrypted SafeContents with a SHA-256 MAC.
func buildPFX(t testing.TB, pw string, bags []safeBag) []byte {
	t.Helper()
	safe, err := asn1.Marshal(bags)
	if err != nil {
		t.Fatal(err)
	}
	authSafe, err := asn1.Marshal([]contentInfo{dataContentInfo(safe)})
	if err != nil {
		t.Fatal(err)
	}
	mac, err := newMAC(rand.Reader, PFXModern, authSafe, newPasswords(pw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(pfxPDU{Version: 3, AuthSafe: dataContentInfo(authSafe), MacData: mac})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pfxToBER re-encodes a DER PFX in BER at every level (outer PFX,
// AuthenticatedSafe, SafeContents, EncryptedData) and recomputes the MAC
// over the new AuthenticatedSafe bytes.
func pfxToBER(t testing.TB, der []byte, pw string) []byte {
	t.Helper()
	var pfx pfxPDU
	if err := unmarshalAll(der, &pfx); err != nil {
		t.Fatal(err)
	}
	authSafe, err := dataOctets(pfx.AuthSafe)
	if err != nil {
		t.Fatal(err)
	}
	var infos []contentInfo
	if err := unmarshalAll(authSafe, &infos); err != nil {
		t.Fatal(err)
	}
	newAuthSafe := []byte{0x30, 0x80}
	for _, ci := range infos {
		if ci.ContentType.Equal(oidDataContent) {
			safe, err := dataOctets(ci)
			if err != nil {
				t.Fatal(err)
			}
			ci = dataContentInfo(toIndefinite(t, safe))
		}
		b, err := asn1.Marshal(ci)
		if err != nil {
			t.Fatal(err)
		}
		newAuthSafe = append(newAuthSafe, toIndefinite(t, b)...)
	}
	newAuthSafe = append(newAuthSafe, 0, 0)
	m := pfx.MacData
	m.Mac.Digest, err = computeMAC(&m, newAuthSafe, newPasswords(pw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(pfxPDU{Version: 3, AuthSafe: dataContentInfo(newAuthSafe), MacData: m})
	if err != nil {
		t.Fatal(err)
	}
	return toIndefinite(t, out)
}
