package store

import (
	"errors"
	"fmt"
	"path/filepath"

	"edgecert/internal/certfmt"
)

// A store seals all its private keys with one passphrase, or none. The
// index records which (index.Sealing), with a verifier of the passphrase,
// at the first change that writes a key; every later change that writes
// a key is refused, before anything is written, when the passphrase is
// missing, different, or given to a store that keeps its keys unsealed.
// A store made by version 1 of the index has no record: its first key
// file tells.

// sealingPlain records a store whose keys are not sealed.
const sealingPlain = "plain"

const passphraseHint = "--passphrase-file or EDGECERT_STORE_PASSPHRASE_FILE"

// sealing is what a change that writes a key records: seen is the index's
// Sealing it was decided from, record the value to store.
type sealing struct{ seen, record string }

// decideSealing checks this Store's passphrase against what the store in
// idx records (or, when it records nothing, its first key) and returns
// what a change writing a key records. Errors wrap ErrInvalidInput.
func (s *Store) decideSealing(idx *index) (sealing, error) {
	pass := s.opts.Passphrase
	d := sealing{seen: idx.Sealing}
	switch idx.Sealing {
	case sealingPlain:
		if len(pass) > 0 {
			return d, fmt.Errorf("store %s keeps its private keys unsealed: give no store passphrase (%s), or use a new store for sealed keys: %w", s.dir, passphraseHint, ErrInvalidInput)
		}
		d.record = sealingPlain
		return d, nil
	case "":
		return s.decideUnrecorded(idx)
	}
	if len(pass) == 0 {
		return d, fmt.Errorf("store %s seals its private keys: give the store passphrase (%s): %w", s.dir, passphraseHint, ErrInvalidInput)
	}
	if s.sealVerified != idx.Sealing {
		err := certfmt.CheckPassphrase(idx.Sealing, pass)
		if errors.Is(err, certfmt.ErrWrongPassword) {
			return d, fmt.Errorf("store %s: wrong store passphrase: its private keys are sealed with another one: %w", s.dir, ErrInvalidInput)
		}
		if err != nil {
			return d, fmt.Errorf("store %s: the index's passphrase record is damaged: %w", s.dir, err)
		}
		s.sealVerified = idx.Sealing
	}
	d.record = idx.Sealing
	return d, nil
}

// decideUnrecorded decides for a store whose index records nothing: from
// its first key when it has one, else from the passphrase given.
func (s *Store) decideUnrecorded(idx *index) (sealing, error) {
	pass := s.opts.Passphrase
	d := sealing{}
	for i := range idx.Entries {
		r := &idx.Entries[i]
		if !r.HasKey {
			continue
		}
		data, err := readStoreFile(filepath.Join(s.dir, filepath.FromSlash(r.keyFile())))
		if err != nil {
			continue // check reports it; the next key decides
		}
		if !certfmt.IsSealed(data) {
			if len(pass) > 0 {
				return d, fmt.Errorf("store %s keeps its private keys unsealed: give no store passphrase (%s), or use a new store for sealed keys: %w", s.dir, passphraseHint, ErrInvalidInput)
			}
			d.record = sealingPlain
			return d, nil
		}
		if _, err := s.loadKeyLocked(r); err != nil {
			return d, err // no or wrong passphrase, said for this key
		}
		break
	}
	if len(pass) == 0 {
		d.record = sealingPlain
		return d, nil
	}
	v, err := certfmt.NewPassphraseVerifier(s.opts.Rand, pass)
	if err != nil {
		return d, fmt.Errorf("store: %w", err)
	}
	d.record, s.sealVerified = v, v
	return d, nil
}

// prepareSealing is decideSealing on the current index, for a change
// about to write a key: it runs before the key is made or sealed.
func (s *Store) prepareSealing() (sealing, error) {
	var d sealing
	err := s.read(func(idx *index) error {
		var err error
		d, err = s.decideSealing(idx)
		return err
	})
	return d, err
}

// setSealing records d in the change, deciding again when another
// process recorded something else since prepareSealing.
func (t *txn) setSealing(d sealing) error {
	if t.idx.Sealing != d.seen {
		var err error
		if d, err = t.s.decideSealing(t.idx); err != nil {
			return err
		}
	}
	if t.idx.Sealing != d.record {
		t.idx.Sealing = d.record
		t.dirty = true
	}
	return nil
}
