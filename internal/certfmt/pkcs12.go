package certfmt

import "errors"

// DecodePFX decodes a PKCS#12 file made by OpenSSL 3, OpenSSL -legacy or
// Windows: BER accepted, unknown bag attributes tolerated, the leaf matched
// to the key by public key. A wrong password wraps ErrWrongPassword; two keys
// in one file wrap ErrUnsupported.
func DecodePFX(data []byte, password string) (*PFX, error) {
	return nil, errors.New("certfmt: not implemented")
}

// EncodePFX writes p as a PKCS#12 file readable by OpenSSL 3.0 and Windows
// Server 2016+, with friendlyName and localKeyId attributes on the key and
// leaf bags. An empty password is refused (M9) unless allowEmpty is set.
func EncodePFX(rand interface{ Read([]byte) (int, error) }, p *PFX, password string, profile PFXProfile, allowEmpty bool) ([]byte, error) {
	return nil, errors.New("certfmt: not implemented")
}
