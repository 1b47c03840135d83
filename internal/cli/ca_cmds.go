package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"edgecert/internal/atomicfile"
	"edgecert/internal/ca"
	"edgecert/internal/certfmt"
	"edgecert/internal/readlimit"
)

// caCommands returns `edgecert ca` with its children, including those of
// serve_cmds.go.
func caCommands(env *Env) []*cobra.Command {
	c := &cobra.Command{
		Use:   "ca",
		Short: "The internal certification authority",
		Long: `The internal certification authority: a root and an issuing CA, certificate
templates with Enroll permissions, users, groups and API tokens, issuance with
pre-issuance linting, pending requests, revocation, CRLs and OCSP.

Commands that sign read the CA key passphrase from --passphrase-file, else from
the file named by $EDGECERT_CA_PASSPHRASE_FILE, else from a prompt on a terminal.`,
		Example: `  edgecert ca init --dir ca --name Contoso --passphrase-file pass.txt \
      --admin admin --admin-password-file admin.txt
  edgecert ca user add --dir ca alice --group RTCUniversalServerAdmins --password-file alice.txt
  edgecert ca template set --dir ca WebServer --enroll RTCUniversalServerAdmins
  edgecert ca issue --dir ca --csr edge.csr --as alice --out edge.cer --passphrase-file pass.txt`,
	}
	c.AddCommand(newCAInitCmd(env), newCAImportIssuingCmd(env), newCAIssueCmd(env), newCATemplateCmd(env),
		newCAUserCmd(env), newCAChainCmd(env), newCACertsCmd(env), newCAPendingCmd(env), newCARevokeCmd(env),
		newCACRLCmd(env), newCAAuditCmd(env))
	c.AddCommand(caServeCommands(env)...)
	return []*cobra.Command{c}
}

// caCommon holds the flags most ca commands share.
type caCommon struct {
	dir, dsn, passphraseFile string
}

func (c *caCommon) add(cmd *cobra.Command, key bool) {
	cmd.Flags().StringVar(&c.dir, "dir", "", "CA directory (required)")
	cmd.Flags().StringVar(&c.dsn, "db", "", "database DSN (default: the CA directory's database)")
	if key {
		cmd.Flags().StringVar(&c.passphraseFile, "passphrase-file", "", "file holding the CA key passphrase (else $EDGECERT_CA_PASSPHRASE_FILE, else a prompt)")
	}
	cmd.MarkFlagRequired("dir")
}

// open opens the CA, with its key when key is set.
func (c *caCommon) open(env *Env, key bool) (*ca.Engine, error) {
	opts := ca.OpenOptions{DSN: c.dsn, Now: env.Now, Rand: env.Rand, WithoutKey: !key}
	if key {
		p, err := readCAPassphrase(env, c.passphraseFile)
		if err != nil {
			return nil, err
		}
		opts.Passphrase = p
	}
	e, err := ca.Open(env.Ctx, c.dir, opts)
	return e, caErr(err)
}

// caErr maps engine errors to exit codes: bad input 2, the rest 1.
func caErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ca.ErrBadRequest) || errors.Is(err, ca.ErrNotFound) {
		return invalidInput(err)
	}
	return err
}

// caPrincipal returns --as USER, or the local operator as administrator.
func caPrincipal(ctx context.Context, e *ca.Engine, as string) (*ca.Principal, error) {
	if as == "" {
		return ca.Operator(), nil
	}
	p, err := e.PrincipalFor(ctx, as)
	return p, caErr(err)
}

type caInitOptions struct {
	caCommon
	name, key, crlURL, aiaURL, ocspURL string
	rootOnly, issuingRequest           bool
	pathLen                            int
	rootValidity, issuingValidity      string
	admin, adminPasswordFile           string
	pkcs11Module, pkcs11Token          string
}

