package cli

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"edgecert/internal/ca"
	"edgecert/internal/caclient"
	"edgecert/internal/enroll"
)

// caServeCommands returns the web-facing children of `edgecert ca`
// (serve, fetch-chain).
func caServeCommands(env *Env) []*cobra.Command {
	return []*cobra.Command{newCAServeCmd(env), newCAFetchChainCmd(env)}
}

type caServeOptions struct {
	dir, listen, httpListen, dsn string
	passphraseFile               string
	tlsCert, tlsKey              string
	names                        []string
	maxBody                      int64
	shutdown, dbTimeout          time.Duration
	verbose                      bool
	workers                      int
	acme                         acmeServeOptions
}

func newCAServeCmd(env *Env) *cobra.Command {
	o := &caServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve --dir DIR --listen ADDR [--http-listen ADDR] [--db DSN]",
		Short: "Serve web enrollment, the JSON API, and the CRL, AIA and OCSP publications",
		Long: `Serve the CA over HTTPS: the certsrv-like enrollment pages (/certsrv/), the
JSON API (/api/v1), liveness (/healthz), readiness (/readyz: 200 only when
the CA can issue: its key signs, the database takes a write, the disk has
room) and Prometheus metrics (/metrics).
With --http-listen, the CRLs (/crl/<name>.crl, /crl/<name>+.crl), the AIA
certificate (/aia/<name>.crt) and the OCSP responder (/ocsp) are also served
over plain HTTP, and nothing else.

Unless --tls-cert and --tls-key are given, the server uses the TLS
certificate the CA keeps for it in the CA directory (server.crt, and
server.key sealed with the CA passphrase): issued at the first start (after
the addresses are bound), reused by later starts, and replaced when a name
is added, within 30 days of its expiry or once revoked (the replaced one is
revoked as superseded). A start that reuses it writes nothing, so the CA
starts on a full disk.

Every request's work with the database has a deadline (--db-timeout): a
database that hangs or is down gets 503 with Retry-After, and a submission
whose certificate may still be recorded says so with its serial. While the
database is away, the CRLs last signed are served until their nextUpdate,
and OCSP answers a serial looked up in the last 4 hours with what was known
then (its thisUpdate). The server stops on SIGTERM or SIGINT after
finishing the requests in flight.

Unless the environment sets them, the server runs with GOGC=1600, a soft
memory limit of 1 GiB (GOMEMLIMIT) and GOMAXPROCS one more than the CPUs
(its live heap is small, so collections are rare; it signs on one thread
per CPU, at nice 10 so that answers and commits never wait behind a
signature, and the one P more serves everything else). Build with
CGO_ENABLED=1 GOEXPERIMENT=boringcrypto for BoringSSL's faster RSA.

--workers sets how many submissions are signed at once. The default suits a
key in memory (one per CPU) and a network HSM (four per CPU, whose
signatures wait on the device); a software token such as SoftHSM2 signs on
this machine's CPUs, and one per CPU gives it a shorter tail
(docs/BENCHMARKS.md).

ACME (RFC 8555, docs/acme.md) is served on the HTTPS listener, one directory
per template: /acme/<template>/directory. Accounts need an External Account
Binding ('ca user acme-eab') and act as its user; --acme-unbound opens a
template to unbound accounts from given networks instead (the weaker
choice). The CA validates http-01 on port 80, tls-alpn-01 on 443 and dns-01
through the system's resolver; --acme-http-port, --acme-tls-port and
--acme-resolver change that (for tests and labs).`,
		Example: `  # HTTPS on 8443, publications over plain HTTP on 8080
  edgecert ca serve --dir /srv/ca --listen :8443 --http-listen :8080 \
      --passphrase-file /etc/edgecert/ca.pass

  # with PostgreSQL and a certificate of your own
  edgecert ca serve --dir /srv/ca --listen :443 --db postgres://ca@db/ca \
      --tls-cert web.pem --tls-key web.key

  # ACME clients reach the CA as https://ca.contoso.net:8443
  edgecert ca serve --dir /srv/ca --listen :8443 --server-name ca.contoso.net \
      --acme-url https://ca.contoso.net:8443 --acme-resolver 10.0.0.53:53`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCAServe(cmd.Context(), env, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "CA directory (required)")
	f.StringVar(&o.listen, "listen", "", "HTTPS address, e.g. :8443 (required)")
	f.StringVar(&o.httpListen, "http-listen", "", "plain-HTTP address for CRL, AIA and OCSP only")
	f.StringVar(&o.dsn, "db", "", "database DSN (default: the CA directory's database)")
	f.StringVar(&o.passphraseFile, "passphrase-file", "", "file holding the CA key passphrase (else $EDGECERT_CA_PASSPHRASE_FILE, else a prompt)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (with chain) for HTTPS instead of one issued by the CA")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	f.StringSliceVar(&o.names, "server-name", nil, "extra DNS name or IP for the self-issued TLS certificate (repeatable)")
	f.Int64Var(&o.maxBody, "max-body", 1<<20, "largest request body in bytes (larger gets 413)")
	f.DurationVar(&o.shutdown, "shutdown-timeout", 30*time.Second, "how long requests in flight may take at shutdown")
	f.DurationVar(&o.dbTimeout, "db-timeout", 5*time.Second, "deadline of each request's work with the database (past it: 503 with Retry-After)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log every refused request")
	f.IntVar(&o.workers, "workers", 0, "submissions signed at once (0: one per CPU, four per CPU for a PKCS#11 key)")
	o.acme.addFlags(cmd)
	cmd.MarkFlagRequired("dir")
	cmd.MarkFlagRequired("listen")
	cmd.MarkFlagsRequiredTogether("tls-cert", "tls-key")
	return cmd
}

