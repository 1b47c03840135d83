package ca

import (
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
	"edgecert/internal/db"
)

// Default URLs: the CA's own plain-HTTP publication listener.
const (
	DefaultHTTPListen = "127.0.0.1:8080"
	defaultCRLBase    = "http://" + DefaultHTTPListen + "/crl/"
	defaultAIABase    = "http://" + DefaultHTTPListen + "/aia/"
	defaultOCSPURL    = "http://" + DefaultHTTPListen + "/ocsp"
)

// initDefaults fills the zero fields of opts.
func initDefaults(o *InitOptions) {
	if o.Name == "" {
		o.Name = "edgecert"
	}
	if o.Key == "" {
		o.Key = "rsa2048"
	}
	if o.RootValidity == 0 {
		o.RootValidity = 20 * 365 * 24 * time.Hour
	}
	if o.IssuingValidity == 0 {
		o.IssuingValidity = 10 * 365 * 24 * time.Hour
	}
	if o.CRLURL == "" {
		o.CRLURL = defaultCRLBase
	}
	if o.AIAURL == "" {
		o.AIAURL = defaultAIABase
	}
	if o.OCSPURL == "" {
		o.OCSPURL = defaultOCSPURL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Rand = safeRand(o.Rand)
}

// checkInit validates opts before anything is written.
func checkInit(dir string, o *InitOptions) error {
	bad := func(f string, a ...any) error { return fmt.Errorf(f+": %w", append(a, ErrBadRequest)...) }
	if err := checkKeySpec(o.Key); err != nil {
		return err
	}
	if len(o.Passphrase) == 0 {
		return bad("a CA passphrase is required (--passphrase-file)")
	}
	if o.PKCS11 == nil && len(o.Passphrase) < MinPassphraseLen {
		return bad("the CA passphrase has %d characters; it needs at least %d", len(o.Passphrase), MinPassphraseLen)
	}
	if strings.TrimSpace(o.Name) == "" || len(o.Name) > 60 {
		return bad("invalid CA name %q", o.Name)
	}
	if o.PathLen < 0 {
		return bad("path length must be 0 or more, not %d", o.PathLen)
	}
	if o.IssuingValidity > o.RootValidity {
		return bad("the issuing CA validity (%s) exceeds the root's (%s)", o.IssuingValidity, o.RootValidity)
	}
	for _, u := range []struct{ flag, v string }{{"--crl-url", o.CRLURL}, {"--aia-url", o.AIAURL}, {"--ocsp-url", o.OCSPURL}} {
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return bad("%s %q is not an http(s) URL", u.flag, u.v)
		}
	}
	if !u(o.CRLURL) || !u(o.AIAURL) {
		return bad("--crl-url and --aia-url are base URLs and must end with /")
	}
	if o.RootOnly && o.IssuingRequest {
		return bad("--root-only and --issuing-request exclude each other")
	}
	if o.AdminName != "" && !validUserName(o.AdminName) {
		return bad("invalid administrator name %q", o.AdminName)
	}
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return fmt.Errorf("%s already holds a CA: %w", dir, ErrConflict)
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return bad("%s is not a folder", dir)
	}
	if f, err := os.Open(dir); err == nil {
		names, _ := f.Readdirnames(1)
		f.Close()
		if len(names) > 0 {
			return fmt.Errorf("%s is not empty: a CA goes into a new or empty folder (its database holds password and token hashes): %w", dir, ErrConflict)
		}
	}
	return nil
}

// MinPassphraseLen is the shortest CA key passphrase Init accepts (a
// PKCS#11 token's PIN excepted: the token limits its guesses).
const MinPassphraseLen = 12

// Modes of what Init and the engine write in the CA folder: the folder
// and every file in it are the CA operator's alone (the database holds
// password and token hashes, the keys are sealed, and nobody else needs
// the rest from the folder: clients get certificates and CRLs from the
// server).
const (
	dirMode  = 0o700
	fileMode = 0o600
)

func u(s string) bool { return strings.HasSuffix(s, "/") }

