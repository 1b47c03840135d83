package certfmt

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

// maxSafeContentsDepth bounds nested SafeContents bags.
const maxSafeContentsDepth = 4

// bagContent is what the SafeBag walker collected.
type bagContent struct {
	keys  []keyEntry
	certs []certEntry
}

type keyEntry struct {
	key   crypto.Signer
	attrs bagAttributes
}

type certEntry struct {
	cert  *x509.Certificate
	attrs bagAttributes
}

// DecodePFX decodes a PKCS#12 file made by OpenSSL 3, OpenSSL -legacy or
// Windows: BER accepted, unknown bag attributes kept (key bag) or ignored,
// the leaf matched to the key by public key. A wrong password wraps
// ErrWrongPassword; two keys in one file wrap ErrUnsupported; a file with
// no key, or no certificate for its key, wraps ErrNoKey (an ErrMalformed).
func DecodePFX(data []byte, password string) (*PFX, error) {
	content, err := decodePFXContent(data, password)
	if err != nil {
		return nil, wrongFormat(fmt.Errorf("certfmt: PFX: %w", err), data, FormatPKCS12)
	}
	p, err := assemblePFX(content)
	if err != nil {
		return nil, fmt.Errorf("certfmt: PFX: %w", err)
	}
	return p, nil
}

