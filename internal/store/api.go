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
// A store seals all its keys or none: the index records which, with a
// verifier of the passphrase (sealing.go), and a change that would write a
// key without that passphrase, with another, or with one where keys are
// unsealed is refused before it writes anything.
//
// # Layout
//
//	DIR/index.bin         the index: every entry, the assignments and how keys are sealed (the commit point)
//	DIR/index.spare       the previous index, overwritten by the next commit
//	DIR/store.lock        flock(2) lock file, in stores made by earlier versions (new ones lock DIR)
//	DIR/certs/T.cer       DER certificates, named by SHA-1 thumbprint
//	DIR/requests/T.csr    DER PKCS#10 requests, named by SHA-1 of the request
//	DIR/keys/H.key        PKCS#8 PEM private keys (sealed when a passphrase is set),
//	                      mode 0600, named by the SHA-256 of the public key
//
// # Atomicity
//
// A change writes the new index into index.spare and syncs it, then its new
// files (temp file, fsync, rename, fsync of the directory), then swaps
// index.spare with index.bin in one atomic rename (the single commit point;
// where the file system cannot swap, a temporary file is renamed over
// index.bin), then removes the files the new index no longer references.
// After a crash the store is therefore exactly as before or exactly as
// after the change; the next change (never a read) removes the store's own
// temporary files and the files the spare names and the index does not,
// which only the killed change can have written.
//
// # Files the store did not write
//
// A store removes only what it wrote: temporary files named ".edgecert-tmp-"
// and digits, and the files above. Anything else in its folders is
// reported by Check and left alone. A store whose directory or folders are
// symbolic links, not folders, or owned by another user than the
// process's effective one is refused (ErrInvalidInput).
//
// # Concurrency
//
// Readers take a shared flock on the store directory (and on store.lock,
// when an earlier version made one) and writers an exclusive one; a
// process that cannot get the lock within Options.LockTimeout gets an error
// wrapping ErrLocked. The parsed index is cached per Store and reloaded only
// when index.bin changes (its header's generation rises with every commit),
// so List does not re-read certificate files.
package store

import (
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
	// LockTimeout bounds the wait for another process's lock (default 10s).
	LockTimeout time.Duration
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
	// undo is the store as it was before NewRequest made this request
	// (nil: not known), for DiscardRequest.
	undo *undoPoint
}

// ImportOptions control Import.
type ImportOptions struct {
	Password     string // for .pfx
	Exportable   bool   // may an imported key be exported again
	FriendlyName string // overrides the file's friendly name
	// AllCertificates imports every certificate of a file that brings a
	// private key (a .pfx, PEM with a key), not only the chain of the
	// key's certificate.
	AllCertificates bool
}

// ImportResult lists what an import added, by location.
type ImportResult struct {
	Added   []Entry `json:"added"`
	Skipped []Entry `json:"skipped"` // already present
	// Excluded are the certificates of a file with a private key that are
	// not in the chain of the key's certificate: not imported unless
	// ImportOptions.AllCertificates (Location says where they would go).
	Excluded []Entry `json:"excluded"`
}

// RootsAdded returns the entries the import added to root: trusted roots,
// which the caller shows as Windows warns before it adds one.
func (r *ImportResult) RootsAdded() []Entry {
	var out []Entry
	for _, e := range r.Added {
		if e.Location == Root {
			out = append(out, e)
		}
	}
	return out
}

// ExportOptions control Export.
type ExportOptions struct {
	Format     string // "cer", "pem", "p7b", "pfx"
	Password   string // pfx
	Profile    certfmt.PFXProfile
	AllowEmpty bool // pfx with an empty password (insecure, explicit)
	DeleteKey  bool // remove the key after a successful export
}

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

// Usages that Assign accepts: the -Type values of the Lync certificate
// cmdlets (topology.md).
var Usages = []string{
	"Internal", "AccessEdgeExternal", "DataEdgeExternal",
	"AudioVideoAuthentication", "XMPPServer", "WebServicesExternal",
	"Default", "WebServicesInternal", "OAuthTokenIssuer",
}

// stageable are the usages that may be staged with an effective date (R80).
var stageable = map[string]bool{"AudioVideoAuthentication": true, "OAuthTokenIssuer": true}
