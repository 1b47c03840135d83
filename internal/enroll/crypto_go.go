//go:build !boringcrypto

package enroll

// cryptoImpl names the implementation of the server's cryptography: this
// build uses Go's own.
func cryptoImpl() string { return "go" }
