// Package acme obtains certificates from an ACME CA (RFC 8555) for the
// public certificates of a plan, as the topology's acme: block describes
// (docs/topology.md): one account per workspace whose key is made once and
// kept sealed, one order per certificate with exactly the names of the
// plan's request, a challenge per name (dns-01 through an RFC 2136 update
// signed with TSIG or through a hook, http-01 through a webroot), DNS
// propagation checked against the zone's servers, and renewal information
// (ARI, RFC 9773).
//
// The protocol (JWS, nonces, account, orders, ARI) is lego's api core; this
// package drives it so that every step is recorded in the state directory:
// the step each order is at (for status), the challenge records it
// published (removed again on every path, and by the next run after a
// kill), and the account. It never logs; errors carry the CA's problem type
// and detail and what was checked.
package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/challenge/dns01"
	legolog "github.com/go-acme/lego/v5/log"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
	"edgecert/internal/topology"
)

// ErrInvalidInput is wrapped by errors caused by the configuration or the
// files it names (a missing secret file, a bad PEM).
var ErrInvalidInput = errors.New("invalid input")

// ErrUnreachable is wrapped when the CA's directory cannot be read.
var ErrUnreachable = errors.New("ACME CA unreachable")

// Options configure a [Client].
type Options struct {
	Config *topology.ACME
	// Dir is the state directory (created 0700): the sealed account key,
	// the account, the orders' steps and the published challenge records.
	Dir string
	// Passphrase seals the account key. BeforeNewKey, when set, is called
	// before a new account key is written (to save a generated passphrase
	// first); an error stops Open.
	Passphrase   []byte
	BeforeNewKey func() error
	Now          func() time.Time
	Rand         io.Reader
	// PropagationTimeout bounds the wait for a TXT record to be seen
	// (default 2 minutes); ValidationTimeout the wait for the CA to
	// validate a challenge or issue (default 2 minutes).
	PropagationTimeout time.Duration
	ValidationTimeout  time.Duration
	// HTTPClient overrides the client built from Config (tests).
	HTTPClient *http.Client
}

// Client is an ACME account on one CA.
type Client struct {
	o    Options
	core *api.Core
	hc   *http.Client
	mu   sync.Mutex // the presented-records journal
	// Timing, for the benchmark: time spent in ACME round trips and in DNS
	// propagation waits.
	statMu      sync.Mutex
	acmeTime    time.Duration
	dnsWaitTime time.Duration
}

// File names in the state directory.
const (
	accountKeyFile  = "account.key"
	accountFile     = "account.json"
	presentedFile   = "presented.json"
	ordersDir       = "orders"
	maxStateFile    = 1 << 20
	maxSecretFile   = 64 << 10
	defaultWaitTime = 2 * time.Minute
)

func init() {
	// lego reports through a package logger; a library of edgecert never
	// logs, so lego's messages are dropped (errors carry what matters).
	legolog.SetDefault(slog.New(slog.DiscardHandler))
}

