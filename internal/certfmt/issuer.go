package certfmt

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
)

// Where a certificate belongs (root, intermediate, a chain in a file) is
// decided by its names and its key, not by whether crypto/x509 accepts its
// signature algorithm for path building: old roots are self-signed with
// SHA-1 or MD5, and a root filed as an intermediate leaves every chain
// under it incomplete. These checks never establish trust; chain building
// verifies signatures with crypto/x509's rules (no MD5, no SHA-1).

// IssuedBy reports whether parent's key made c's signature, with any hash
// a certificate of the field may carry, SHA-1 and MD5 included. It checks
// neither names nor constraints: it is for filing, never for trust.
func IssuedBy(c, parent *x509.Certificate) bool {
	if c.SignatureAlgorithm == x509.MD5WithRSA {
		pub, ok := parent.PublicKey.(*rsa.PublicKey)
		if !ok {
			return false
		}
		sum := md5.Sum(c.RawTBSCertificate)
		return rsa.VerifyPKCS1v15(pub, crypto.MD5, sum[:], c.Signature) == nil
	}
	// CheckSignature (unlike CheckSignatureFrom) accepts SHA-1.
	return parent.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// IsSelfSigned reports whether c names itself as its issuer and its own key
// made its signature (with any hash, see IssuedBy), as Windows decides
// that a certificate is a root. A version 1 certificate (no extensions)
// qualifies like any other. For a signature no library here can check
// (MD2), the names and the key identifiers decide: same subject and issuer,
// and no authority key identifier other than its own subject key identifier.
func IsSelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	if c.SignatureAlgorithm == x509.MD2WithRSA {
		return len(c.AuthorityKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
	}
	return IssuedBy(c, c)
}
