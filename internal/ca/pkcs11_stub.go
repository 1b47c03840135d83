//go:build !pkcs11

package ca

import (
	"errors"
	"fmt"
)

// PKCS11Available reports whether this build can use PKCS#11 tokens.
const PKCS11Available = false

var errNoPKCS11 = errors.New("PKCS#11 keys need the pkcs11 build of edgecert (CGO_ENABLED=1 go build -tags pkcs11)")

func openPKCS11(c *PKCS11Config, pin []byte) (keyStore, error) {
	return nil, fmt.Errorf("%w: %w", errNoPKCS11, ErrBadRequest)
}
