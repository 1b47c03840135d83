package store

import (
	"fmt"
	"path/filepath"
	"strings"

	"edgecert/internal/csr"
)

// NewRequest makes a key and a request in the request location.
func (s *Store) NewRequest(spec RequestSpec) (*Pending, error) {
	if spec.Key == "" {
		spec.Key = csr.RSA2048
	}
	if err := s.checkNameFree(spec.FriendlyName, ""); err != nil {
		return nil, err // fail early, before the slow key generation
	}
	seal, err := s.prepareSealing()
	if err != nil {
		return nil, err
	}
	key, err := csr.NewKey(s.opts.Rand, spec.Key)
	if err != nil {
		return nil, fmt.Errorf("store: key %s: %w", spec.Key, err)
	}
	der, err := csr.Create(s.opts.Rand, key, spec.Request)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	req, err := csr.Decode(der)
	if err != nil {
		return nil, fmt.Errorf("store: the request just made does not parse: %w", err)
	}
	rec, err := recordForRequest(der, req)
	if err != nil {
		return nil, err
	}
	rec.Exportable = spec.Exportable
	rec.FriendlyName = strings.TrimSpace(spec.FriendlyName)
	if rec.Template == "" {
		rec.Template = spec.Request.Template
	}
	keyPEM, err := s.encodeKey(key)
	if err != nil {
		return nil, err
	}
	var undo *undoPoint
	err = s.update(func(t *txn) error {
		undo = s.undoPointLocked(t.old)
		if err := t.setSealing(seal); err != nil {
			return err
		}
		if err := t.nameFree(rec.FriendlyName, ""); err != nil {
			return err
		}
		t.idx.Entries = append(t.idx.Entries, rec)
		t.put(rec.certFile(), der, 0o644)
		t.put(rec.keyFile(), keyPEM, 0o600)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Pending{Entry: rec.Entry, DER: der, undo: undo}, nil
}

// Pending returns the pending requests.
func (s *Store) Pending() ([]Pending, error) {
	var out []Pending
	err := s.read(func(idx *index) error {
		for i := range idx.Entries {
			r := &idx.Entries[i]
			if r.Location != Request {
				continue
			}
			der, err := readStoreFile(filepath.Join(s.dir, filepath.FromSlash(r.certFile())))
			if err != nil {
				return fmt.Errorf("store: request %s: %w", r.Thumbprint, err)
			}
			out = append(out, Pending{Entry: r.Entry, DER: der})
		}
		return nil
	})
	return out, err
}

// checkNameFree is nameFree on the current index.
func (s *Store) checkNameFree(name, except string) error {
	return s.read(func(idx *index) error {
		t := &txn{idx: idx}
		return t.nameFree(name, except)
	})
}

// nameFree refuses a friendly name that an entry of my or request other
// than the one with thumbprint except already uses (R9: unique in the
// computer store; a request's name becomes its certificate's).
func (t *txn) nameFree(name, except string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	for i := range t.idx.Entries {
		r := &t.idx.Entries[i]
		if r.Thumbprint == except || (r.Location != My && r.Location != Request) {
			continue
		}
		if strings.EqualFold(r.FriendlyName, name) {
			return fmt.Errorf("friendly name %q is already used by %s %s (R9: friendly names are unique in the store): %w", name, r.Location, r.Thumbprint, ErrDuplicateName)
		}
	}
	return nil
}
