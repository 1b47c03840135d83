package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
)

// Check verifies the store against its index: every entry has its files,
// every file holds what the index says (certificate by thumbprint, request
// by hash, key matching the certificate), friendly names are unique in my,
// assignments name certificates of my, and the store's folders hold no
// file that is not the store's (which it reports and never removes). It
// returns every problem found, joined.
func (s *Store) Check() error {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	err := s.read(func(idx *index) error {
		names := map[string]string{}
		for i := range idx.Entries {
			r := &idx.Entries[i]
			if !validLocation(r.Location) {
				bad("entry %s: unknown location %q", r.Thumbprint, r.Location)
				continue
			}
			if err := s.checkFiles(r, idx.Sealing); err != nil {
				bad("entry %s: %v", r.Thumbprint, err)
			}
			if r.Location == My && r.FriendlyName != "" {
				key := strings.ToLower(r.FriendlyName)
				if other, dup := names[key]; dup {
					bad("friendly name %q used by %s and %s", r.FriendlyName, other, r.Thumbprint)
				}
				names[key] = r.Thumbprint
			}
		}
		for _, a := range idx.Assignments {
			for _, tp := range []string{a.Thumbprint, a.Staged} {
				if tp == "" {
					continue
				}
				if r, err := idx.find(tp); err != nil || r.Location != My {
					bad("assignment %s names %s, which is not a certificate of my", a.Usage, tp)
				}
			}
		}
		for _, p := range s.foreignLocked(idx) {
			bad("%s is not the store's (its index does not name it); the store leaves it alone: move it out of the store", p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(problems...)
}

// checkFiles checks the certificate (or request) file and key file of r;
// the key must be sealed or not as sealing (index.Sealing) says.
func (s *Store) checkFiles(r *record, sealing string) error {
	der, err := readStoreFile(filepath.Join(s.dir, filepath.FromSlash(r.certFile())))
	if err != nil {
		return err
	}
	if sha1Hex(der) != r.Thumbprint {
		return fmt.Errorf("%s does not hold the entry's content", r.certFile())
	}
	var pub any
	if r.Location == Request {
		req, err := csr.Decode(der)
		if err != nil {
			return fmt.Errorf("%s: %v", r.certFile(), err)
		}
		pub = req.PublicKey
	} else {
		c, err := certfmt.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%s: %v", r.certFile(), err)
		}
		pub = c.PublicKey
	}
	if kh, err := keyHashOf(pub); err != nil || kh != r.KeyHash {
		return fmt.Errorf("the index's key hash does not match %s", r.certFile())
	}
	if !r.HasKey {
		return nil
	}
	fi, err := os.Stat(filepath.Join(s.dir, filepath.FromSlash(r.keyFile())))
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o600 {
		return fmt.Errorf("%s has mode %v, want 0600", r.keyFile(), fi.Mode().Perm())
	}
	if sealing != "" {
		data, err := readStoreFile(filepath.Join(s.dir, filepath.FromSlash(r.keyFile())))
		if err != nil {
			return err
		}
		if sealed := certfmt.IsSealed(data); sealed != (sealing != sealingPlain) {
			return fmt.Errorf("%s is %s, but the store %s its keys", r.keyFile(), map[bool]string{true: "sealed", false: "not sealed"}[sealed], map[bool]string{true: "seals", false: "does not seal"}[!sealed])
		}
	}
	_, err = s.loadKeyLocked(r)
	return err
}

// ownRoot are the files of the store directory itself.
var ownRoot = map[string]bool{indexName: true, spareName: true, lockName: true}

// foreignLocked lists (relative, slash-separated) what the store's
// folders hold that is not the store's: not named by the index, not one
// of its own temporary files, not left by a killed change (which the next
// change removes). The caller holds the lock.
func (s *Store) foreignLocked(idx *index) []string {
	want := idx.files()
	left := s.leftoversLocked(idx)
	var out []string
	for _, d := range storeFolders {
		ents, err := os.ReadDir(filepath.Join(s.dir, d))
		if err != nil {
			out = append(out, d+" ("+err.Error()+")")
			continue
		}
		for _, e := range ents {
			name := e.Name()
			rel := d + "/" + name
			if d == "." {
				rel = name
			}
			switch {
			case isOwnTemp(name) && e.Type().IsRegular():
			case d == "." && (ownRoot[name] || (e.IsDir() && isFolder(name))):
			case d != "." && (want[rel] || left[rel]) && e.Type().IsRegular():
			default:
				out = append(out, rel)
			}
		}
	}
	return out
}

func isFolder(name string) bool { return name == certDir || name == reqDir || name == keyDir }
