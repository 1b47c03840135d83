// Package store is a per-server certificate store modelled on the Windows
// computer store: the locations root (trusted root CAs), ca (intermediate
// CAs), my (personal certificates with their private keys) and request
// (pending requests with their keys), plus the usage assignments.
//
// A store is a directory. Every change is atomic (temp file, fsync, rename,
// then an index update that commits it), private keys are files of mode
// 0600, optionally sealed with a store passphrase, and a lock file serialises
// processes that share one store.
//
// CONTRACT (stubs to be implemented by the package owner; apply, verify and
// proxy use these signatures).
package store

import (
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"time"

	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
)

// Location is a store location.
type Location string

// Locations.
const (
	Root    Location = "root"
	CA      Location = "ca"
	My      Location = "my"
	Request Location = "request"
)

// Sentinel errors (wrapped with context).
var (
	ErrNotFound      = errors.New("not found")
	ErrNotExportable = errors.New("private key is not exportable")
	ErrNoKey         = errors.New("no private key")
	ErrDuplicateName = errors.New("friendly name already used in my")
	ErrChain         = errors.New("chain does not reach a trusted root")
	ErrExpired       = errors.New("certificate expired")
	ErrLocked        = errors.New("store is locked by another process")
	ErrInvalidInput  = errors.New("invalid input")
)

// Options configure a store.
type Options struct {
	Passphrase []byte // seals private keys when set
	Now        func() time.Time
	Rand       io.Reader
}

// Entry is what Windows shows for a certificate (or a pending request).
type Entry struct {
	Location     Location  `json:"location"`
	Thumbprint   string    `json:"thumbprint"` // SHA-1, upper-case hex (for a request: SHA-1 of the request DER)
	SHA256       string    `json:"sha256"`
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer,omitempty"`
	Serial       string    `json:"serial,omitempty"`
	NotBefore    time.Time `json:"not_before,omitempty"`
	NotAfter     time.Time `json:"not_after,omitempty"`
	DNSNames     []string  `json:"dns_names,omitempty"`
	EKU          []string  `json:"eku,omitempty"`
	KeyUsage     []string  `json:"key_usage,omitempty"`
	KeyAlgorithm string    `json:"key_algorithm"`
	KeyBits      int       `json:"key_bits"`
	FriendlyName string    `json:"friendly_name,omitempty"`
	HasKey       bool      `json:"has_key"`
	Exportable   bool      `json:"exportable"`
	Template     string    `json:"template,omitempty"`
}

// Store is one server's store.
type Store struct{ dir string }

// Open opens (creating when missing) the store in dir.
func Open(dir string, opts Options) (*Store, error) { return nil, errors.New("store: not implemented") }

// Dir returns the store directory.
func (s *Store) Dir() string { return s.dir }

// List returns the entries of loc ("" = every location), sorted by location then subject.
func (s *Store) List(loc Location) ([]Entry, error) { return nil, errors.New("store: not implemented") }

// Certificate returns the entry and certificate with this SHA-1 thumbprint (any location).
func (s *Store) Certificate(thumbprint string) (*Entry, *x509.Certificate, error) {
	return nil, nil, errors.New("store: not implemented")
}

// RequestSpec is a request to make in the request location.
type RequestSpec struct {
	Request      csr.Request
	Key          csr.KeySpec
	Exportable   bool
	FriendlyName string
}

// Pending is a request waiting in the request location.
type Pending struct {
	Entry
	DER []byte // the PKCS#10 request
}

// NewRequest makes a key and a request in the request location.
func (s *Store) NewRequest(spec RequestSpec) (*Pending, error) {
	return nil, errors.New("store: not implemented")
}

// Pending returns the pending requests.
func (s *Store) Pending() ([]Pending, error) { return nil, errors.New("store: not implemented") }

// ImportOptions control Import.
type ImportOptions struct {
	Password     string // for .pfx
	Exportable   bool   // may an imported key be exported again
	FriendlyName string // overrides the file's friendly name
}

// ImportResult lists what an import added, by location.
type ImportResult struct {
	Added   []Entry `json:"added"`
	Skipped []Entry `json:"skipped"` // already present
}

// Import detects the format of data (certificate, PKCS#7 chain, PFX) and
// files its content: self-signed CA certificates to root, other CA
// certificates to ca, an end-entity certificate matching a pending request to
// my with that request's key, a PFX to my with its chain to root/ca.
func (s *Store) Import(data []byte, opts ImportOptions) (*ImportResult, error) {
	return nil, errors.New("store: not implemented")
}

// ExportOptions control Export.
type ExportOptions struct {
	Format     string // "cer", "pem", "p7b", "pfx"
	Password   string // pfx
	Profile    certfmt.PFXProfile
	AllowEmpty bool // pfx with an empty password (insecure, explicit)
	DeleteKey  bool // remove the key after a successful export
}

// Export returns the certificate with this thumbprint in the given format;
// p7b and pfx include the whole chain found in ca/root. A pfx of a
// non-exportable key wraps ErrNotExportable.
func (s *Store) Export(thumbprint string, opts ExportOptions) ([]byte, error) {
	return nil, errors.New("store: not implemented")
}

// ExportChain returns the store's CA certificates (root and ca) as a DER .p7b.
func (s *Store) ExportChain() ([]byte, error) { return nil, errors.New("store: not implemented") }

// Chain builds the chain of cert from the ca and root locations, leaf first,
// ending with a certificate in root; wraps ErrChain when it cannot.
func (s *Store) Chain(cert *x509.Certificate) ([]*x509.Certificate, error) {
	return nil, errors.New("store: not implemented")
}

// PrivateKey returns the key of a certificate in my, for use on this server
// (for example to configure a local TLS listener). It does not export.
func (s *Store) PrivateKey(thumbprint string) (crypto.Signer, error) {
	return nil, errors.New("store: not implemented")
}

// Delete removes an entry (and its key).
func (s *Store) Delete(thumbprint string) error { return errors.New("store: not implemented") }

// Assignment binds a usage to a certificate in my. For
// AudioVideoAuthentication and OAuthTokenIssuer a staged certificate takes
// over at its effective date and the replaced one is kept as previous (R80).
type Assignment struct {
	Usage      string    `json:"usage"`
	Thumbprint string    `json:"thumbprint"`
	Previous   string    `json:"previous,omitempty"`
	Staged     string    `json:"staged,omitempty"`
	Effective  time.Time `json:"effective,omitempty"`
}

// Assign binds usage to the certificate, refusing one whose key is not in
// the store (ErrNoKey), whose chain does not reach root (ErrChain) or that
// has expired (ErrExpired).
func (s *Store) Assign(usage, thumbprint string) error { return errors.New("store: not implemented") }

// Stage schedules thumbprint to take over usage at effective (R80–R82).
func (s *Store) Stage(usage, thumbprint string, effective time.Time) error {
	return errors.New("store: not implemented")
}

// Assignments returns the assignments, sorted by usage; staged certificates
// whose effective date has passed are reported as current.
func (s *Store) Assignments() ([]Assignment, error) { return nil, errors.New("store: not implemented") }
