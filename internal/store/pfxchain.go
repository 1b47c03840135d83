package store

import (
	"bytes"
	"crypto/x509"
)

// A file that brings a private key (a .pfx, or PEM with a key) may hold
// any number of other certificates. Only the chain of the key's own
// certificate is imported: a self-signed certificate in such a file
// becomes a trusted root only when it is the root of that chain, never
// because it happened to travel in the same file (a leaf with 3,000
// unrelated self-signed certificates must not add 3,000 trusted roots).

// chainInFile returns the certificates of pool that form the chain of
// leaf (issuer after issuer, by name and signature, ending at a
// self-signed certificate or where the file's chain stops) and the others.
func chainInFile(leaf *x509.Certificate, pool []*x509.Certificate) (chain, others []*x509.Certificate) {
	used := make([]bool, len(pool))
	for cur := leaf; len(chain) < len(pool) && !isSelfSigned(cur); {
		next := -1
		for i, p := range pool {
			if !used[i] && bytes.Equal(p.RawSubject, cur.RawIssuer) && !bytes.Equal(p.Raw, cur.Raw) && keyIDMayMatch(cur, p) && issuedBy(cur, p) {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		chain = append(chain, pool[next])
		cur = pool[next]
	}
	for i, p := range pool {
		if !used[i] && !bytes.Equal(p.Raw, leaf.Raw) {
			others = append(others, p)
		}
	}
	return chain, others
}

// keyIDMayMatch is false when c names its issuer's key identifier and p
// has another one: no signature needs checking then (a file full of
// certificates with the issuer's name costs no verification each).
func keyIDMayMatch(c, p *x509.Certificate) bool {
	return len(c.AuthorityKeyId) == 0 || len(p.SubjectKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, p.SubjectKeyId)
}