// decodePFXContent checks the MAC and walks every bag.
func decodePFXContent(data []byte, password string) (*bagContent, error) {
	der, err := berToDER(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var pfx pfxPDU
	if err := unmarshalAll(der, &pfx); err != nil {
		return nil, fmt.Errorf("%w: not a PKCS#12 file (%s)", ErrMalformed, asn1Reason(err))
	}
	if pfx.Version != 3 {
		return nil, fmt.Errorf("%w: PKCS#12 version %d", ErrUnsupported, pfx.Version)
	}
	if !pfx.AuthSafe.ContentType.Equal(oidDataContent) {
		return nil, fmt.Errorf("%w: integrity mode %v (only password integrity is supported)", ErrUnsupported, pfx.AuthSafe.ContentType)
	}
	authSafe, err := dataOctets(pfx.AuthSafe)
	if err != nil {
		return nil, err
	}
	candidates := []passwords{newPasswords(password)}
	if password == "" {
		// OpenSSL also tries an absent password (no BMP terminator).
		candidates = append(candidates, passwords{})
	}
	var lastErr error
	for _, pw := range candidates {
		if pfx.MacData.present() {
			if lastErr = verifyMAC(&pfx.MacData, authSafe, pw); lastErr != nil {
				continue
			}
		}
		var c bagContent
		lastErr = c.walkAuthSafe(authSafe, pw, pfx.MacData.present())
		if lastErr == nil {
			return &c, nil
		}
		if !errors.Is(lastErr, ErrWrongPassword) {
			return nil, lastErr
		}
	}
	if errors.Is(lastErr, ErrWrongPassword) && pfx.MacData.present() {
		return nil, fmt.Errorf("MAC verification failed: %w (or the file is corrupt)", ErrWrongPassword)
	}
	return nil, lastErr
}

// dataOctets returns the OCTET STRING of a data ContentInfo, joining the
// segments of a BER constructed string.
func dataOctets(ci contentInfo) ([]byte, error) {
	var v asn1.RawValue
	if err := unmarshalAll(ci.Content.Bytes, &v); err != nil {
		return nil, fmt.Errorf("%w: data content: %w", ErrMalformed, err)
	}
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagOctetString {
		return nil, fmt.Errorf("%w: data content is not an OCTET STRING", ErrMalformed)
	}
	return v.Bytes, nil
}

// walkAuthSafe reads every ContentInfo of the AuthenticatedSafe. With a
// verified MAC a decryption failure means a corrupt file, without one it
// means a wrong password.
func (c *bagContent) walkAuthSafe(authSafe []byte, pw passwords, macVerified bool) error {
	der, err := berToDER(authSafe)
	if err != nil {
		return fmt.Errorf("%w: authenticated safe: %w", ErrMalformed, err)
	}
	var infos []contentInfo
	if err := unmarshalAll(der, &infos); err != nil {
		return fmt.Errorf("%w: authenticated safe: %w", ErrMalformed, err)
	}
	for i, ci := range infos {
		var safe []byte
		switch {
		case ci.ContentType.Equal(oidDataContent):
			safe, err = dataOctets(ci)
		case ci.ContentType.Equal(oidEncryptedContent):
			safe, err = decryptContent(ci, pw)
		default:
			err = fmt.Errorf("%w: content type %v", ErrUnsupported, ci.ContentType)
		}
		if err == nil {
			err = c.walkSafeContents(safe, pw, 0)
			if err != nil && !macVerified && ci.ContentType.Equal(oidEncryptedContent) && errors.Is(err, ErrMalformed) {
				// Without a MAC, a wrong password can decrypt to garbage
				// with valid padding.
				err = errDecrypt
			}
		}
		if errors.Is(err, errDecrypt) {
			if macVerified {
				return fmt.Errorf("content %d: %w: %w", i+1, ErrMalformed, err)
			}
			return fmt.Errorf("content %d: %w", i+1, ErrWrongPassword)
		}
		if err != nil {
			return fmt.Errorf("content %d: %w", i+1, err)
		}
	}
	return nil
}

// decryptContent decrypts an EncryptedData ContentInfo.
func decryptContent(ci contentInfo, pw passwords) ([]byte, error) {
	var ed encryptedData
	if err := unmarshalAll(ci.Content.Bytes, &ed); err != nil {
		return nil, fmt.Errorf("%w: encrypted data: %w", ErrMalformed, err)
	}
	raw := ed.EncryptedContentInfo.EncryptedContent
	if raw.Class != asn1.ClassContextSpecific || raw.Tag != 0 {
		return nil, fmt.Errorf("%w: encrypted data has no content", ErrMalformed)
	}
	ct, err := joinOctets(raw)
	if err != nil {
		return nil, err
	}
	return decryptPBE(ed.EncryptedContentInfo.ContentEncryptionAlgorithm, pw, ct)
}

// joinOctets returns the bytes of an implicitly tagged OCTET STRING, which
// BER writers may send as a constructed value of OCTET STRING segments.
func joinOctets(v asn1.RawValue) ([]byte, error) {
	if !v.IsCompound {
		return v.Bytes, nil
	}
	var out []byte
	for rest := v.Bytes; len(rest) > 0; {
		var seg []byte
		var err error
		if rest, err = asn1.Unmarshal(rest, &seg); err != nil {
			return nil, fmt.Errorf("%w: segmented OCTET STRING: %w", ErrMalformed, err)
		}
		out = append(out, seg...)
	}
	return out, nil
}

// walkSafeContents reads the bags of one SafeContents.
func (c *bagContent) walkSafeContents(safe []byte, pw passwords, depth int) error {
	if depth > maxSafeContentsDepth {
		return fmt.Errorf("%w: SafeContents nested too deeply", ErrMalformed)
	}
	der, err := berToDER(safe)
	if err != nil {
		return fmt.Errorf("%w: safe contents: %w", ErrMalformed, err)
	}
	var bags []safeBag
	if err := unmarshalAll(der, &bags); err != nil {
		return fmt.Errorf("%w: safe contents: %w", ErrMalformed, err)
	}
	for i, bag := range bags {
		if err := c.readBag(bag, pw, depth); err != nil {
			return fmt.Errorf("bag %d: %w", i+1, err)
		}
	}
	return nil
}

// readBag reads one SafeBag; CRL and secret bags are skipped.
func (c *bagContent) readBag(bag safeBag, pw passwords, depth int) error {
	attrs, err := parseBagAttributes(bag.Attributes)
	if err != nil {
		return err
	}
	switch {
	case bag.ID.Equal(oidKeyBag), bag.ID.Equal(oidShroudedKeyBag):
		key, err := readKeyBag(bag, pw)
		if err != nil {
			return err
		}
		c.keys = append(c.keys, keyEntry{key, attrs})
	case bag.ID.Equal(oidCertBag):
		var cb certBag
		if err := unmarshalAll(bag.Value.Bytes, &cb); err != nil {
			return fmt.Errorf("%w: certificate bag: %w", ErrMalformed, err)
		}
		if !cb.ID.Equal(oidX509CertType) {
			return nil // SDSI certificates: not used by anyone we talk to
		}
		cert, err := x509.ParseCertificate(cb.Data)
		if err != nil {
			return fmt.Errorf("%w: certificate: %w", ErrMalformed, err)
		}
		c.certs = append(c.certs, certEntry{cert, attrs})
	case bag.ID.Equal(oidSafeContentsBag):
		var inner asn1.RawValue
		if err := unmarshalAll(bag.Value.Bytes, &inner); err != nil {
			return fmt.Errorf("%w: nested safe contents: %w", ErrMalformed, err)
		}
		return c.walkSafeContents(inner.FullBytes, pw, depth+1)
	}
	return nil
}

// readKeyBag decodes a plain or shrouded (encrypted) PKCS#8 key bag.
func readKeyBag(bag safeBag, pw passwords) (crypto.Signer, error) {
	pkcs8 := bag.Value.Bytes
	if bag.ID.Equal(oidShroudedKeyBag) {
		var epki encryptedPrivateKeyInfo
		if err := unmarshalAll(bag.Value.Bytes, &epki); err != nil {
			return nil, fmt.Errorf("%w: shrouded key bag: %w", ErrMalformed, err)
		}
		var err error
		if pkcs8, err = decryptPBE(epki.Algorithm, pw, epki.EncryptedData); err != nil {
			return nil, fmt.Errorf("private key: %w", err)
		}
	}
	key, err := parsePrivateKeyDER(pkcs8)
	if err != nil {
		if bag.ID.Equal(oidShroudedKeyBag) {
			// Wrong-password decryption can pass the padding check by chance.
			return nil, fmt.Errorf("private key: %w", errDecrypt)
		}
		return nil, fmt.Errorf("private key: %w", err)
	}
	return key, nil
}

// assemblePFX picks the key, matches its certificate and sorts the rest.
func assemblePFX(c *bagContent) (*PFX, error) {
	switch len(c.keys) {
	case 0:
		return nil, fmt.Errorf("%w (%d certificate(s), no key)", ErrNoKey, len(c.certs))
	case 1:
	default:
		return nil, fmt.Errorf("%w: %d private keys in one file (want one)", ErrUnsupported, len(c.keys))
	}
	k := c.keys[0]
	leaf := -1
	for i, ce := range c.certs {
		if !PublicKeysEqual(k.key.Public(), ce.cert.PublicKey) {
			continue
		}
		if leaf < 0 || (len(k.attrs.localKeyID) > 0 && string(ce.attrs.localKeyID) == string(k.attrs.localKeyID)) {
			leaf = i
		}
	}
	if leaf < 0 {
		return nil, fmt.Errorf("%w: none of the %d certificate(s) matches the private key", ErrNoKey, len(c.certs))
	}
	p := &PFX{Key: k.key, Leaf: c.certs[leaf].cert, KeyAttributes: k.attrs.other}
	p.FriendlyName = firstNonEmpty(c.certs[leaf].attrs.friendlyName, k.attrs.friendlyName)
	p.LocalKeyID = k.attrs.localKeyID
	if len(p.LocalKeyID) == 0 {
		p.LocalKeyID = c.certs[leaf].attrs.localKeyID
	}
	for i, ce := range c.certs {
		if i != leaf && !ce.cert.Equal(p.Leaf) {
			p.CA = append(p.CA, ce.cert)
		}
	}
	return p, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// DecodePFXCertificates returns every certificate of a PKCS#12 file, leaf
// first when there is a key, for files that may hold no key (a trust store
// export). The MAC and password are checked as by DecodePFX.
func DecodePFXCertificates(data []byte, password string) ([]*x509.Certificate, error) {
	content, err := decodePFXContent(data, password)
	if err != nil {
		return nil, wrongFormat(fmt.Errorf("certfmt: PFX: %w", err), data, FormatPKCS12)
	}
	if p, err := assemblePFX(content); err == nil {
		return append([]*x509.Certificate{p.Leaf}, p.CA...), nil
	}
	certs := make([]*x509.Certificate, 0, len(content.certs))
	for _, ce := range content.certs {
		certs = append(certs, ce.cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("certfmt: PFX holds no certificate: %w", ErrMalformed)
	}
	return certs, nil
}
