// Package enroll is the CA's web face: the certsrv-like enrollment pages
// (sign-in, download of the CA certificate, chain and CRLs, advanced request,
// pending requests and their approval), the JSON API under /api/v1 with
// bearer tokens, and the plain-HTTP publication of CRLs, AIA certificates and
// OCSP answers.
//
// The package holds every HTTP concern: the engine (package ca) knows nothing
// of HTTP, and this package chooses statuses at the edge from the engine's
// error kinds. It calls the engine through the small [Engine] interface.
package enroll

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"edgecert/internal/ca"
)

// Engine is the part of the CA engine the server calls (*ca.Engine
// satisfies it).
type Engine interface {
	Authenticate(ctx context.Context, user string, password []byte) (*ca.Principal, error)
	AuthenticateToken(ctx context.Context, token string) (*ca.Principal, error)
	// SessionPrincipal reads a signed-in user again on each request of its
	// session; ErrUnauthenticated ends the session.
	SessionPrincipal(ctx context.Context, user string, version int64) (*ca.Principal, error)
	// RecordSignin audits a sign-in attempt (ca.SigninOK, SigninDenied,
	// SigninThrottled).
	RecordSignin(ctx context.Context, user, from, result string) error
	Submit(ctx context.Context, p *ca.Principal, csr []byte, template string) (*ca.Result, error)
	Request(ctx context.Context, p *ca.Principal, id int64) (*ca.Result, error)
	Requests(ctx context.Context, p *ca.Principal, status ca.Status, pg ca.Page) ([]ca.Result, int64, error)
	PendingCount(ctx context.Context) (int, error)
	Approve(ctx context.Context, p *ca.Principal, id int64) (*ca.Result, error)
	Deny(ctx context.Context, p *ca.Principal, id int64, reason string) error
	Revoke(ctx context.Context, p *ca.Principal, serial *big.Int, reason string) error
	Templates(ctx context.Context, p *ca.Principal) ([]ca.TemplateInfo, error)
	Chain() []*x509.Certificate
	FileName() string
	// RootFileName and RootCRL: the issuing CA certificate's CDP and AIA
	// point at /crl/<root>.crl and /aia/<root>.crt.
	RootFileName() string
	RootCRL() ([]byte, error)
	CRL(ctx context.Context, delta bool) ([]byte, error)
	OCSP(ctx context.Context, req []byte) ([]byte, error)
	// Ready reports whether the CA can issue now (/readyz).
	Ready(ctx context.Context) error
	// ServerCertificate returns the server's own TLS certificate: the one
	// kept in the CA directory, or a new one (issued reports which).
	ServerCertificate(ctx context.Context, dnsNames []string, ips []string) (certPEM, keyPEM []byte, issued bool, err error)
}

var _ Engine = (*ca.Engine)(nil)

