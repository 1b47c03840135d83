package caclient

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Fingerprint is the SHA-256 fingerprint of cert as upper-case hex, the
// form `ca serve` prints and --ca-fingerprint accepts.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// ParseFingerprint reads a SHA-256 fingerprint: 64 hex digits, any case,
// colons or spaces allowed between bytes.
func ParseFingerprint(s string) ([]byte, error) {
	clean := strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s))
	clean = strings.TrimPrefix(strings.TrimPrefix(clean, "sha256/"), "SHA256/")
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("caclient: fingerprint %q is not a SHA-256 fingerprint (64 hex digits)", s)
	}
	return b, nil
}

// DefaultPinFile is where pins live unless Options.PinFile says otherwise:
// edgecert/ca-pins.json under the user's configuration directory.
func DefaultPinFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("caclient: no configuration directory for the pin file: %w", err)
	}
	return filepath.Join(dir, "edgecert", "ca-pins.json"), nil
}

func newTrust(u *url.URL, opts Options) (*trust, error) {
	t := &trust{origin: "https://" + strings.ToLower(u.Host), host: u.Hostname(), pinFile: opts.PinFile}
	if opts.Fingerprint != "" {
		fp, err := ParseFingerprint(opts.Fingerprint)
		if err != nil {
			return nil, err
		}
		t.want, t.given = fp, true
	}
	t.pinned = opts.Pinned
	if t.pinFile == "" {
		p, err := DefaultPinFile()
		if err != nil && t.want == nil {
			return nil, err
		}
		t.pinFile = p
	}
	if t.want == nil {
		pins, err := readPins(t.pinFile)
		if err != nil {
			return nil, err
		}
		if fp, ok := pins[t.origin]; ok {
			b, err := ParseFingerprint(fp)
			if err != nil {
				return nil, fmt.Errorf("caclient: pin file %s: %s: %w", t.pinFile, t.origin, err)
			}
			t.want = b
		}
	}
	return t, nil
}

// wrapClient returns a copy of hc (or a default client) whose transport
// verifies servers through t.
func wrapClient(hc *http.Client, t *trust) (*http.Client, error) {
	out := &http.Client{}
	if hc != nil {
		*out = *hc
	}
	var tr *http.Transport
	switch base := out.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = base.Clone()
	default:
		return nil, fmt.Errorf("caclient: cannot wrap a transport of type %T", base)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if tr.TLSClientConfig != nil {
		cfg = tr.TLSClientConfig.Clone()
	}
	// Chain verification is done by VerifyConnection against the pinned
	// root, never against the system roots.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = t.verify
	tr.TLSClientConfig = cfg
	tr.ForceAttemptHTTP2 = true
	out.Transport = tr
	return out, nil
}

// verify checks the server's chain against the pinned root (or pins the
// root the server presents when there is no pin yet).
func (t *trust) verify(cs tls.ConnectionState) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return errors.New("caclient: the server sent no certificate")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	root, err := t.findRoot(certs)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err = certs[0].Verify(x509.VerifyOptions{
		DNSName: t.host, Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("caclient: the server's certificate does not verify against the CA root %s: %w", Fingerprint(root), err)
	}
	if t.root == nil {
		sum := sha256.Sum256(root.Raw)
		t.root, t.want = root, sum[:]
		if err := t.savePin(root); err != nil {
			return err
		}
	}
	return nil
}

// findRoot returns the presented certificate whose fingerprint is pinned,
// or on first use the self-signed one.
func (t *trust) findRoot(certs []*x509.Certificate) (*x509.Certificate, error) {
	if t.want != nil {
		for _, c := range certs {
			sum := sha256.Sum256(c.Raw)
			if bytes.Equal(sum[:], t.want) {
				return c, nil
			}
		}
		e := &PinMismatchError{Origin: t.origin, Pinned: strings.ToUpper(hex.EncodeToString(t.want)), Presented: Fingerprint(topOf(certs))}
		if !t.given {
			e.File = t.pinFile
		}
		return nil, e
	}
	for i := len(certs) - 1; i >= 0; i-- {
		c := certs[i]
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("caclient: %s does not present its root certificate; give the root's fingerprint (--ca-fingerprint)", t.origin)
}

// topOf returns the self-signed certificate among certs, else the last.
func topOf(certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return certs[len(certs)-1]
}

// savePin records the root's fingerprint for this CA URL, when it was not
// already recorded.
func (t *trust) savePin(root *x509.Certificate) error {
	if t.pinFile == "" {
		return nil
	}
	pins, err := readPins(t.pinFile)
	if err != nil {
		return err
	}
	fp := Fingerprint(root)
	if pins[t.origin] == fp {
		return nil
	}
	if old, ok := pins[t.origin]; ok && !t.given {
		return &PinMismatchError{Origin: t.origin, File: t.pinFile, Pinned: old, Presented: fp}
	}
	pins[t.origin] = fp
	if err := writePins(t.pinFile, pins); err != nil {
		return err
	}
	if t.pinned != nil {
		t.pinned(Pin{Origin: t.origin, Fingerprint: fp, File: t.pinFile})
	}
	return nil
}

func readPins(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("caclient: pin file: %w", err)
	}
	pins := map[string]string{}
	if len(bytes.TrimSpace(b)) == 0 {
		return pins, nil
	}
	if err := json.Unmarshal(b, &pins); err != nil {
		return nil, fmt.Errorf("caclient: pin file %s is not a JSON object of URL to fingerprint: %w", path, err)
	}
	return pins, nil
}

// writePins replaces the pin file atomically (temp file, fsync, rename).
func writePins(path string, pins map[string]string) error {
	b, err := json.MarshalIndent(pins, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("caclient: pin file: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ca-pins-*")
	if err != nil {
		return fmt.Errorf("caclient: pin file: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("caclient: write pin file %s: %w", path, err)
	}
	return nil
}
