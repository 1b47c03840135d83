package store

import (
	"crypto"
	"errors"
	"fmt"
	"path/filepath"

	"edgecert/internal/certfmt"
)

// encodeKey returns the key file content: sealed with the store passphrase
// when one is set, else unencrypted PKCS#8 PEM (the file is mode 0600).
func (s *Store) encodeKey(key crypto.Signer) ([]byte, error) {
	if len(s.opts.Passphrase) > 0 {
		b, err := certfmt.SealPrivateKey(s.opts.Rand, key, s.opts.Passphrase)
		if err != nil {
			return nil, fmt.Errorf("store: sealing private key: %w", err)
		}
		return b, nil
	}
	b, err := certfmt.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("store: encoding private key: %w", err)
	}
	return b, nil
}

// loadKeyLocked reads and opens the key of r, checking that it is the key
// the index names. The caller holds the lock.
func (s *Store) loadKeyLocked(r *record) (crypto.Signer, error) {
	if !r.HasKey {
		return nil, fmt.Errorf("certificate %s (%s): %w in the store", r.Thumbprint, r.Subject, ErrNoKey)
	}
	data, err := readStoreFile(filepath.Join(s.dir, filepath.FromSlash(r.keyFile())))
	if err != nil {
		return nil, fmt.Errorf("store: private key of %s: %w", r.Thumbprint, err)
	}
	if certfmt.IsSealed(data) && len(s.opts.Passphrase) == 0 {
		return nil, fmt.Errorf("store: the private key of %s is sealed; give the store passphrase (--passphrase-file or EDGECERT_STORE_PASSPHRASE_FILE): %w", r.Thumbprint, ErrInvalidInput)
	}
	key, err := certfmt.OpenPrivateKey(data, s.opts.Passphrase)
	if err != nil {
		if errors.Is(err, certfmt.ErrWrongPassword) {
			return nil, fmt.Errorf("store: wrong store passphrase for the private key of %s: %w", r.Thumbprint, ErrInvalidInput)
		}
		return nil, fmt.Errorf("store: private key of %s: %w", r.Thumbprint, err)
	}
	kh, err := keyHashOf(key.Public())
	if err != nil || kh != r.KeyHash {
		return nil, fmt.Errorf("store: the key file of %s holds another key (store damaged)", r.Thumbprint)
	}
	return key, nil
}

// PrivateKey returns the key of a certificate in my, for use on this server
// (for example to configure a local TLS listener). It does not export.
func (s *Store) PrivateKey(thumbprint string) (crypto.Signer, error) {
	var key crypto.Signer
	err := s.read(func(idx *index) error {
		r, err := idx.find(thumbprint)
		if err != nil {
			return err
		}
		key, err = s.loadKeyLocked(r)
		return err
	})
	return key, err
}