func runCAServe(ctx context.Context, env *Env, o *caServeOptions) error {
	if ctx == nil {
		ctx = env.Ctx
	}
	if o.maxBody <= 0 {
		return invalidInput(fmt.Errorf("--max-body must be positive, not %d", o.maxBody))
	}
	if o.dbTimeout <= 0 {
		return invalidInput(fmt.Errorf("--db-timeout must be positive, not %s", o.dbTimeout))
	}
	if o.workers < 0 || o.workers > ca.MaxWorkers {
		return invalidInput(fmt.Errorf("--workers must be between 0 (automatic) and %d, not %d", ca.MaxWorkers, o.workers))
	}
	acmeCfg, err := o.acme.config()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o.dir)); err != nil {
		return invalidInput(fmt.Errorf("--dir %s: %w", o.dir, err))
	}
	tuneServer()
	pass, err := readCAPassphrase(env, o.passphraseFile)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(env.Err, &slog.HandlerOptions{Level: level}))
	skipped := func(p ca.TemplateProblem) {
		log.Error("template skipped: its file cannot be used", "template", p.Name, "err", p.Err)
	}
	eng, err := ca.Open(ctx, o.dir, ca.OpenOptions{Passphrase: pass, DSN: o.dsn, Now: env.Now, Rand: env.Rand, Workers: o.workers, OnTemplateProblem: skipped})
	if err != nil {
		if errors.Is(err, ca.ErrUnauthenticated) || errors.Is(err, ca.ErrBadRequest) {
			return invalidInput(err)
		}
		return err
	}
	defer eng.Close()
	srv, err := enroll.New(eng, enroll.Config{
		Listen: o.listen, HTTPListen: o.httpListen,
		TLSCertFile: o.tlsCert, TLSKeyFile: o.tlsKey, ServerNames: o.names,
		MaxBodyBytes: o.maxBody, ShutdownTimeout: o.shutdown, DBTimeout: o.dbTimeout, Rand: env.Rand,
		ACME: acmeCfg,
	}, log, env.Now)
	if err != nil {
		return err
	}
	if err := srv.Listen(ctx); err != nil {
		return err
	}
	chain := eng.Chain()
	root := chain[len(chain)-1]
	fmt.Fprintf(env.Out, "HTTPS:  %s/certsrv/  (API %s/api/v1)\n", srv.URL(), srv.URL())
	fmt.Fprintf(env.Out, "ACME:   %s/acme/<template>/directory\n", srv.ACMEURL())
	if u := srv.HTTPURL(); u != "" {
		fmt.Fprintf(env.Out, "HTTP:   %s/crl/%s.crl  %s/aia/%s.crt  %s/ocsp\n", u, eng.FileName(), u, eng.FileName(), u)
	}
	fmt.Fprintf(env.Out, "CA root: %s\nCA root SHA-256 fingerprint: %s\n", printable(root.Subject.CommonName), caclient.Fingerprint(root))
	if l := loopbackURLs(eng.PublicationURLs()); len(l) > 0 {
		fmt.Fprintf(env.Out, "warning: the certificates carry loopback revocation and issuer URLs (%s): clients on other machines cannot check revocation (set them with ca init --crl-url, --aia-url, --ocsp-url)\n", strings.Join(l, " "))
	}
	log.Info("serving", "https", srv.URL(), "http", srv.HTTPURL(), "root_sha256", caclient.Fingerprint(root), "workers", eng.Workers())
	err = srv.Serve(ctx)
	log.Info("stopped", "err", err)
	return err
}

