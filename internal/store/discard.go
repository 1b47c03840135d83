package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// undoPoint is the store as it was before a change: the index and spare
// files byte for byte (spare nil: there was none), and the generation the
// change committed.
type undoPoint struct {
	index, spare []byte
	committed    uint64
}

// undoPointLocked reads the index and spare files that old was loaded
// from (nil when they cannot be read as that index). The caller holds the
// exclusive lock.
func (s *Store) undoPointLocked(old *index) *undoPoint {
	index, err := os.ReadFile(filepath.Join(s.dir, indexName))
	if err != nil || len(index) > maxIndexSize {
		return nil
	}
	if idx, err := decodeIndex(index); err != nil || idx.Generation != old.Generation {
		return nil
	}
	u := &undoPoint{index: index, committed: old.Generation + 1}
	if !s.noSwap {
		spare, err := os.ReadFile(filepath.Join(s.dir, spareName))
		switch {
		case err == nil && len(spare) <= maxIndexSize:
			u.spare = spare
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil
		}
	}
	return u
}

// DiscardRequest removes the request p, which NewRequest made and nothing
// used, with its key. When the store has committed no other change since,
// it is put back exactly as it was before NewRequest (index and spare
// index byte for byte, the request's files removed); otherwise the request
// and its key are removed by an ordinary change. A request that is no
// longer pending (issued, or already removed) is left alone.
func (s *Store) DiscardRequest(p *Pending) error {
	if p.undo != nil {
		if done, err := s.undoRequest(p); err != nil || done {
			return err
		}
	}
	return s.update(func(t *txn) error {
		r, err := t.idx.find(p.Thumbprint)
		if errors.Is(err, ErrNotFound) || (err == nil && r.Location != Request) {
			return nil
		}
		if err != nil {
			return err
		}
		t.remove(r.Thumbprint)
		return nil
	})
}

// undoRequest puts the store back to p's undo point when the index is
// still the one NewRequest committed. It reports whether it did.
//
// Crash safety is that of a commit: the index before NewRequest goes to
// the spare, the two are swapped (the commit point: a crash after it
// leaves the spare naming the request's files, which the next change
// removes as a killed change's leftovers), then the request's files are
// removed and the spare gets back its earlier content.
func (s *Store) undoRequest(p *Pending) (bool, error) {
	u := p.undo
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock(true)
	if err != nil {
		return false, err
	}
	defer unlock()
	if err := s.checkFolders(false); err != nil {
		return false, err
	}
	cur, err := s.loadLocked()
	if err != nil {
		return false, err
	}
	r, err := cur.find(p.Thumbprint)
	if cur.Generation != u.committed || err != nil || r.Location != Request {
		return false, nil
	}
	old, err := decodeIndex(u.index)
	if err != nil {
		return false, nil
	}
	if err := s.writeSpareLocked(u.index); err != nil {
		return false, err
	}
	if err := s.installIndexLocked(old, u.index); err != nil {
		s.tidied = false
		return false, err
	}
	crashPoint("discard-after-index")
	keep := old.files()
	for rel := range cur.files() {
		if !keep[rel] {
			removeRegular(filepath.Join(s.dir, filepath.FromSlash(rel)))
		}
	}
	crashPoint("discard-after-files")
	if !s.noSwap {
		spare := filepath.Join(s.dir, spareName)
		if u.spare == nil {
			removeRegular(spare)
		} else if err := s.writeSpareLocked(u.spare); err != nil {
			s.tidied = false
			return true, err
		}
		if err := syncDir(s.dir); err != nil {
			return true, fmt.Errorf("store: %w", err)
		}
	}
	s.tidied, s.tidyGen, s.spareTag = true, old.Generation, s.spareTagNow()
	return true, nil
}
