package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
)

// keySpecs are the CA key types.
var keySpecs = []string{"rsa2048", "rsa3072", "rsa4096", "p256", "p384"}

// checkKeySpec validates a key type name.
func checkKeySpec(spec string) error {
	for _, s := range keySpecs {
		if s == spec {
			return nil
		}
	}
	return fmt.Errorf("unknown key type %q: use rsa2048, rsa3072, rsa4096, p256 or p384: %w", spec, ErrBadRequest)
}

// generateKey makes a software key of the given type.
func generateKey(rand io.Reader, spec string) (crypto.Signer, error) {
	switch spec {
	case "rsa2048":
		return rsa.GenerateKey(rand, 2048)
	case "rsa3072":
		return rsa.GenerateKey(rand, 3072)
	case "rsa4096":
		return rsa.GenerateKey(rand, 4096)
	case "p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand)
	case "p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand)
	}
	return nil, checkKeySpec(spec)
}

// keyStore opens and creates the CA's keys: sealed files or a PKCS#11 token.
type keyStore interface {
	generate(rand io.Reader, spec, label string) (crypto.Signer, error)
	open(label string) (crypto.Signer, error)
	close() error
}

// fileKeys keeps keys as passphrase-sealed PKCS#8 files in the CA directory.
type fileKeys struct {
	dir        string
	passphrase []byte
	rand       io.Reader
}

func (f *fileKeys) generate(rand io.Reader, spec, file string) (crypto.Signer, error) {
	k, err := generateKey(rand, spec)
	if err != nil {
		return nil, err
	}
	sealed, err := certfmt.SealPrivateKey(rand, k, f.passphrase)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(f.dir, file), sealed, 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func (f *fileKeys) open(file string) (crypto.Signer, error) {
	b, err := os.ReadFile(filepath.Join(f.dir, file))
	if err != nil {
		return nil, err
	}
	if !certfmt.IsSealed(b) {
		return nil, fmt.Errorf("%s is not a sealed key: %w", file, ErrBadRequest)
	}
	k, err := certfmt.OpenPrivateKey(b, f.passphrase)
	if errors.Is(err, certfmt.ErrWrongPassword) {
		return nil, fmt.Errorf("wrong CA passphrase for %s: %w", file, ErrUnauthenticated)
	}
	return k, err
}

func (f *fileKeys) close() error { return nil }

// keysFor returns the key store configured for a CA.
func keysFor(dir string, c *Config, passphrase []byte, rand io.Reader) (keyStore, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("the CA passphrase is empty (give --passphrase-file): %w", ErrBadRequest)
	}
	if c.PKCS11 != nil {
		return openPKCS11(c.PKCS11, passphrase)
	}
	return &fileKeys{dir: dir, passphrase: passphrase, rand: rand}, nil
}

// keyLabels returns the file names or token labels of the root and issuing keys.
func keyLabels(c *Config) (root, issuing string) {
	if c.PKCS11 != nil {
		return c.PKCS11.RootLabel, c.PKCS11.IssuingLabel
	}
	return rootKeyFile, issuingKeyFile
}
