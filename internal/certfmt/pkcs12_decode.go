package certfmt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
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
	der, err := berToDER(trimZeroPadding(data))
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

// trimZeroPadding drops zero octets after the outer structure of a PFX,
// which Windows tooling has written; other trailing data is left for
// berToDER to refuse.
func trimZeroPadding(data []byte) []byte {
	n, err := berCopy(new(bytes.Buffer), data, 0)
	if err != nil || n == len(data) {
		return data
	}
	for _, b := range data[n:] {
		if b != 0 {
			return data
		}
	}
	return data[:n]
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
		cert, err := ParseCertificate(cb.Data)
		if err != nil {
			return certificateError(cb.Data, err)
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
		if bag.ID.Equal(oidShroudedKeyBag) && !errors.Is(err, ErrUnsupported) {
			// Wrong-password decryption can pass the padding check by chance.
			return nil, fmt.Errorf("private key: %w", errDecrypt)
		}
		return nil, fmt.Errorf("private key: %w", err)
	}
	return key, nil
}

// assemblePFX picks the key, matches its certificate and sorts the rest.
// A file with several keys is refused here (DecodePFXAll reads it) with
// what it holds.
func assemblePFX(c *bagContent) (*PFX, error) {
	all, err := assembleAll(c)
	if err != nil {
		return nil, err
	}
	if len(all.Pairs) > 1 {
		return nil, fmt.Errorf("%w: %d private keys in one file (%s): read it whole (DecodePFXAll) to take each key with its certificate", ErrUnsupported, len(all.Pairs), all.describe())
	}
	p := all.Pairs[0]
	p.CA = all.Certs
	return p, nil
}

// assembleAll matches every key with its certificate: the certificate of a
// key has its public key, and its localKeyId when the key has one.
func assembleAll(c *bagContent) (*PFXContents, error) {
	if len(c.keys) == 0 {
		return nil, fmt.Errorf("%w (%d certificate(s), no key)", ErrNoKey, len(c.certs))
	}
	out := &PFXContents{}
	isLeaf := make([]bool, len(c.certs))
	for n, k := range c.keys {
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
			if len(c.keys) == 1 {
				return nil, fmt.Errorf("%w: none of the %d certificate(s) matches the private key", ErrNoKey, len(c.certs))
			}
			return nil, fmt.Errorf("%w: private key %d of %d (%s) has no certificate in the file, which holds %d certificate(s)", ErrNoKey, n+1, len(c.keys), keyDescription(k.key.Public()), len(c.certs))
		}
		isLeaf[leaf] = true
		p := &PFX{Key: k.key, Leaf: c.certs[leaf].cert, KeyAttributes: k.attrs.other}
		p.FriendlyName, p.KeyContainer = names(c.certs[leaf].attrs, k.attrs)
		p.LocalKeyID = k.attrs.localKeyID
		if len(p.LocalKeyID) == 0 {
			p.LocalKeyID = c.certs[leaf].attrs.localKeyID
		}
		out.Pairs = append(out.Pairs, p)
	}
	for i, ce := range c.certs {
		if isLeaf[i] || slices.ContainsFunc(out.Pairs, func(p *PFX) bool { return ce.cert.Equal(p.Leaf) }) ||
			slices.ContainsFunc(out.Certs, ce.cert.Equal) {
			continue
		}
		out.Certs = append(out.Certs, ce.cert)
	}
	return out, nil
}

// names sorts the friendlyName attributes of a leaf and its key. The
// friendly name is the certificate bag's. Windows writes the key's
// container name (CNG "te-<template>-<GUID>" or a GUID) as the key bag's
// friendlyName, next to the provider name attribute: that is the key's
// container, not a friendly name. A key-bag name is taken as the friendly
// name only when the certificate bag has none and it is not a container.
func names(cert, key bagAttributes) (friendly, container string) {
	if key.friendlyName != "" && (hasAttribute(key, OIDMSCSPName) || containerName.MatchString(key.friendlyName)) {
		return cert.friendlyName, key.friendlyName
	}
	return firstNonEmpty(cert.friendlyName, key.friendlyName), ""
}

// containerName matches the key container names Windows generates.
var containerName = regexp.MustCompile(`^(te-.+-)?\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$`)

func hasAttribute(a bagAttributes, oid asn1.ObjectIdentifier) bool {
	return slices.ContainsFunc(a.other, func(b BagAttribute) bool { return b.Type.Equal(oid) })
}

// DecodePFXAll decodes a PKCS#12 file with any number of private keys,
// each with its certificate (as Java and .NET write them); a key without
// a certificate in the file wraps ErrNoKey. Password and MAC are checked as
// by DecodePFX.
func DecodePFXAll(data []byte, password string) (*PFXContents, error) {
	content, err := decodePFXContent(data, password)
	if err != nil {
		return nil, wrongFormat(fmt.Errorf("certfmt: PFX: %w", err), data, FormatPKCS12)
	}
	all, err := assembleAll(content)
	if err != nil {
		return nil, fmt.Errorf("certfmt: PFX: %w", err)
	}
	return all, nil
}

// describe lists the keys of a file and their certificates for a message.
func (c *PFXContents) describe() string {
	parts := make([]string, len(c.Pairs))
	for i, p := range c.Pairs {
		parts[i] = fmt.Sprintf("key %d %s for %q", i+1, keyDescription(p.Key.Public()), NameString(p.Leaf.RawSubject))
	}
	return strings.Join(parts, ", ")
}

// keyDescription names a public key: "RSA 2048", "ECDSA P-256", "Ed25519".
func keyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
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
