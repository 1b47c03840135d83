package store

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"time"

	"edgecert/internal/certfmt"
)

// maxChain bounds chain building (a loop of cross-certificates stops here).
const maxChain = 10

// loadCertLocked returns the parsed certificate with thumbprint t from its
// file. Files are named by the hash of their content, so the parse is cached.
func (s *Store) loadCertLocked(t string) (*x509.Certificate, error) {
	if c, ok := s.certCache[t]; ok {
		return c, nil
	}
	der, err := readStoreFile(filepath.Join(s.dir, certDir, t+".cer"))
	if err != nil {
		return nil, fmt.Errorf("store: certificate %s: %w", t, err)
	}
	c, err := certfmt.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("store: certificate file %s is damaged: %v", t, err)
	}
	if sha1Hex(c.Raw) != t {
		return nil, fmt.Errorf("store: certificate file %s holds another certificate (store damaged)", t)
	}
	s.certCache[t] = c
	return c, nil
}

// authorities returns the certificates of root and ca, and the set of
// thumbprints in root.
func (s *Store) authoritiesLocked(idx *index) ([]*x509.Certificate, map[string]bool, error) {
	var cas []*x509.Certificate
	roots := map[string]bool{}
	for i := range idx.Entries {
		r := &idx.Entries[i]
		if r.Location != Root && r.Location != CA {
			continue
		}
		c, err := s.loadCertLocked(r.Thumbprint)
		if err != nil {
			return nil, nil, err
		}
		cas = append(cas, c)
		if r.Location == Root {
			roots[r.Thumbprint] = true
		}
	}
	return cas, roots, nil
}

// Chain builds the chain of cert from the ca and root locations, leaf first,
// ending with a certificate in root; wraps ErrChain when it cannot.
func (s *Store) Chain(cert *x509.Certificate) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	err := s.read(func(idx *index) error {
		var err error
		chain, err = s.chainLocked(idx, cert)
		return err
	})
	return chain, err
}

// chainLocked builds the chain of cert; on ErrChain it also returns the
// part it could build, which p7b and pfx exports include "if possible".
func (s *Store) chainLocked(idx *index, cert *x509.Certificate) ([]*x509.Certificate, error) {
	cas, roots, err := s.authoritiesLocked(idx)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	chain := []*x509.Certificate{cert}
	cur := cert
	for len(chain) <= maxChain {
		if roots[sha1Hex(cur.Raw)] {
			return chain, nil
		}
		if isSelfSigned(cur) {
			return chain, fmt.Errorf("the chain of %s ends at the self-signed %q, which is not in root: %w", certfmt.NameString(cert.RawSubject), certfmt.NameString(cur.RawSubject), ErrChain)
		}
		next := pickIssuer(cur, cas, roots, now)
		if next == nil {
			return chain, fmt.Errorf("the chain of %s stops at %q: its issuer %q is in neither root nor ca: %w", certfmt.NameString(cert.RawSubject), certfmt.NameString(cur.RawSubject), certfmt.NameString(cur.RawIssuer), ErrChain)
		}
		chain = append(chain, next)
		cur = next
	}
	return chain, fmt.Errorf("the chain of %s is longer than %d certificates: %w", certfmt.NameString(cert.RawSubject), maxChain, ErrChain)
}

// pickIssuer returns the certificate among cas that signed c, preferring one
// in root and then one valid now.
func pickIssuer(c *x509.Certificate, cas []*x509.Certificate, roots map[string]bool, now time.Time) *x509.Certificate {
	var best *x509.Certificate
	bestScore := -1
	for _, p := range cas {
		if !bytes.Equal(p.RawSubject, c.RawIssuer) || bytes.Equal(p.Raw, c.Raw) {
			continue
		}
		if !signedBy(c, p) {
			continue
		}
		score := 0
		if roots[sha1Hex(p.Raw)] {
			score += 2
		}
		if !now.Before(p.NotBefore) && !now.After(p.NotAfter) {
			score++
		}
		if score > bestScore {
			best, bestScore = p, score
		}
	}
	return best
}