type fetchChainOptions struct {
	caURL, fingerprint, out, pinFile string
	timeout                          time.Duration
}

func newCAFetchChainCmd(env *Env) *cobra.Command {
	o := &fetchChainOptions{}
	cmd := &cobra.Command{
		Use:   "fetch-chain --ca URL [--ca-fingerprint SHA256] --out FILE.p7b",
		Short: "Download the CA certificate chain (.p7b) from a CA server",
		Long: `Download the CA chain (issuing CA up to the root) as a PKCS #7 file from the
CA server's API. The server is trusted through its root's SHA-256
fingerprint: given with --ca-fingerprint, or pinned on first use in the pin
file and checked on every later connection.`,
		Example: `  # trust on first use (the fingerprint is pinned and printed)
  edgecert ca fetch-chain --ca https://ca.contoso.com:8443 --out chain.p7b

  # check the root against the fingerprint 'ca serve' printed
  edgecert ca fetch-chain --ca https://ca.contoso.com:8443 \
      --ca-fingerprint 3F:A1:...:09 --out chain.p7b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runFetchChain(cmd.Context(), env, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.caURL, "ca", "", "CA server URL, https://host:port (required)")
	f.StringVar(&o.fingerprint, "ca-fingerprint", "", "SHA-256 fingerprint of the CA root (hex, colons allowed)")
	f.StringVar(&o.out, "out", "", "output file, .p7b (DER) or .pem (PEM PKCS #7) (required)")
	f.StringVar(&o.pinFile, "pin-file", "", "pinned fingerprints (default: edgecert/ca-pins.json in the user's config directory)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up after this long")
	cmd.MarkFlagRequired("ca")
	cmd.MarkFlagRequired("out")
	return cmd
}

func runFetchChain(ctx context.Context, env *Env, o *fetchChainOptions) error {
	if ctx == nil {
		ctx = env.Ctx
	}
	c, err := caclient.New(o.caURL, caclient.Options{Fingerprint: o.fingerprint, PinFile: o.pinFile, Pinned: sayPinned(env)})
	if err != nil {
		return invalidInput(err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	der, certs, err := c.Chain(ctx)
	if err != nil {
		return err
	}
	data := der
	if strings.EqualFold(filepath.Ext(o.out), ".pem") {
		data = pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: der})
	}
	if err := serveWriteAtomic(o.out, data, 0o644); err != nil {
		return err
	}
	root := certs[len(certs)-1]
	fmt.Fprintf(env.Out, "wrote %s: %d certificates, root %q, SHA-256 fingerprint %s\n", o.out, len(certs), root.Subject.CommonName, caclient.Fingerprint(root))
	return nil
}

// sayPinned tells, on standard error, that a CA root was pinned and where.
func sayPinned(env *Env) func(caclient.Pin) {
	return func(p caclient.Pin) {
		fmt.Fprintf(env.Err, "pinned the CA root of %s (SHA-256 %s) in %s\n", p.Origin, p.Fingerprint, p.File)
	}
}

// pinMismatchMessage is the one line for a CA that presents another root
// than the pinned one: the file, both fingerprints and the command that
// re-pins once the new root is checked.
func pinMismatchMessage(e *caclient.PinMismatchError) string {
	pinFlag := ""
	if def, err := caclient.DefaultPinFile(); e.File != "" && (err != nil || def != e.File) {
		pinFlag = " --pin-file " + shellWord(e.File)
	}
	where := "the given --ca-fingerprint"
	if e.File != "" {
		where = e.File
	}
	return fmt.Sprintf("%s presents the CA root %s, but %s pins %s; if the CA was replaced, check the new fingerprint against the one 'ca serve' prints, then re-pin: edgecert ca fetch-chain --ca %s --ca-fingerprint %s%s --out ca-chain.p7b",
		e.Origin, e.Presented, where, e.Pinned, e.Origin, e.Presented, pinFlag)
}

// serveWriteAtomic writes data to path through a temporary file, fsync and rename.
func serveWriteAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return invalidInput(fmt.Errorf("--out %s: %w", path, err))
	}
	defer os.Remove(f.Name())
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
