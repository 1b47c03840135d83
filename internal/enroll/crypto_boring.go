//go:build boringcrypto

package enroll

import "crypto/boring"

// cryptoImpl names the implementation of the server's cryptography: a
// GOEXPERIMENT=boringcrypto build signs with BoringSSL.
func cryptoImpl() string {
	if boring.Enabled() {
		return "boringcrypto"
	}
	return "go"
}