// Init creates a CA in dir: a root and (unless RootOnly) an issuing CA, the
// shipped templates, the database and the first administrator. On failure
// nothing it created is left behind.
func Init(ctx context.Context, dir string, opts InitOptions) (err error) {
	initDefaults(&opts)
	if err := checkInit(dir, &opts); err != nil {
		return err
	}
	existed := true
	var oldMode os.FileMode
	if st, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
		existed = false
	} else if serr == nil {
		oldMode = st.Mode().Perm()
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	if err := os.Chmod(dir, dirMode); err != nil { // an existing empty folder
		return err
	}
	var created []string
	defer func() {
		if err != nil {
			for i := len(created) - 1; i >= 0; i-- {
				os.RemoveAll(created[i])
			}
			if !existed {
				os.RemoveAll(dir)
			} else {
				os.Chmod(dir, oldMode)
			}
		}
	}()
	track := func(name string) string {
		p := filepath.Join(dir, name)
		created = append(created, p)
		return p
	}
	rootName, issName := opts.Name+" Root CA", opts.Name+" Issuing CA"
	cfg := newConfig(&opts, rootName, issName)
	ks, err := keysFor(dir, cfg, opts.Passphrase, opts.Rand)
	if err != nil {
		return err
	}
	defer ks.close()
	rootLabel, issLabel := keyLabels(cfg)
	if cfg.PKCS11 == nil {
		track(rootKeyFile)
		track(issuingKeyFile)
	}
	track(rootCertFile)
	track(issuingCertFile)
	track(rootCRLFile)
	track(issuingCSRFile)
	track(templatesDir)
	if opts.IssuingRequest {
		return initIssuingRequest(dir, cfg, ks, &opts, issName, issLabel, track)
	}
	now := opts.Now().UTC().Truncate(time.Second)
	rootKey, err := ks.generate(opts.Rand, opts.Key, rootLabel)
	if err != nil {
		return err
	}
	pathLen := opts.PathLen
	if !opts.RootOnly && pathLen == 0 {
		pathLen = 1
	}
	rootCert, err := makeCACert(&opts, cfg, rootName, rootKey.Public(), nil, rootKey, now, opts.RootValidity, pathLen)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, rootCertFile), certfmt.EncodeCertificatePEM(rootCert), fileMode); err != nil {
		return err
	}
	if !opts.RootOnly {
		issKey, err := ks.generate(opts.Rand, opts.Key, issLabel)
		if err != nil {
			return err
		}
		issCert, err := makeCACert(&opts, cfg, issName, issKey.Public(), rootCert, rootKey, now, opts.IssuingValidity, 0)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(dir, issuingCertFile), certfmt.EncodeCertificatePEM(issCert), fileMode); err != nil {
			return err
		}
		if err := writeRootCRL(dir, cfg, rootCert, rootKey, opts.Rand, now, ctx); err != nil {
			return err
		}
	}
	return finishInit(ctx, dir, cfg, &opts, track)
}

// newConfig is the ca.yaml of a new CA.
func newConfig(opts *InitOptions, rootName, issName string) *Config {
	cfg := &Config{Name: opts.Name, Key: opts.Key, FileName: fileSafe(issName), RootName: fileSafe(rootName),
		CRLBase: opts.CRLURL, AIABase: opts.AIAURL, OCSPURL: opts.OCSPURL, DSN: opts.DSN, RootOnly: opts.RootOnly,
		CRLValidity: Duration(7 * 24 * time.Hour), DeltaValidity: Duration(24 * time.Hour), PKCS11: opts.PKCS11}
	if opts.RootOnly {
		cfg.FileName = cfg.RootName
	}
	if opts.PKCS11 != nil {
		if cfg.PKCS11.RootLabel == "" {
			cfg.PKCS11.RootLabel = cfg.RootName
		}
		if cfg.PKCS11.IssuingLabel == "" {
			cfg.PKCS11.IssuingLabel = cfg.FileName
		}
	}
	return cfg
}

// finishInit writes the templates, the database with the first
// administrator, and finally ca.yaml (a directory without it is no CA).
func finishInit(ctx context.Context, dir string, cfg *Config, opts *InitOptions, track func(string) string) error {
	for _, t := range builtinTemplates() {
		if err := saveTemplate(dir, t); err != nil {
			return err
		}
	}
	if cfg.DSN == "" {
		// SQLite creates the database with the process's umask, and its
		// -wal and -shm files with the database's mode: create it 0600.
		f, err := os.OpenFile(track(defaultDBFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, fileMode)
		if err != nil {
			return err
		}
		f.Close()
		track(defaultDBFile + "-wal")
		track(defaultDBFile + "-shm")
	}
	d, err := db.Open(ctx, cfg.dsn(dir))
	if err != nil {
		return wrapDB(err)
	}
	defer d.Close()
	if opts.AdminName != "" {
		if len(opts.AdminPassword) == 0 {
			return fmt.Errorf("the administrator %s needs a password (--admin-password-file): %w", opts.AdminName, ErrBadRequest)
		}
		hash, err := hashPassword(opts.Rand, opts.AdminPassword)
		if err != nil {
			return err
		}
		if err := d.CreateUser(ctx, db.User{Name: opts.AdminName, Admin: true, PasswordHash: hash, Created: opts.Now()}); err != nil {
			return wrapDB(err)
		}
	}
	if err := d.AppendAudit(ctx, db.Audit{At: opts.Now(), Actor: operatorName(), Action: "init", Subject: cfg.Name, Result: "ok",
		Detail: fmt.Sprintf("key %s, root only %v", cfg.Key, cfg.RootOnly)}); err != nil {
		return wrapDB(err)
	}
	track(configFile)
	return saveConfig(dir, cfg)
}

// initIssuingRequest creates the issuing key and writes its request for an external root.
func initIssuingRequest(dir string, cfg *Config, ks keyStore, opts *InitOptions, issName, label string, track func(string) string) error {
	key, err := ks.generate(opts.Rand, opts.Key, label)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificateRequest(opts.Rand, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: issName, Organization: []string{opts.Name}},
	}, key)
	if err != nil {
		return err
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if err := atomicfile.Write(filepath.Join(dir, issuingCSRFile), p, fileMode); err != nil {
		return err
	}
	cfg.Pending = true
	return finishInit(context.Background(), dir, cfg, opts, track)
}