func newCAInitCmd(env *Env) *cobra.Command {
	o := &caInitOptions{}
	cmd := &cobra.Command{
		Use:   "init --dir DIR [--name S] [--key TYPE] [--root-only] [--crl-url BASEURL] [--aia-url BASEURL] [--ocsp-url URL] [--passphrase-file F]",
		Short: "Create a CA: a root and an issuing CA, templates, database and first administrator",
		Long: `Create a CA in DIR: a root CA and, by default, an issuing CA under it (or the
root only, or with --issuing-request only an issuing CA key and its request
for an existing root, completed by 'ca import-issuing').

The keys are sealed with the CA passphrase, or generated in a PKCS#11 token
(--pkcs11-module, --pkcs11-token; the passphrase is the token PIN; needs the
pkcs11 build). Every certificate the CA issues carries a CRL distribution
point <crl-url><name>.crl, an AIA issuer URL <aia-url><name>.crt and the OCSP
URL; the defaults point at the CA's own --http-listen paths on ` + ca.DefaultHTTPListen + `,
which only this machine reaches: init says so, and so does 'ca serve'. For a
real deployment give addresses the clients reach (second example).

DIR must be new or empty: init refuses a folder that holds anything. It
makes DIR 0700 and every file in it 0600 (the database holds password and
token hashes). The passphrase has at least 12 characters; a passphrase or
password file that others than its owner may read draws a warning.

After init only administrators may enroll, until 'ca template set --enroll'
grants a group.`,
		Example: `  # root + issuing CA, RSA-2048, with an administrator
  edgecert ca init --dir ca --name Contoso --passphrase-file pass.txt \
      --admin admin --admin-password-file admin.txt

  # P-256, published on another host
  edgecert ca init --dir ca --key p256 --crl-url http://pki.contoso.com/crl/ \
      --aia-url http://pki.contoso.com/aia/ --ocsp-url http://pki.contoso.com/ocsp

  # an issuing CA for an existing root: write the request, then import
  edgecert ca init --dir ca --issuing-request --passphrase-file pass.txt
  edgecert ca import-issuing --dir ca --cert issuing.cer --root root.cer`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCAInit(env, o) },
	}
	o.caCommon.add(cmd, true)
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "edgecert", "CA name stem: \"<name> Root CA\" and \"<name> Issuing CA\"")
	f.StringVar(&o.key, "key", "rsa2048", "key type: rsa2048, rsa3072, rsa4096, p256 or p384")
	f.BoolVar(&o.rootOnly, "root-only", false, "no issuing CA: the root issues directly")
	f.BoolVar(&o.issuingRequest, "issuing-request", false, "only create the issuing CA key and its request (issuing.csr) for an existing root")
	f.IntVar(&o.pathLen, "path-len", 0, "root path length constraint (default 1 with an issuing CA, 0 root only)")
	f.StringVar(&o.rootValidity, "root-validity", "20y", "root CA validity (e.g. 20y, 3650d)")
	f.StringVar(&o.issuingValidity, "issuing-validity", "10y", "issuing CA validity")
	f.StringVar(&o.crlURL, "crl-url", "", "CRL base URL (default http://"+ca.DefaultHTTPListen+"/crl/)")
	f.StringVar(&o.aiaURL, "aia-url", "", "AIA base URL (default http://"+ca.DefaultHTTPListen+"/aia/)")
	f.StringVar(&o.ocspURL, "ocsp-url", "", "OCSP responder URL (default http://"+ca.DefaultHTTPListen+"/ocsp)")
	f.StringVar(&o.admin, "admin", "", "create this first administrator")
	f.StringVar(&o.adminPasswordFile, "admin-password-file", "", "file holding the administrator's password")
	f.StringVar(&o.pkcs11Module, "pkcs11-module", "", "PKCS#11 module path: keep the CA keys in a token (pkcs11 build)")
	f.StringVar(&o.pkcs11Token, "pkcs11-token", "", "PKCS#11 token label")
	cmd.MarkFlagsRequiredTogether("admin", "admin-password-file")
	cmd.MarkFlagsRequiredTogether("pkcs11-module", "pkcs11-token")
	return cmd
}

