package store

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"

	"edgecert/internal/certfmt"
)

// notExportableHint is what the seeds tell an administrator whose key cannot
// be exported (R10).
const notExportableHint = `the key was not marked exportable when the certificate was requested, so "Yes, export the private key" is unavailable: request the certificate again with an exportable key (request new --exportable) (R10)`

// Export returns the certificate with this thumbprint in the given format;
// p7b and pfx include the whole chain found in ca/root. A pfx of a
// non-exportable key wraps ErrNotExportable.
//
// With DeleteKey the key is removed once the file is made; callers that
// write the result to disk should rather call DeleteKey themselves after the
// write succeeded.
func (s *Store) Export(thumbprint string, opts ExportOptions) ([]byte, error) {
	var out []byte
	err := s.read(func(idx *index) error {
		var err error
		out, err = s.exportLocked(idx, thumbprint, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	if opts.DeleteKey {
		if err := s.DeleteKey(thumbprint); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) exportLocked(idx *index, thumbprint string, opts ExportOptions) ([]byte, error) {
	r, err := idx.find(thumbprint)
	if err != nil {
		return nil, err
	}
	if r.Location == Request {
		return s.exportRequestLocked(r, opts.Format)
	}
	cert, err := s.loadCertLocked(r.Thumbprint)
	if err != nil {
		return nil, err
	}
	switch opts.Format {
	case "cer", "der", "":
		return cert.Raw, nil
	case "pem":
		return certfmt.EncodeCertificatePEM(cert), nil
	case "p7b":
		chain, err := s.chainLocked(idx, cert)
		if err != nil && !errors.Is(err, ErrChain) {
			return nil, err
		}
		return certfmt.EncodePKCS7(chain) // "include all certificates in the certification path if possible"
	case "pfx":
		return s.exportPFXLocked(idx, r, cert, opts)
	}
	return nil, fmt.Errorf("unknown export format %q (use cer, pem, p7b or pfx): %w", opts.Format, ErrInvalidInput)
}

// withKeyLocked returns what a PFX of r holds (key, certificate, chain),
// refusing a certificate without its key or with a key not marked exportable.
func (s *Store) withKeyLocked(idx *index, r *record, cert *x509.Certificate) (*certfmt.PFX, error) {
	return s.contentLocked(idx, r, cert, true)
}

// contentLocked is withKeyLocked, the exportable mark checked only when
// exportable is true.
func (s *Store) contentLocked(idx *index, r *record, cert *x509.Certificate, exportable bool) (*certfmt.PFX, error) {
	if r.Location != My || !r.HasKey {
		return nil, fmt.Errorf("cannot export %s (%s) with its private key: %w in the store", r.Thumbprint, r.Subject, ErrNoKey)
	}
	if exportable && !r.Exportable {
		return nil, fmt.Errorf("cannot export %s (%s) with its private key: %w; %s", r.Thumbprint, r.Subject, ErrNotExportable, notExportableHint)
	}
	key, err := s.loadKeyLocked(r)
	if err != nil {
		return nil, err
	}
	chain, err := s.chainLocked(idx, cert)
	if err != nil && !errors.Is(err, ErrChain) {
		return nil, err
	}
	return &certfmt.PFX{Key: key, Leaf: cert, CA: chain[1:], FriendlyName: r.FriendlyName}, nil
}

// HandoffPFX returns what a PFX of the certificate holds (key, leaf and
// chain) whatever the key's exportable mark. A workspace store is
// edgecert's copy of one real server, and this is how a key made there
// reaches that server (edgecert export windows), whose import marks it
// exportable or not as the plan says; it is not for copying keys between
// stores.
func (s *Store) HandoffPFX(thumbprint string) (*certfmt.PFX, error) {
	return s.pfxContent(thumbprint, false)
}

// pfxContent reads what a PFX of the certificate holds, the key's
// exportable mark checked when exportable is true.
func (s *Store) pfxContent(thumbprint string, exportable bool) (*certfmt.PFX, error) {
	var p *certfmt.PFX
	err := s.read(func(idx *index) error {
		r, err := idx.find(thumbprint)
		if err != nil {
			return err
		}
		cert, err := s.loadCertLocked(r.Thumbprint)
		if err != nil {
			return err
		}
		p, err = s.contentLocked(idx, r, cert, exportable)
		return err
	})
	return p, err
}

// ExportDecoded is the content of a PFX export of the certificate (its
// key, marked exportable, and its chain) without the file: for copying to
// another store of this process with ImportDecoded, where a password and
// its key derivations protect nothing.
func (s *Store) ExportDecoded(thumbprint string) (*Decoded, error) {
	p, err := s.pfxContent(thumbprint, true)
	if err != nil {
		return nil, err
	}
	return &Decoded{c: &content{pairs: []keyPair{{p.Key, p.Leaf, p.FriendlyName}}, certs: p.CA}}, nil
}

func (s *Store) exportPFXLocked(idx *index, r *record, cert *x509.Certificate, opts ExportOptions) ([]byte, error) {
	if opts.Password == "" && !opts.AllowEmpty && r.HasKey && r.Exportable {
		return nil, fmt.Errorf("a PFX that holds a private key must be password-protected (M9): give a password, or explicitly allow an insecure empty one: %w", ErrInvalidInput)
	}
	p, err := s.withKeyLocked(idx, r, cert)
	if err != nil {
		return nil, err
	}
	out, err := certfmt.EncodePFX(s.opts.Rand, p, opts.Password, opts.Profile, opts.AllowEmpty)
	if err != nil {
		return nil, fmt.Errorf("store: writing PFX: %w", err)
	}
	return out, nil
}

// exportRequestLocked returns a pending request again, PEM ("csr", "pem")
// or DER ("der", "cer"), for when the file written at creation is lost.
func (s *Store) exportRequestLocked(r *record, format string) ([]byte, error) {
	der, err := readStoreFile(filepath.Join(s.dir, filepath.FromSlash(r.certFile())))
	if err != nil {
		return nil, fmt.Errorf("store: request %s: %w", r.Thumbprint, err)
	}
	switch format {
	case "csr", "pem":
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
	case "der", "cer", "":
		return der, nil
	}
	return nil, fmt.Errorf("%s is a pending request: it can only be exported as a request (.csr), not as %s: %w", r.Thumbprint, format, ErrInvalidInput)
}

// ExportChain returns the store's CA certificates (root and ca) as a DER .p7b.
func (s *Store) ExportChain() ([]byte, error) {
	var certs []*x509.Certificate
	err := s.read(func(idx *index) error {
		// Intermediates first, then roots: the order of a certification path.
		for _, loc := range []Location{CA, Root} {
			for i := range idx.Entries {
				if idx.Entries[i].Location != loc {
					continue
				}
				c, err := s.loadCertLocked(idx.Entries[i].Thumbprint)
				if err != nil {
					return err
				}
				certs = append(certs, c)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("the store holds no CA certificate (root or ca): %w", ErrNotFound)
	}
	return certfmt.EncodePKCS7(certs)
}

// DeleteKey removes the private key of a certificate in my (the Windows
// export wizard's "Delete the private key if the export is successful").
// The certificate stays, without its key.
func (s *Store) DeleteKey(thumbprint string) error {
	return s.update(func(t *txn) error {
		r, err := t.idx.find(thumbprint)
		if err != nil {
			return err
		}
		if r.Location != My || !r.HasKey {
			return fmt.Errorf("%s (%s): %w to delete", r.Thumbprint, r.Subject, ErrNoKey)
		}
		r.HasKey, r.Exportable = false, false
		t.dirty = true
		return nil
	})
}

// Delete removes an entry (and its key, unless another entry shares it). A
// certificate that is assigned (current or staged) is refused.
func (s *Store) Delete(thumbprint string) error {
	return s.update(func(t *txn) error {
		r, err := t.idx.find(thumbprint)
		if err != nil {
			return err
		}
		tp := r.Thumbprint
		for i := range t.idx.Assignments {
			a := &t.idx.Assignments[i]
			if a.Thumbprint == tp || a.Staged == tp {
				return fmt.Errorf("%s is assigned to %s: assign another certificate first: %w", tp, a.Usage, ErrInvalidInput)
			}
			if a.Previous == tp {
				a.Previous = ""
			}
		}
		t.remove(tp)
		return nil
	})
}
