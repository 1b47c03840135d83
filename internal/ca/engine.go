package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgecert/internal/certfmt"
	"edgecert/internal/db"
)

// Engine is an opened CA.
type Engine struct {
	dir  string
	cfg  *Config
	db   *db.DB
	now  func() time.Time
	rand io.Reader

	keys    keyStore
	signer  crypto.Signer // the issuing key (nil when opened without key)
	softKey bool          // a Go key, whose signatures Go already checks
	pass    []byte        // the CA passphrase: seals the web server's key (servercert.go)
	work    *workers      // the submissions' CPU work (workers.go)
	issuer  *x509.Certificate
	root    *x509.Certificate
	chain   []*x509.Certificate

	tmplMu      sync.Mutex
	templates   map[string]*Template
	tmplChecked time.Time
	tmplMod     time.Time
	// tmplProblems are the template files skipped at the last reading,
	// each reported to onTemplateProblem (OpenOptions.OnTemplateProblem).
	tmplProblems      []TemplateProblem
	onTemplateProblem func(TemplateProblem)

	lint      lintCache
	crl       crlCache
	ocspKnown ocspMemory // last known statuses, for a database that is away (ocsp.go)

	// checkSig verifies a submitted request's signature, the dearest step
	// before signing (checkCSRSignature; tests count its calls).
	checkSig       func(*x509.CertificateRequest) error
	passwordChecks atomic.Int64 // argon2id checks Authenticate made (tests)

	stop chan struct{}
	wg   sync.WaitGroup
}

// lockedReader makes a caller-supplied randomness source safe for the
// engine's concurrent use.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

func safeRand(r io.Reader) io.Reader {
	if r == nil || r == rand.Reader {
		return rand.Reader
	}
	return &lockedReader{r: r}
}

// Open opens the CA in dir. Without a passphrase (and with WithoutKey) the
// engine can do everything that does not sign: listings, users, templates.
func Open(ctx context.Context, dir string, opts OpenOptions) (*Engine, error) {
	if opts.Workers < 0 || opts.Workers > MaxWorkers {
		return nil, fmt.Errorf("workers: %d is not between 0 (automatic) and %d: %w", opts.Workers, MaxWorkers, ErrBadRequest)
	}
	cfg, err := loadConfig(dir)
	if err != nil {
		return nil, err
	}
	if cfg.Pending {
		return nil, fmt.Errorf("the issuing CA of %s waits for its certificate (run 'edgecert ca import-issuing'): %w", dir, ErrConflict)
	}
	e := &Engine{dir: dir, cfg: cfg, now: opts.Now, rand: safeRand(opts.Rand), stop: make(chan struct{}), checkSig: checkCSRSignature,
		onTemplateProblem: opts.OnTemplateProblem}
	if e.now == nil {
		e.now = time.Now
	}
	if err := e.loadCerts(); err != nil {
		return nil, err
	}
	if !opts.WithoutKey {
		if err := e.openKey(opts.Passphrase); err != nil {
			return nil, err
		}
	}
	n := opts.Workers
	if n == 0 {
		n = workerCount(e.signer == nil || e.softKey)
	}
	e.work = newWorkers(n)
	dsn := cfg.dsn(dir)
	if opts.DSN != "" {
		dsn = opts.DSN
	}
	if e.db, err = db.Open(ctx, dsn); err != nil {
		e.closeKeys()
		return nil, wrapDB(err)
	}
	e.work.yield = e.db.ServerRound
	if _, err := e.loadTemplates(true); err != nil {
		e.Close()
		return nil, err
	}
	if e.signer != nil {
		e.wg.Add(1)
		go e.crlScheduler()
	}
	return e, nil
}

// loadCerts reads the root and issuing CA certificates.
func (e *Engine) loadCerts() error {
	read := func(name string) (*x509.Certificate, error) {
		b, err := os.ReadFile(filepath.Join(e.dir, name))
		if err != nil {
			return nil, err
		}
		certs, err := certfmt.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return certs[0], nil
	}
	var err error
	if e.root, err = read(rootCertFile); err != nil {
		return err
	}
	if e.cfg.RootOnly {
		e.issuer = e.root
		e.chain = []*x509.Certificate{e.root}
		return nil
	}
	if e.issuer, err = read(issuingCertFile); err != nil {
		return err
	}
	e.chain = []*x509.Certificate{e.issuer, e.root}
	return nil
}