// Config configures a Server. Zero durations and sizes take the defaults.
type Config struct {
	Listen     string // HTTPS address, e.g. ":8443"
	HTTPListen string // optional plain-HTTP address for CRL, AIA and OCSP only

	// TLSCertFile and TLSKeyFile name a PEM certificate (with its chain)
	// and key. Empty: the server uses the certificate the CA keeps for it,
	// issued on the first start and renewed near its expiry.
	TLSCertFile, TLSKeyFile string
	// ServerNames are extra DNS names or IPs for the self-issued certificate.
	ServerNames []string

	ReadHeaderTimeout time.Duration // default 10s
	ReadTimeout       time.Duration // default 30s
	WriteTimeout      time.Duration // default 60s
	IdleTimeout       time.Duration // default 120s
	ShutdownTimeout   time.Duration // default 30s: how long in-flight requests may take
	MaxBodyBytes      int64         // default 1 MiB; larger bodies get 413
	SessionTTL        time.Duration // default 8h of inactivity
	SessionMaxAge     time.Duration // default 12h after sign-in, however active
	// SigninConcurrency is how many password checks (argon2id, 19 MiB
	// each) run at once; default 2.
	SigninConcurrency int
	// TokenCacheTTL is how long a checked bearer token is trusted without
	// asking the database again: default 2s, negative to check every time.
	TokenCacheTTL time.Duration
	// DBTimeout is the deadline of each engine call that may reach the
	// database (default 5s): past it the answer is 503 with Retry-After.
	DBTimeout time.Duration

	Rand io.Reader // session ids and CSRF tokens; default crypto/rand

	// ACME, when set, serves ACME under /acme/ (acme.go); the engine
	// must be an ACMEEngine.
	ACME *ACMEConfig
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, 10*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 60*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	def(&c.ShutdownTimeout, 30*time.Second)
	def(&c.SessionTTL, 8*time.Hour)
	def(&c.SessionMaxAge, 12*time.Hour)
	def(&c.DBTimeout, 5*time.Second)
	if c.TokenCacheTTL == 0 {
		c.TokenCacheTTL = 2 * time.Second
	}
	if c.SigninConcurrency <= 0 {
		c.SigninConcurrency = 2
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
}

// Server is the web enrollment server.
type Server struct {
	eng  Engine
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	pub  *publications
	sess *sessions
	met  *metrics
	toks *tokenCache
	// rawEng is the engine as given (eng wraps it with deadlines).
	rawEng Engine
	acme   acmeState
	// signin bounds and throttles password checks (signin.go).
	signin *signinGuard

	secure  http.Handler // HTTPS: everything
	plain   http.Handler // plain HTTP: publications only
	started time.Time

	mu        sync.Mutex
	tlsLn     net.Listener
	httpLn    net.Listener
	tlsCert   *tls.Certificate
	servers   []*http.Server
	listening bool
}

// New builds a server around eng. It binds nothing: call Listen and Serve,
// or use Handler and PlainHandler under a test server.
func New(eng Engine, cfg Config, log *slog.Logger, now func() time.Time) (*Server, error) {
	if eng == nil {
		return nil, errors.New("enroll: no engine")
	}
	if len(eng.Chain()) == 0 {
		return nil, errors.New("enroll: the CA has no certificate chain")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if now == nil {
		now = time.Now
	}
	cfg.defaults()
	raw := eng
	eng = timedEngine{Engine: eng, d: cfg.DBTimeout}
	s := &Server{eng: eng, rawEng: raw, cfg: cfg, log: log, now: now, started: now()}
	s.pub = newPublications(eng, now)
	s.sess = newSessions(cfg.Rand, now, cfg.SessionTTL, cfg.SessionMaxAge)
	s.met = newMetrics()
	s.toks = newTokenCache(cfg.TokenCacheTTL, now)
	s.signin = newSigninGuard(cfg.SigninConcurrency, now)
	s.secure = s.routes()
	s.plain = s.plainRoutes()
	if cfg.ACME != nil {
		if _, ok := raw.(ACMEEngine); !ok {
			return nil, errors.New("enroll: the engine does not serve ACME")
		}
		if cfg.ACME.BaseURL != "" { // else Listen starts it with the listener's URL
			if err := s.startACME(context.Background(), cfg.ACME.BaseURL); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Handler serves the HTTPS side: pages, API, publications, health and metrics.
func (s *Server) Handler() http.Handler { return s.secure }

// PlainHandler serves the plain-HTTP side: CRL, AIA and OCSP only.
func (s *Server) PlainHandler() http.Handler { return s.plain }

// Listen binds the listeners, then prepares the TLS certificate (the one
// the CA keeps for its server when none is configured): an address in use
// costs no certificate.
func (s *Server) Listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listening {
		return errors.New("enroll: already listening")
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("enroll: listen %s: %w", s.cfg.Listen, err)
	}
	var hl net.Listener
	if s.cfg.HTTPListen != "" {
		if hl, err = net.Listen("tcp", s.cfg.HTTPListen); err != nil {
			ln.Close()
			return fmt.Errorf("enroll: listen %s: %w", s.cfg.HTTPListen, err)
		}
	}
	cert, err := s.loadOrIssueCert(ctx)
	if err != nil {
		ln.Close()
		if hl != nil {
			hl.Close()
		}
		return err
	}
	s.tlsCert, s.tlsLn, s.httpLn, s.listening = cert, ln, hl, true
	if s.cfg.ACME != nil && s.acme.h.Load() == nil {
		if err := s.startACME(ctx, s.URL()); err != nil {
			ln.Close()
			if hl != nil {
				hl.Close()
			}
			s.listening = false
			return err
		}
	}
	return nil
}

// URL is the HTTPS base URL (after Listen).
func (s *Server) URL() string { return "https://" + displayAddr(s.tlsLn.Addr()) }

// HTTPURL is the plain-HTTP base URL, or "" when there is none.
func (s *Server) HTTPURL() string {
	if s.httpLn == nil {
		return ""
	}
	return "http://" + displayAddr(s.httpLn.Addr())
}

// Serve serves until ctx is done, then shuts down gracefully: listeners
// close at once and requests in flight may finish within ShutdownTimeout.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if !s.listening {
		s.mu.Unlock()
		return errors.New("enroll: Serve before Listen")
	}
	tlsCfg := serverTLSConfig(s.tlsCert)
	hs := s.newHTTPServer(s.secure)
	hs.TLSConfig = tlsCfg
	servers := []*http.Server{hs}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(tls.NewListener(s.tlsLn, tlsCfg)) }()
	if s.httpLn != nil {
		ps := s.newHTTPServer(s.plain)
		servers = append(servers, ps)
		go func() { errc <- ps.Serve(s.httpLn) }()
	}
	s.servers = servers
	s.mu.Unlock()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var shutErr error
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil && shutErr == nil {
			shutErr = fmt.Errorf("enroll: shutdown: %w", err)
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("enroll: serve: %w", serveErr)
	}
	return shutErr
}

func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// serverTLSConfig favours cheap handshakes and resumption: clients keep
// connections alive, so the handshake is paid once per client.
func serverTLSConfig(cert *tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		Certificates:     []tls.Certificate{*cert},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		NextProtos:       []string{"h2", "http/1.1"},
	}
}

