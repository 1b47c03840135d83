package certfmt

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"
)

// The PFX integrity MAC (RFC 7292 section 5.1): an HMAC over the
// AuthenticatedSafe with a key from the PKCS#12 KDF (ID 3), or, in PBMAC1
// files (RFC 9579, OpenSSL 3.4+), from PBKDF2. Reading supports both;
// writing uses the PKCS#12 KDF with SHA-256 (PFXModern) or SHA-1
// (PFXLegacy), since OpenSSL 3.0 cannot read PBMAC1.

// hasMAC reports whether the PFX carries a MAC.
func (m *macData) present() bool {
	return len(m.Mac.Algorithm.Algorithm) > 0
}

// verifyMAC checks the MAC of content. A mismatch is ErrWrongPassword.
func verifyMAC(m *macData, content []byte, pw passwords) error {
	want, err := computeMAC(m, content, pw)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, m.Mac.Digest) {
		return ErrWrongPassword
	}
	return nil
}

// computeMAC computes the MAC that m describes over content.
func computeMAC(m *macData, content []byte, pw passwords) ([]byte, error) {
	alg := m.Mac.Algorithm
	if alg.Algorithm.Equal(oidPBMAC1) {
		return computePBMAC1(alg, content, pw)
	}
	newHash, ok := digestHash(alg.Algorithm)
	if !ok {
		return nil, fmt.Errorf("%w: MAC algorithm %v", ErrUnsupported, alg.Algorithm)
	}
	if m.Iterations < 1 || m.Iterations > maxIterations {
		return nil, fmt.Errorf("%w: MAC iteration count %d", ErrUnsupported, m.Iterations)
	}
	key := pkcs12KDF(newHash, pw.bmp, m.MacSalt, kdfMAC, m.Iterations, newHash().Size())
	return hmacSum(newHash, key, content), nil
}

// computePBMAC1 computes an RFC 9579 PBMAC1 MAC.
func computePBMAC1(alg pkix.AlgorithmIdentifier, content []byte, pw passwords) ([]byte, error) {
	var p pbmac1Params
	if err := unmarshalAll(alg.Parameters.FullBytes, &p); err != nil {
		return nil, fmt.Errorf("%w: PBMAC1 parameters: %w", ErrMalformed, err)
	}
	newHash, ok := hmacHash(p.MessageAuthScheme.Algorithm)
	if !ok || len(p.MessageAuthScheme.Algorithm) == 0 {
		return nil, fmt.Errorf("%w: PBMAC1 MAC %v", ErrUnsupported, p.MessageAuthScheme.Algorithm)
	}
	var kp pbkdf2Params
	if err := unmarshalAll(p.KeyDerivationFunc.Parameters.FullBytes, &kp); err != nil {
		return nil, fmt.Errorf("%w: PBMAC1 PBKDF2 parameters: %w", ErrMalformed, err)
	}
	if kp.KeyLength < 1 || kp.KeyLength > 64 {
		return nil, fmt.Errorf("%w: PBMAC1 key length %d", ErrMalformed, kp.KeyLength)
	}
	key, err := pbkdf2Key(p.KeyDerivationFunc, pw.utf8, kp.KeyLength)
	if err != nil {
		return nil, err
	}
	return hmacSum(newHash, key, content), nil
}

// hmacSum returns HMAC(key, content).
func hmacSum(newHash func() hash.Hash, key, content []byte) []byte {
	h := hmac.New(newHash, key)
	h.Write(content)
	return h.Sum(nil)
}

// newMAC computes the MAC of a PFX written with profile.
func newMAC(rand randReader, profile PFXProfile, content []byte, pw passwords) (macData, error) {
	oid, newHash := oidSHA256, sha256.New
	if profile == PFXLegacy {
		oid, newHash = oidSHA1, sha1.New
	}
	m := macData{MacSalt: make([]byte, legacySaltLen), Iterations: pfxIterations}
	if err := readFull(rand, m.MacSalt); err != nil {
		return m, err
	}
	m.Mac.Algorithm = pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}
	key := pkcs12KDF(newHash, pw.bmp, m.MacSalt, kdfMAC, m.Iterations, newHash().Size())
	m.Mac.Digest = hmacSum(newHash, key, content)
	return m, nil
}