// openKey unseals (or finds in the token) the issuing key and checks that
// it matches the issuing certificate.
func (e *Engine) openKey(passphrase []byte) error {
	ks, err := keysFor(e.dir, e.cfg, passphrase, e.rand)
	if err != nil {
		return err
	}
	_, label := keyLabels(e.cfg)
	if e.cfg.RootOnly {
		label, _ = keyLabels(e.cfg)
	}
	k, err := ks.open(label)
	if err != nil {
		ks.close()
		return err
	}
	if !certfmt.PublicKeysEqual(k.Public(), e.issuer.PublicKey) {
		ks.close()
		return fmt.Errorf("the issuing key does not match %s: %w", issuingCertFile, ErrBadRequest)
	}
	e.keys, e.signer, e.softKey = ks, k, isSoftKey(k)
	e.pass = append([]byte(nil), passphrase...)
	return nil
}

// closeKeys releases the key store.
func (e *Engine) closeKeys() {
	if e.keys != nil {
		e.keys.close()
		e.keys = nil
	}
}

// Close stops the CRL scheduler and releases the database and the key.
func (e *Engine) Close() error {
	select {
	case <-e.stop:
		return nil
	default:
	}
	close(e.stop)
	e.wg.Wait()
	if e.work != nil {
		e.work.stop()
	}
	var err error
	if e.db != nil {
		err = e.db.Close()
	}
	e.closeKeys()
	return err
}

// Chain returns the issuing CA certificate first, up to the root.
func (e *Engine) Chain() []*x509.Certificate { return append([]*x509.Certificate{}, e.chain...) }

// FileName is the issuing CA's file-safe name used in CRL and AIA URLs.
func (e *Engine) FileName() string { return e.cfg.FileName }

// PublicationURLs are the CRL distribution point, AIA issuer and OCSP
// URLs the CA puts in the certificates it issues (OCSP empty when none).
func (e *Engine) PublicationURLs() (crl, aia, ocsp string) {
	return e.cfg.CRLBase + e.cfg.FileName + ".crl", e.cfg.AIABase + e.cfg.FileName + ".crt", e.cfg.OCSPURL
}

// Workers is how many submissions do their CPU work at once
// (OpenOptions.Workers, or the automatic choice).
func (e *Engine) Workers() int { return e.work.n }

// RootFileName is the root CA's file-safe name: the issuing CA certificate
// points at <crl base><root>.crl and <aia base><root>.crt.
func (e *Engine) RootFileName() string { return e.cfg.RootName }

// RootCRL returns the root CA's CRL (DER), signed at init and by
// RenewRootCRL ('ca crl --root'); a root-only CA's CRL is CRL().
func (e *Engine) RootCRL() ([]byte, error) {
	if e.cfg.RootOnly {
		return nil, fmt.Errorf("root-only CA: the root's CRL is the CA's CRL: %w", ErrNotFound)
	}
	return os.ReadFile(filepath.Join(e.dir, rootCRLFile))
}

// Signer returns the issuing key, for measuring its raw signing rate
// (`edgecert bench sign-rate`); nil when the CA was opened without its key.
// Issuance never goes through this accessor.
func (e *Engine) Signer() crypto.Signer { return e.signer }

// Dir is the CA directory.
func (e *Engine) Dir() string { return e.dir }

// DB exposes the issuance database to the CA's own tools (benchmarks, tests).
func (e *Engine) DB() *db.DB { return e.db }

// sigHash is the digest the issuing key signs with (Go's defaults).
func sigHash(pub crypto.PublicKey) crypto.Hash {
	if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve.Params().BitSize > 256 {
		return crypto.SHA384
	}
	return crypto.SHA256
}

// isSoftKey reports whether k is a Go key (its signatures are verified by
// the standard library against faults).
func isSoftKey(k crypto.Signer) bool {
	switch k.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
		return true
	}
	return false
}

// wrapDB maps database errors to engine error kinds. The database's
// message already ends with its kind ("request 7: not found"), so the
// engine's kind is added to the chain, not to the message, which says its
// kind once ("request 7 not found").
func wrapDB(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, db.ErrNotFound):
		msg := strings.TrimSuffix(err.Error(), ": "+db.ErrNotFound.Error())
		return &kindError{msg: msg + " not found", errs: []error{ErrNotFound, err}}
	case errors.Is(err, db.ErrConflict), errors.Is(err, db.ErrDuplicate):
		return &kindError{msg: err.Error(), errs: []error{ErrConflict, err}}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, db.ErrUnavailable):
		return &kindError{msg: err.Error(), errs: []error{ErrUnavailable, err}}
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// kindError is an error with its own message whose chain holds an engine
// error kind and the cause.
type kindError struct {
	msg  string
	errs []error
}

func (e *kindError) Error() string   { return e.msg }
func (e *kindError) Unwrap() []error { return e.errs }