func (s *Server) loadOrIssueCert(ctx context.Context) (*tls.Certificate, error) {
	if s.cfg.TLSCertFile != "" || s.cfg.TLSKeyFile != "" {
		if s.cfg.TLSCertFile == "" || s.cfg.TLSKeyFile == "" {
			return nil, errors.New("enroll: --tls-cert and --tls-key go together")
		}
		c, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("enroll: TLS certificate: %w", err)
		}
		return &c, nil
	}
	dns, ips := serverNames(s.cfg.Listen, s.cfg.ServerNames)
	certPEM, keyPEM, issued, err := s.eng.ServerCertificate(ctx, dns, ips)
	if err != nil {
		return nil, fmt.Errorf("enroll: the server's TLS certificate: %w", err)
	}
	if issued {
		s.log.Info("issued the server's TLS certificate", "names", strings.Join(slices.Concat(dns, ips), ","))
	}
	c, err := tls.X509KeyPair(s.withChainPEM(certPEM), keyPEM)
	if err != nil {
		return nil, fmt.Errorf("enroll: TLS certificate issued by the CA: %w", err)
	}
	return &c, nil
}

// withChainPEM completes the PEM the engine returned (the leaf, maybe with
// part of the chain) with the CA certificates it lacks, up to the root, so
// that clients can find the pinned root in the handshake.
func (s *Server) withChainPEM(certPEM []byte) []byte {
	have := map[string]bool{}
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		have[string(b.Bytes)] = true
	}
	out := append([]byte{}, certPEM...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	for i, c := range s.pub.chain {
		if !have[string(c.Raw)] {
			out = append(out, s.pub.chainPEM[i]...)
		}
	}
	return out
}

// serverNames lists the DNS names and IPs the self-issued certificate
// covers: the listen host (or this machine's name for a wildcard address),
// localhost and the loopback addresses, and any extra names.
func serverNames(listen string, extra []string) (dns, ips []string) {
	seen := map[string]bool{}
	add := func(n string) {
		n = strings.TrimSpace(strings.Trim(n, "[]"))
		if n == "" || seen[n] {
			return
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			if !ip.IsUnspecified() {
				ips = append(ips, ip.String())
			}
			return
		}
		dns = append(dns, n)
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && validDNSName(h) {
			add(h)
		}
	} else {
		add(host)
	}
	for _, n := range append([]string{"localhost", "127.0.0.1", "::1"}, extra...) {
		add(n)
	}
	return dns, ips
}

// validDNSName reports whether h is usable as a certificate DNS name (a
// machine name may not be).
func validDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// displayAddr turns a bound address into a usable URL host: a wildcard
// address becomes the loopback one.
func displayAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(ta.Port))
}

// StartLoopback starts a server for eng on a free loopback port (HTTPS with
// a certificate the CA issues itself) and returns its base URL and a
// function that shuts it down gracefully. Benchmarks and tests use it;
// clients trust the root of eng.Chain().
func StartLoopback(eng Engine, log *slog.Logger) (url string, stop func() error, err error) {
	s, err := New(eng, Config{Listen: "127.0.0.1:0"}, log, nil)
	if err != nil {
		return "", nil, err
	}
	if err := s.Listen(context.Background()); err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	return s.URL(), func() error { cancel(); return <-done }, nil
}