// ImportIssuing completes a CA made with IssuingRequest: it checks that
// cert (PEM or DER) is a CA certificate for the issuing key, signed by root,
// and installs both.
func ImportIssuing(dir string, certPEM, rootPEM []byte) error {
	cfg, err := loadConfig(dir)
	if err != nil {
		return err
	}
	if !cfg.Pending {
		return fmt.Errorf("%s does not wait for an issuing CA certificate: %w", dir, ErrConflict)
	}
	certs, err := certfmt.ParseCertificates(certPEM)
	if err != nil {
		return fmt.Errorf("issuing CA certificate: %v: %w", err, ErrBadRequest)
	}
	roots, err := certfmt.ParseCertificates(rootPEM)
	if err != nil {
		return fmt.Errorf("root certificate: %v: %w", err, ErrBadRequest)
	}
	csrPEM, err := os.ReadFile(filepath.Join(dir, issuingCSRFile))
	if err != nil {
		return err
	}
	req, err := parseCSR(csrPEM)
	if err != nil {
		return err
	}
	iss, root := certs[0], roots[0]
	switch {
	case !certfmt.PublicKeysEqual(iss.PublicKey, req.PublicKey):
		return fmt.Errorf("the certificate is not for this CA's issuing key: %w", ErrBadRequest)
	case !iss.IsCA || iss.KeyUsage&x509.KeyUsageCertSign == 0:
		return fmt.Errorf("the certificate is not a CA certificate with keyCertSign: %w", ErrBadRequest)
	case iss.CheckSignatureFrom(root) != nil:
		return fmt.Errorf("the certificate is not signed by the given root: %w", ErrBadRequest)
	}
	if err := atomicfile.Write(filepath.Join(dir, rootCertFile), certfmt.EncodeCertificatePEM(root), fileMode); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, issuingCertFile), certfmt.EncodeCertificatePEM(iss), fileMode); err != nil {
		return err
	}
	cfg.Pending = false
	cfg.FileName = fileSafe(iss.Subject.CommonName)
	cfg.RootName = fileSafe(root.Subject.CommonName)
	return saveConfig(dir, cfg)
}

// makeCACert creates a root (parent nil) or issuing CA certificate.
func makeCACert(o *InitOptions, cfg *Config, cn string, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer, now time.Time, validity time.Duration, pathLen int) (*x509.Certificate, error) {
	serial, err := randomSerial(o.Rand)
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{o.Name}},
		NotBefore: now, NotAfter: now.Add(validity - time.Second),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: pathLen, MaxPathLenZero: pathLen == 0,
		SubjectKeyId: ski,
	}
	issuer := tmpl
	if parent != nil {
		issuer = parent
		tmpl.CRLDistributionPoints = []string{cfg.CRLBase + cfg.RootName + ".crl"}
		tmpl.IssuingCertificateURL = []string{cfg.AIABase + cfg.RootName + ".crt"}
		if tmpl.NotAfter.After(parent.NotAfter) {
			tmpl.NotAfter = parent.NotAfter
		}
	}
	der, err := x509.CreateCertificate(o.Rand, tmpl, issuer, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// writeRootCRL signs the root's (empty) CRL, valid for a year; the root key
// is offline after init.
func writeRootCRL(dir string, cfg *Config, root *x509.Certificate, key crypto.Signer, rnd interface{ Read([]byte) (int, error) }, now time.Time, _ context.Context) error {
	der, err := x509.CreateRevocationList(rnd, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(365 * 24 * time.Hour),
	}, root, key)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, rootCRLFile), der, fileMode)
}

// subjectKeyID is RFC 5280 method 1: SHA-1 of the subjectPublicKey bits.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var info struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, err
	}
	h := sha1.Sum(info.Key.Bytes)
	return h[:], nil
}

// randomSerial returns a positive serial with 127 bits of entropy.
func randomSerial(r io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		b[0] &= 0x7f
		if b[0] != 0 { // keep 16 octets: never a short serial
			return new(big.Int).SetBytes(b), nil
		}
	}
}

// operatorName names the local operator in the audit log.
func operatorName() string {
	if u := os.Getenv("USER"); u != "" {
		return "operator:" + u
	}
	return "operator"
}
