package store

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"edgecert/internal/certfmt"
)

// content is what an input file holds, decoded before the store is touched.
type content struct {
	certs []*x509.Certificate // certificates without a key in the file
	pairs []keyPair           // PFX, PEM with a key: each key with its certificate
}

// keyPair is a private key with its certificate and friendly name.
type keyPair struct {
	key      crypto.Signer
	leaf     *x509.Certificate
	friendly string
}

// decodeInput detects the format of data and decodes it. Every error wraps
// ErrInvalidInput and says what the file is.
func decodeInput(data []byte, password string) (*content, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf(format+": %w", append(args, ErrInvalidInput)...)
	}
	if c, ok, err := decodePEMWithKey(data); ok || err != nil {
		if err != nil {
			return nil, bad("%v", err)
		}
		return c, nil
	}
	switch f := certfmt.Detect(data); f {
	case certfmt.FormatPKCS12:
		p, err := certfmt.DecodePFXAll(data, password)
		switch {
		case errors.Is(err, certfmt.ErrWrongPassword):
			if password == "" {
				return nil, bad("the PFX file is password-protected: give its password (--password-file)")
			}
			return nil, bad("wrong password for the PFX file")
		case err != nil:
			return nil, bad("cannot read the PFX file: %v", err)
		case len(p.Pairs) == 0:
			return nil, bad("the PFX file holds no private key with its certificate")
		}
		c := &content{certs: p.Certs}
		for _, kp := range p.Pairs {
			c.pairs = append(c.pairs, keyPair{kp.Key, kp.Leaf, kp.FriendlyName})
		}
		return c, nil
	case certfmt.FormatPKCS7:
		certs, err := certfmt.DecodePKCS7(data)
		if err != nil {
			return nil, bad("cannot read the PKCS#7 file: %v", err)
		}
		return &content{certs: certs}, nil
	case certfmt.FormatCertificate:
		certs, err := certfmt.ParseCertificates(data)
		if err != nil {
			return nil, bad("cannot read the certificate file: %v", err)
		}
		return &content{certs: certs}, nil
	case certfmt.FormatCSR:
		return nil, bad("this is a certificate request, not a certificate: submit it to a CA (edgecert request submit) and import the certificate it returns")
	case certfmt.FormatPrivateKey:
		return nil, bad("a private key alone cannot be imported: import a .pfx that holds the certificate with its key")
	case certfmt.FormatCRL:
		return nil, bad("a CRL cannot be imported into the certificate store")
	default:
		return nil, bad("not a certificate (.cer/.crt), a PKCS#7 chain (.p7b) or a PFX (.pfx/.p12) file")
	}
}

// decodePEMWithKey reads a PEM file that holds a private key with its
// certificate (and chain), as OpenSSL, certbot and nginx keep them. ok is
// false when data is not PEM or holds no private key.
func decodePEMWithKey(data []byte) (c *content, ok bool, err error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) || !bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		return nil, false, nil
	}
	var certs []*x509.Certificate
	var keys []*pem.Block
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			cert, err := certfmt.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, true, fmt.Errorf("PEM block %d: %v", n, err)
			}
			certs = append(certs, cert)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
				return nil, true, errors.New("the private key in this PEM file is encrypted: convert the file to a .pfx (openssl pkcs12 -export) and import that")
			}
			keys = append(keys, b)
		default:
			return nil, true, fmt.Errorf("PEM block %d is a %q, not a certificate or private key", n, b.Type)
		}
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, true, errors.New("the PEM file has data after its last block")
	}
	if len(certs) == 0 {
		return nil, false, nil // a key alone: refused below as a private key
	}
	if len(keys) != 1 {
		return nil, true, fmt.Errorf("the PEM file holds %d private keys; import one certificate with its key at a time", len(keys))
	}
	key, err := certfmt.ParsePrivateKey(pem.EncodeToMemory(keys[0]))
	if err != nil {
		return nil, true, fmt.Errorf("the private key in the PEM file: %v", err)
	}
	c = &content{}
	var leaf *x509.Certificate
	for _, cert := range certs {
		if leaf == nil && certfmt.PublicKeysEqual(cert.PublicKey, key.Public()) {
			leaf = cert
		} else {
			c.certs = append(c.certs, cert)
		}
	}
	if leaf == nil {
		return nil, true, errors.New("no certificate in the PEM file matches its private key")
	}
	c.pairs = []keyPair{{key: key, leaf: leaf}}
	return c, true, nil
}

