package certfmt

// PKCS#12 (.pfx/.p12), RFC 7292.
//
// This package has its own PKCS#12 reader and writer instead of relying on
// go-pkcs12, because the files we must exchange with Windows and OpenSSL
// need what that library does not do: BER (indefinite-length) input, bag
// attributes it does not know (the Windows CSP name and machine key set
// marker), friendly names on write, the leaf chosen by matching the key
// rather than by position, and output that OpenSSL 3.0 reads (no PBMAC1).
//
// Files:
//   - pkcs12_asn1.go: the ASN.1 structures and OIDs.
//   - pkcs12_decode.go: DecodePFX, the MAC check and the SafeBag walker.
//   - pkcs12_encode.go: EncodePFX and the two write profiles.
//   - pkcs12_attr.go: friendlyName, localKeyId and other bag attributes.
//   - pkcs12_pbe.go: password-based encryption (PBES2 and PKCS#12 PBE).
//   - pkcs12_mac.go: the integrity MAC (PKCS#12 KDF or PBMAC1).
//   - pkcs12_kdf.go: the PKCS#12 key derivation function (appendix B).
//   - rc2.go: RC2 decryption for legacy files; ber.go: BER to DER.
//
// Write profiles:
//
//	PFXModern: certificates and key encrypted with PBES2 (PBKDF2-HMAC-SHA256,
//	           2048 iterations, 16-byte salt, AES-256-CBC); MAC HMAC-SHA256
//	           keyed by the PKCS#12 KDF (2048 iterations). This is what
//	           OpenSSL 3 writes by default and Windows Server 2019+ exports
//	           and imports.
//	PFXLegacy: certificates and key encrypted with
//	           pbeWithSHAAnd3-KeyTripleDES-CBC (2048 iterations); MAC
//	           HMAC-SHA1. Windows Server 2016 and older import only this.
//
// 2048 iterations is the OpenSSL default and what Windows writes (2000);
// higher counts add little against a weak password, and the password is the
// real protection (M9 forbids an empty one).

// PFX write parameters.
const (
	pfxIterations = 2048
	pbes2SaltLen  = 16
	legacySaltLen = 8
)

// randReader is a source of randomness (crypto/rand.Reader in production).
type randReader = interface{ Read([]byte) (int, error) }