func runCAInit(env *Env, o *caInitOptions) error {
	rv, err := ca.ParseDuration(o.rootValidity)
	if err != nil {
		return invalidInput(fmt.Errorf("--root-validity: %w", err))
	}
	iv, err := ca.ParseDuration(o.issuingValidity)
	if err != nil {
		return invalidInput(fmt.Errorf("--issuing-validity: %w", err))
	}
	opts := ca.InitOptions{Name: o.name, Key: o.key, RootOnly: o.rootOnly, IssuingRequest: o.issuingRequest,
		RootValidity: rv, IssuingValidity: iv, PathLen: o.pathLen, CRLURL: o.crlURL, AIAURL: o.aiaURL, OCSPURL: o.ocspURL,
		DSN: o.dsn, Now: env.Now, Rand: env.Rand, AdminName: o.admin}
	if o.pkcs11Module != "" {
		if !ca.PKCS11Available {
			return invalidInput(errors.New("PKCS#11 keys need the pkcs11 build of edgecert (CGO_ENABLED=1 go build -tags pkcs11 ./cmd/edgecert)"))
		}
		opts.PKCS11 = &ca.PKCS11Config{Module: o.pkcs11Module, TokenLabel: o.pkcs11Token}
	}
	if o.admin != "" {
		if opts.AdminPassword, err = readRequiredSecret(env, o.adminPasswordFile, "administrator password"); err != nil {
			return err
		}
	}
	if opts.Passphrase, err = readCAPassphrase(env, o.passphraseFile); err != nil {
		return err
	}
	if err := ca.Init(env.Ctx, o.dir, opts); err != nil {
		if errors.Is(err, ca.ErrConflict) {
			return invalidInput(err)
		}
		return caErr(err)
	}
	if o.issuingRequest {
		fmt.Fprintf(env.Out, "issuing CA key created; request written to %s/issuing.csr: have the root sign it, then run 'edgecert ca import-issuing --dir %s --cert FILE --root FILE'\n", o.dir, o.dir)
		return nil
	}
	e, err := ca.Open(env.Ctx, o.dir, ca.OpenOptions{DSN: o.dsn, WithoutKey: true})
	if err != nil {
		return caErr(err)
	}
	defer e.Close()
	chain := e.Chain()
	root := chain[len(chain)-1]
	fmt.Fprintf(env.Out, "CA created in %s\nroot:    %s (SHA-256 %s)\n", o.dir, root.Subject.CommonName, certfmt.FingerprintSHA256(root))
	if len(chain) > 1 {
		fmt.Fprintf(env.Out, "issuing: %s\n", chain[0].Subject.CommonName)
	}
	fmt.Fprintf(env.Out, "only administrators may enroll until 'edgecert ca template set --dir %s WebServer --enroll GROUP'\n", o.dir)
	if l := loopbackURLs(e.PublicationURLs()); len(l) > 0 {
		fmt.Fprintf(env.Err, "warning: every certificate of this CA will carry loopback revocation and issuer URLs (%s): only this machine reaches them; for a real deployment, init with --crl-url, --aia-url and --ocsp-url set to addresses clients reach (e.g. http://pki.contoso.com/crl/)\n", strings.Join(l, " "))
	}
	return nil
}

// loopbackURLs returns those of urls whose host is a loopback address
// (127.0.0.0/8, ::1, localhost).
func loopbackURLs(urls ...string) []string {
	var out []string
	for _, s := range urls {
		u, err := url.Parse(s)
		if s == "" || err != nil {
			continue
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); strings.EqualFold(h, "localhost") || (ip != nil && ip.IsLoopback()) {
			out = append(out, s)
		}
	}
	return out
}