// CheckImport decodes data as Import would, without a store: callers use it
// to refuse bad input before they create a store for it.
func CheckImport(data []byte, opts ImportOptions) error {
	_, err := decodeInput(data, opts.Password)
	return err
}

// Import detects the format of data (certificate, PKCS#7 chain, PFX) and
// files its content: self-signed CA certificates to root, other CA
// certificates to ca, an end-entity certificate matching a pending request to
// my with that request's key, a PFX to my with its chain to root/ca. Of a
// file that brings a private key, only the chain of the key's certificate
// is imported (its self-signed top to root); the other certificates are
// listed in Excluded unless opts.AllCertificates.
//
// Nothing is changed unless every certificate of the file can be filed.
func (s *Store) Import(data []byte, opts ImportOptions) (*ImportResult, error) {
	c, err := decodeInput(data, opts.Password)
	if err != nil {
		return nil, err
	}
	return s.ImportDecoded(&Decoded{c: c}, opts)
}

// Decoded is the content of an import file (certificates, and a key with
// its certificate), as ExportDecoded gives it, to be imported into other
// stores without a file in between.
type Decoded struct{ c *content }

// ImportDecoded is Import of content already decoded; opts.Password is not
// used.
func (s *Store) ImportDecoded(d *Decoded, opts ImportOptions) (*ImportResult, error) {
	if d == nil || d.c == nil {
		return nil, fmt.Errorf("nothing to import: %w", ErrInvalidInput)
	}
	c := d.c
	if len(c.pairs) > 1 && opts.FriendlyName != "" {
		return nil, fmt.Errorf("a friendly name names one certificate, and the file holds %d private keys with their certificates: import it without one: %w", len(c.pairs), ErrInvalidInput)
	}
	var seal sealing
	if len(c.pairs) > 0 {
		var err error
		if seal, err = s.prepareSealing(); err != nil {
			return nil, err
		}
	}
	keyPEMs := make([][]byte, len(c.pairs))
	for i, kp := range c.pairs {
		var err error
		if keyPEMs[i], err = s.encodeKey(kp.key); err != nil {
			return nil, err
		}
	}
	res := &ImportResult{Added: []Entry{}, Skipped: []Entry{}, Excluded: []Entry{}}
	certs := c.certs
	if len(c.pairs) > 0 && !opts.AllCertificates {
		certs = nil
		others := c.certs
		for _, kp := range c.pairs {
			var chain []*x509.Certificate
			chain, others = chainInFile(kp.leaf, others)
			certs = append(certs, chain...)
		}
		for _, o := range others {
			res.Excluded = append(res.Excluded, excludedEntry(o))
		}
	}
	err := s.update(func(t *txn) error {
		if len(c.pairs) > 0 {
			if err := t.setSealing(seal); err != nil {
				return err
			}
		}
		for i, kp := range c.pairs {
			name := kp.friendly
			if opts.FriendlyName != "" {
				name = opts.FriendlyName
			}
			if err := t.fileWithKey(res, kp.leaf, keyPEMs[i], opts.Exportable, name); err != nil {
				return err
			}
		}
		for _, cert := range certs {
			if err := t.fileCert(res, cert, opts.FriendlyName); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// excludedEntry describes a certificate left out of an import, with the
// location its names say it would go to (no signature is checked for a
// certificate that is not imported).
func excludedEntry(c *x509.Certificate) Entry {
	loc := My
	switch {
	case c.BasicConstraintsValid && !c.IsCA:
	case bytes.Equal(c.RawSubject, c.RawIssuer) && (c.IsCA || c.Version < 3):
		loc = Root
	case c.IsCA:
		loc = CA
	}
	rec, err := recordForCert(c, loc)
	if err != nil {
		return Entry{Location: loc, Thumbprint: sha1Hex(c.Raw), SHA256: sha256Hex(c.Raw), Subject: certfmt.NameString(c.RawSubject)}
	}
	return rec.Entry
}

// fileWithKey files a PFX leaf with its key in my.
func (t *txn) fileWithKey(res *ImportResult, leaf *x509.Certificate, keyPEM []byte, exportable bool, name string) error {
	rec, err := recordForCert(leaf, My)
	if err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	if old, err := t.idx.find(rec.Thumbprint); err == nil {
		if old.Location == My && old.HasKey {
			res.Skipped = append(res.Skipped, old.Entry)
			return nil
		}
		// The certificate is there without its key (or in another location):
		// the PFX brings the key.
		if old.Location == My && name == "" {
			name = old.FriendlyName
		}
		t.remove(old.Thumbprint)
	}
	if err := t.nameFree(name, rec.Thumbprint); err != nil {
		return err
	}
	if req := t.keyOwner(rec.KeyHash); req != nil && req.Location == Request {
		t.remove(req.Thumbprint) // the PFX fulfils a request made here
	}
	rec.HasKey, rec.Exportable, rec.FriendlyName = true, exportable, name
	t.add(rec)
	t.put(rec.certFile(), leaf.Raw, 0o644)
	t.put(rec.keyFile(), keyPEM, 0o600)
	res.Added = append(res.Added, rec.Entry)
	return nil
}

// fileCert files a certificate without a key of its own: a CA certificate
// to root or ca, an end-entity certificate to my with the key of the
// pending request (or certificate) that has its public key.
func (t *txn) fileCert(res *ImportResult, cert *x509.Certificate, name string) error {
	if old, err := t.idx.find(sha1Hex(cert.Raw)); err == nil {
		res.Skipped = append(res.Skipped, old.Entry)
		return nil
	}
	if isCA(cert) {
		rec, err := recordForCert(cert, caLocation(cert))
		if err != nil {
			return err
		}
		t.add(rec)
		t.put(rec.certFile(), cert.Raw, 0o644)
		res.Added = append(res.Added, rec.Entry)
		return nil
	}
	rec, err := recordForCert(cert, My)
	if err != nil {
		return err
	}
	owner := t.keyOwner(rec.KeyHash)
	if owner == nil {
		return fmt.Errorf("certificate %q (thumbprint %s) is not a CA certificate and no pending request or certificate in the store has its key; import the .pfx that holds its private key: %w", rec.Subject, rec.Thumbprint, ErrNoKey)
	}
	rec.HasKey, rec.Exportable, rec.FriendlyName = true, owner.Exportable, owner.FriendlyName
	if owner.Location == My {
		rec.FriendlyName = "" // names are unique; the older certificate keeps its own
	}
	if rec.Template == "" && owner.Location == Request {
		rec.Template = owner.Template
	}
	if name != "" {
		rec.FriendlyName = strings.TrimSpace(name)
	}
	except := ""
	if owner.Location == Request {
		except = owner.Thumbprint
		t.remove(owner.Thumbprint) // the request is fulfilled
	}
	if err := t.nameFree(rec.FriendlyName, except); err != nil {
		return err
	}
	t.add(rec)
	t.put(rec.certFile(), cert.Raw, 0o644)
	res.Added = append(res.Added, rec.Entry)
	return nil
}

// keyOwner returns the pending request, else the entry of my, that holds the
// private key with this hash, or nil.
func (t *txn) keyOwner(keyHash string) *record {
	var mine *record
	for i := range t.idx.Entries {
		r := &t.idx.Entries[i]
		if !r.HasKey || r.KeyHash != keyHash {
			continue
		}
		if r.Location == Request {
			cp := *r
			return &cp
		}
		if r.Location == My && mine == nil {
			cp := *r
			mine = &cp
		}
	}
	return mine
}

// add appends a record to the transaction's index.
func (t *txn) add(r record) {
	t.idx.Entries = append(t.idx.Entries, r)
	t.idx.byThumb = nil
	t.dirty = true
}

// remove drops the record with thumbprint tp from the transaction's index.
func (t *txn) remove(tp string) {
	out := t.idx.Entries[:0]
	for _, r := range t.idx.Entries {
		if r.Thumbprint != tp {
			out = append(out, r)
		}
	}
	t.idx.Entries = out
	t.idx.byThumb = nil
	t.dirty = true
}