// Open loads (or creates, the first time) the account key, registers the
// account with the CA when it has none, and removes any challenge record
// an interrupted earlier run left published.
func Open(ctx context.Context, o Options) (*Client, error) {
	if o.Config == nil {
		return nil, fmt.Errorf("acme: %w: no acme block", ErrInvalidInput)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PropagationTimeout <= 0 {
		o.PropagationTimeout = defaultWaitTime
	}
	if o.ValidationTimeout <= 0 {
		o.ValidationTimeout = defaultWaitTime
	}
	if len(o.Passphrase) == 0 {
		return nil, fmt.Errorf("acme: %w: the account key needs a passphrase", ErrInvalidInput)
	}
	hc := o.HTTPClient
	if hc == nil {
		var err error
		if hc, err = httpClient(o.Config.DirectoryCA); err != nil {
			return nil, err
		}
	}
	c := &Client{o: o, hc: hc}
	if len(o.Config.Resolvers) > 0 {
		// lego's RFC 2136 provider follows a CNAME of _acme-challenge
		// through its package resolver: make that the configured one.
		dns01.SetDefaultClient(dns01.NewClient(&dns01.Options{RecursiveNameservers: o.Config.Resolvers, Timeout: 5 * time.Second}))
	}
	// Leftover records first: they need no CA.
	if err := c.cleanupLeftovers(ctx); err != nil {
		return nil, err
	}
	key, sealed, err := c.accountKey()
	if err != nil {
		return nil, err
	}
	acct := c.readAccount()
	start := time.Now()
	core, err := api.New(hc, "edgecert", o.Config.Directory, acct, key)
	c.spent(start)
	if err != nil {
		return nil, fmt.Errorf("acme: directory %s: %w: %w", o.Config.Directory, ErrUnreachable, err)
	}
	c.core = core
	// Nothing is written before the CA answered: a CA that cannot be
	// reached leaves the state directory as it was.
	if err := os.MkdirAll(filepath.Join(o.Dir, ordersDir), 0o700); err != nil {
		return nil, fmt.Errorf("acme: state directory: %w", err)
	}
	if sealed != nil && o.BeforeNewKey != nil {
		if err := o.BeforeNewKey(); err != nil {
			return nil, err
		}
	}
	if sealed != nil {
		// The key is written before the account is registered, so a run
		// killed in between registers the same key next time (the CA
		// answers with the same account).
		if err := atomicfile.Write(c.path(accountKeyFile), sealed, 0o600); err != nil {
			return nil, fmt.Errorf("acme: account key: %w", err)
		}
	}
	if acct == "" {
		if err := c.register(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// httpClient trusts the system roots, or only directoryCA when given.
func httpClient(directoryCA string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second}).DialContext
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if directoryCA != "" {
		b, err := readBounded(directoryCA, maxStateFile)
		if err != nil {
			return nil, fmt.Errorf("acme: directory_ca: %w: %w", ErrInvalidInput, err)
		}
		certs, err := certfmt.ParseCertificates(b)
		if err != nil || len(certs) == 0 {
			return nil, fmt.Errorf("acme: directory_ca %s: %w: no PEM certificate in it", directoryCA, ErrInvalidInput)
		}
		pool := x509.NewCertPool()
		for _, c := range certs {
			pool.AddCert(c)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// readSecret reads a secret file and trims the final newline.
func readSecret(path, what string) (string, error) {
	b, err := readBounded(path, maxSecretFile)
	if err != nil {
		return "", fmt.Errorf("acme: %s: %w: %w", what, ErrInvalidInput, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("acme: %s: %w: %s is empty", what, ErrInvalidInput, path)
	}
	return s, nil
}

func (c *Client) path(elem ...string) string {
	return filepath.Join(append([]string{c.o.Dir}, elem...)...)
}

// accountKey opens the sealed account key, or makes one and returns it
// sealed for the caller to write.
func (c *Client) accountKey() (crypto.Signer, []byte, error) {
	p := c.path(accountKeyFile)
	b, err := readBounded(p, maxStateFile)
	if err == nil {
		k, err := certfmt.OpenPrivateKey(b, c.o.Passphrase)
		if err != nil {
			return nil, nil, fmt.Errorf("acme: account key %s: %w", p, err)
		}
		return k, nil, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("acme: account key: %w", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), c.o.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("acme: account key: %w", err)
	}
	sealed, err := certfmt.SealPrivateKey(c.o.Rand, k, c.o.Passphrase)
	if err != nil {
		return nil, nil, fmt.Errorf("acme: account key: %w", err)
	}
	return k, sealed, nil
}

// account is what the state directory remembers of the account.
type account struct {
	Directory string `json:"directory"`
	URL       string `json:"url"`
}

// readAccount returns the account URL registered on this directory ("" if none).
func (c *Client) readAccount() string {
	b, err := readBounded(c.path(accountFile), maxStateFile)
	if err != nil {
		return ""
	}
	var a account
	if json.Unmarshal(b, &a) != nil || a.Directory != c.o.Config.Directory {
		return ""
	}
	return a.URL
}

// register creates the account (agreeing to the Terms of Service, with the
// External Account Binding when configured) and remembers its URL.
func (c *Client) register(ctx context.Context) error {
	cfg := c.o.Config
	req := acme.Account{TermsOfServiceAgreed: cfg.AcceptTOS, Contact: cfg.Contact}
	var acct acme.ExtendedAccount
	err := c.retry(ctx, func() error {
		var err error
		if cfg.EAB != nil {
			hmac, rerr := readSecret(cfg.EAB.HMACFile, "eab.hmac_file")
			if rerr != nil {
				return rerr
			}
			acct, err = c.core.Accounts.NewEAB(ctx, req, cfg.EAB.KID, hmac)
		} else {
			acct, err = c.core.Accounts.New(ctx, req)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("acme: create the account at %s: %w", cfg.Directory, describe(err))
	}
	b, _ := json.MarshalIndent(account{Directory: cfg.Directory, URL: acct.Location}, "", "  ")
	if err := atomicfile.Write(c.path(accountFile), b, 0o600); err != nil {
		return fmt.Errorf("acme: save the account: %w", err)
	}
	return nil
}

// spent adds the time since start to the ACME round-trip total.
func (c *Client) spent(start time.Time) {
	c.statMu.Lock()
	c.acmeTime += time.Since(start)
	c.statMu.Unlock()
}

// Timing returns the time spent in ACME round trips and in DNS propagation
// waits so far.
func (c *Client) Timing() (acmeRoundTrips, dnsWait time.Duration) {
	c.statMu.Lock()
	defer c.statMu.Unlock()
	return c.acmeTime, c.dnsWaitTime
}

// Roots returns the certificates of the configured trusted_roots file (nil
// when none is configured).
func Roots(cfg *topology.ACME) ([]*x509.Certificate, error) {
	if cfg == nil || cfg.TrustedRoots == "" {
		return nil, nil
	}
	b, err := readBounded(cfg.TrustedRoots, maxStateFile)
	if err != nil {
		return nil, fmt.Errorf("acme: trusted_roots: %w: %w", ErrInvalidInput, err)
	}
	certs, err := certfmt.ParseCertificates(b)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("acme: trusted_roots %s: %w: no PEM certificate in it", cfg.TrustedRoots, ErrInvalidInput)
	}
	return certs, nil
}