func newCAImportIssuingCmd(env *Env) *cobra.Command {
	var dir, certFile, rootFile string
	cmd := &cobra.Command{
		Use:   "import-issuing --dir DIR --cert FILE --root FILE",
		Short: "Install the issuing CA certificate signed by an existing root",
		Long: `Complete a CA made with 'ca init --issuing-request': check that the certificate
is a CA certificate for the issuing key and is signed by the root, and
install both.`,
		Example: `  edgecert ca import-issuing --dir ca --cert issuing.cer --root root.cer`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := readlimit.File(certFile, readlimit.CertificateFile)
			if err != nil {
				return invalidInput(err)
			}
			r, err := readlimit.File(rootFile, readlimit.CertificateFile)
			if err != nil {
				return invalidInput(err)
			}
			if err := ca.ImportIssuing(dir, c, r); err != nil {
				return caErr(err)
			}
			fmt.Fprintf(env.Out, "issuing CA certificate installed in %s\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "CA directory (required)")
	cmd.Flags().StringVar(&certFile, "cert", "", "issuing CA certificate, PEM or DER (required)")
	cmd.Flags().StringVar(&rootFile, "root", "", "root CA certificate, PEM or DER (required)")
	cmd.MarkFlagRequired("dir")
	cmd.MarkFlagRequired("cert")
	cmd.MarkFlagRequired("root")
	return cmd
}

type caIssueOptions struct {
	caCommon
	csrFile, template, as, out, output string
	chain                              bool
}

func newCAIssueCmd(env *Env) *cobra.Command {
	o := &caIssueOptions{}
	cmd := &cobra.Command{
		Use:   "issue --dir DIR --csr FILE [--template NAME] --as USER [--out FILE]",
		Short: "Issue a certificate for a request, offline, as a CA user",
		Long: `Submit a PKCS#10 request (PEM, Base64 or DER, with or without the Windows
"NEW CERTIFICATE REQUEST" header) to the CA directly, on behalf of USER, whose
Enroll permission and the template's policy are checked as for any request.
The template comes from --template or from the request itself.

The certificate is written as PEM to --out (or standard output); a .p7b file
name writes PKCS#7 with the chain. A template that needs approval leaves the
request pending and prints its id.`,
		Example: `  edgecert ca issue --dir ca --csr edge-int.csr --template WebServer --as alice \
      --out edge-int.cer --passphrase-file pass.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCAIssue(env, o) },
	}
	o.caCommon.add(cmd, true)
	f := cmd.Flags()
	f.StringVar(&o.csrFile, "csr", "", "request file, - for standard input (required)")
	f.StringVar(&o.template, "template", "", "template name (default: the one named in the request)")
	f.StringVar(&o.as, "as", "", "CA user on whose behalf the request is made (required)")
	f.StringVar(&o.out, "out", "", "certificate file (.cer/.pem PEM, .p7b PKCS#7 with chain); default standard output")
	f.BoolVar(&o.chain, "chain", false, "append the CA chain to a PEM output")
	addOutputFlag(cmd, &o.output)
	cmd.MarkFlagRequired("csr")
	cmd.MarkFlagRequired("as")
	return cmd
}

func runCAIssue(env *Env, o *caIssueOptions) error {
	if err := checkFormat(o.output); err != nil {
		return err
	}
	var data []byte
	var err error
	if o.csrFile == "-" {
		data, err = readlimit.Reader(env.In, "standard input", readlimit.RequestFile)
	} else {
		data, err = readlimit.File(o.csrFile, readlimit.RequestFile)
	}
	if err != nil {
		return invalidInput(fmt.Errorf("--csr: %w", err))
	}
	e, err := o.open(env, true)
	if err != nil {
		return err
	}
	defer e.Close()
	p, err := e.PrincipalFor(env.Ctx, o.as)
	if err != nil {
		return caErr(err)
	}
	res, err := e.Submit(env.Ctx, p, data, o.template)
	if err != nil {
		return caErr(fmt.Errorf("%s: %w", o.csrFile, err))
	}
	if res.Status == ca.StatusPending {
		fmt.Fprintf(env.Err, "request %d is pending approval by a CA administrator ('edgecert ca pending approve %d')\n", res.RequestID, res.RequestID)
		return render(env.Out, o.output, res, func(w io.Writer, width int) error {
			_, err := fmt.Fprintf(w, "request %d pending\n", res.RequestID)
			return err
		})
	}
	out, err := caEncodeCerts(o.out, o.chain, append([]*x509.Certificate{res.Certificate}, res.Chain...))
	if err != nil {
		return err
	}
	if o.out == "" {
		_, err := env.Out.Write(out)
		return err
	}
	if err := atomicfile.Write(o.out, out, 0o644); err != nil {
		return err
	}
	return render(env.Out, o.output, res, func(w io.Writer, width int) error {
		_, err := fmt.Fprintf(w, "issued request %d, serial %s, to %s\n", res.RequestID, res.Serial, o.out)
		return err
	})
}

// caEncodeCerts encodes certs[0] (and the chain when asked or for .p7b) by file name.
func caEncodeCerts(name string, chain bool, certs []*x509.Certificate) ([]byte, error) {
	if strings.HasSuffix(strings.ToLower(name), ".p7b") || strings.HasSuffix(strings.ToLower(name), ".p7c") {
		return certfmt.EncodePKCS7(certs)
	}
	if !chain {
		certs = certs[:1]
	}
	return certfmt.EncodeCertificatePEM(certs...), nil
}
