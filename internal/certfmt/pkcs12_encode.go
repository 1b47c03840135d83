package certfmt

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

// EncodePFX writes p as a PKCS#12 file readable by OpenSSL 3.0 and Windows
// Server 2016+ (profile PFXLegacy for 2016 and older), with friendlyName
// and localKeyId attributes on the key and leaf bags and the certificates
// in the order leaf, p.CA. An empty password is refused with
// ErrEmptyPassword (M9) unless allowEmpty is set.
func EncodePFX(rand interface{ Read([]byte) (int, error) }, p *PFX, password string, profile PFXProfile, allowEmpty bool) ([]byte, error) {
	if err := checkPFXInput(p, password, profile, allowEmpty); err != nil {
		return nil, err
	}
	pw := newPasswords(password)
	localKeyID := p.LocalKeyID
	if len(localKeyID) == 0 {
		sum := sha1.Sum(p.Leaf.Raw)
		localKeyID = sum[:]
	}
	certSafe, err := encodeCertBags(p, localKeyID)
	if err != nil {
		return nil, err
	}
	keySafe, err := encodeKeyBag(rand, p, localKeyID, pw, profile)
	if err != nil {
		return nil, err
	}
	encCerts, err := encryptContents(rand, profile, pw, certSafe)
	if err != nil {
		return nil, err
	}
	authSafe, err := asn1.Marshal([]contentInfo{encCerts, dataContentInfo(keySafe)})
	if err != nil {
		return nil, fmt.Errorf("certfmt: PFX: %w", err)
	}
	mac, err := newMAC(rand, profile, authSafe, pw)
	if err != nil {
		return nil, err
	}
	out, err := asn1.Marshal(pfxPDU{Version: 3, AuthSafe: dataContentInfo(authSafe), MacData: mac})
	if err != nil {
		return nil, fmt.Errorf("certfmt: PFX: %w", err)
	}
	return out, nil
}

// checkPFXInput validates what EncodePFX is asked to write.
func checkPFXInput(p *PFX, password string, profile PFXProfile, allowEmpty bool) error {
	switch {
	case password == "" && !allowEmpty:
		return fmt.Errorf("certfmt: %w (M9)", ErrEmptyPassword)
	case profile != PFXModern && profile != PFXLegacy:
		return fmt.Errorf("certfmt: unknown PFX profile %d", profile)
	case p == nil || p.Key == nil || p.Leaf == nil:
		return fmt.Errorf("certfmt: a PFX needs a key and its certificate")
	case !PublicKeysEqual(p.Key.Public(), p.Leaf.PublicKey):
		return fmt.Errorf("certfmt: the private key does not match the certificate %q", p.Leaf.Subject)
	}
	return nil
}

// encodeCertBags returns the SafeContents of the certificates: the leaf
// with localKeyId and friendlyName, then the chain without attributes.
func encodeCertBags(p *PFX, localKeyID []byte) ([]byte, error) {
	attrs, err := encodeBagAttributes(localKeyID, p.FriendlyName, nil)
	if err != nil {
		return nil, err
	}
	bags := make([]safeBag, 0, 1+len(p.CA))
	for i, c := range append([]*x509.Certificate{p.Leaf}, p.CA...) {
		v, err := asn1.Marshal(certBag{ID: oidX509CertType, Data: c.Raw})
		if err != nil {
			return nil, fmt.Errorf("certfmt: PFX certificate bag: %w", err)
		}
		bag := safeBag{ID: oidCertBag, Value: explicitValue(v)}
		if i == 0 {
			bag.Attributes = attrs
		}
		bags = append(bags, bag)
	}
	return asn1.Marshal(bags)
}

// encodeKeyBag returns the SafeContents holding the shrouded key bag.
func encodeKeyBag(rand randReader, p *PFX, localKeyID []byte, pw passwords, profile PFXProfile) ([]byte, error) {
	pkcs8, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		return nil, fmt.Errorf("certfmt: PFX key: %w", err)
	}
	alg, ct, err := encryptPBE(rand, profile, pw, pkcs8)
	if err != nil {
		return nil, err
	}
	v, err := asn1.Marshal(encryptedPrivateKeyInfo{Algorithm: alg, EncryptedData: ct})
	if err != nil {
		return nil, fmt.Errorf("certfmt: PFX key bag: %w", err)
	}
	attrs, err := encodeBagAttributes(localKeyID, p.FriendlyName, p.KeyAttributes)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal([]safeBag{{ID: oidShroudedKeyBag, Value: explicitValue(v), Attributes: attrs}})
}

// encryptedContentInfo wraps SafeContents in an EncryptedData ContentInfo.
func encryptContents(rand randReader, profile PFXProfile, pw passwords, safe []byte) (contentInfo, error) {
	alg, ct, err := encryptPBE(rand, profile, pw, safe)
	if err != nil {
		return contentInfo{}, err
	}
	ed, err := asn1.Marshal(encryptedData{
		Version: 0,
		EncryptedContentInfo: encryptedContentInfo{
			ContentType:                oidDataContent,
			ContentEncryptionAlgorithm: alg,
			EncryptedContent:           asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct},
		},
	})
	if err != nil {
		return contentInfo{}, fmt.Errorf("certfmt: PFX encrypted data: %w", err)
	}
	return contentInfo{ContentType: oidEncryptedContent, Content: explicitValue(ed)}, nil
}

// dataContentInfo wraps bytes in a data ContentInfo.
func dataContentInfo(b []byte) contentInfo {
	octets, _ := asn1.Marshal(b)
	return contentInfo{ContentType: oidDataContent, Content: explicitValue(octets)}
}

// explicitValue is the [0] EXPLICIT wrapper of an encoded value.
func explicitValue(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}
