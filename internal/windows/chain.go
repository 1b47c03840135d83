package windows

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// ErrChain is wrapped when a certificate's chain does not reach a
// certificate of the snapshot's Root store.
var ErrChain = errors.New("chain does not reach Trusted Root")

const maxChain = 8

// Find returns the certificate of My with thumbprint t.
func (s *Snapshot) Find(t string) (*Cert, bool) {
	for i := range s.My {
		if strings.EqualFold(s.My[i].Thumbprint, t) {
			return &s.My[i], true
		}
	}
	return nil, false
}

// Chain builds cert's chain from the snapshot's CA (Intermediate) and Root
// stores, as Windows does without fetching from AIA: each issuer must be
// present and have signed its subject. The last certificate is in Root.
func (s *Snapshot) Chain(cert *x509.Certificate) ([]*x509.Certificate, error) {
	roots := map[string]bool{}
	var pool []*x509.Certificate
	for _, c := range s.Root {
		if c.Cert != nil {
			roots[c.Thumbprint] = true
			pool = append(pool, c.Cert)
		}
	}
	for _, c := range s.CA {
		if c.Cert != nil {
			pool = append(pool, c.Cert)
		}
	}
	chain := []*x509.Certificate{cert}
	cur := cert
	for len(chain) <= maxChain {
		if roots[thumb(cur)] {
			return chain, nil
		}
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) && cur.CheckSignatureFrom(cur) == nil {
			return chain, fmt.Errorf("the chain ends at the self-signed %q, which is not in Cert:\\LocalMachine\\Root: %w", cur.Subject, ErrChain)
		}
		var next *x509.Certificate
		for _, p := range pool {
			if bytes.Equal(p.RawSubject, cur.RawIssuer) && !bytes.Equal(p.Raw, cur.Raw) && cur.CheckSignatureFrom(p) == nil {
				if next == nil || (roots[thumb(p)] && !roots[thumb(next)]) {
					next = p
				}
			}
		}
		if next == nil {
			return chain, fmt.Errorf("the chain stops at %q: its issuer %q is in neither Cert:\\LocalMachine\\CA nor Root: %w", cur.Subject, cur.Issuer, ErrChain)
		}
		chain = append(chain, next)
		cur = next
	}
	return chain, fmt.Errorf("the chain is longer than %d certificates: %w", maxChain, ErrChain)
}

func thumb(c *x509.Certificate) string {
	return thumbprint(c.Raw)
}
