package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"edgecert/internal/ca"
	"edgecert/internal/certfmt"
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
		p, err := caReadPassphrase(env, c.passphraseFile)
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

// caReadPassphrase reads the CA key passphrase: --passphrase-file, else
// $EDGECERT_CA_PASSPHRASE_FILE, else a prompt on a terminal.
func caReadPassphrase(env *Env, file string) ([]byte, error) {
	if file == "" {
		file = os.Getenv("EDGECERT_CA_PASSPHRASE_FILE")
	}
	if file != "" {
		return caReadSecretFile("passphrase", file)
	}
	if !env.InTTY {
		return nil, invalidInput(errors.New("the CA key passphrase is needed: give --passphrase-file or set EDGECERT_CA_PASSPHRASE_FILE"))
	}
	fmt.Fprint(env.Err, "CA key passphrase: ")
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(env.Err)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	return b, nil
}

// caReadSecretFile reads a one-line secret file (trailing newline dropped).
func caReadSecretFile(what, file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, invalidInput(fmt.Errorf("%s file: %w", what, err))
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, invalidInput(fmt.Errorf("%s file %s is empty", what, file))
	}
	return b, nil
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
URL; the defaults point at the CA's own --http-listen paths on ` + ca.DefaultHTTPListen + `.

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
		if opts.AdminPassword, err = caReadSecretFile("administrator password", o.adminPasswordFile); err != nil {
			return err
		}
	}
	if opts.Passphrase, err = caReadPassphrase(env, o.passphraseFile); err != nil {
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
	return nil
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
			c, err := os.ReadFile(certFile)
			if err != nil {
				return invalidInput(err)
			}
			r, err := os.ReadFile(rootFile)
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
		data, err = io.ReadAll(env.In)
	} else {
		data, err = os.ReadFile(o.csrFile)
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
		return render(env.Out, o.output, res, func(w io.Writer) error {
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
	if err := ca.WriteFileAtomic(o.out, out, 0o644); err != nil {
		return err
	}
	return render(env.Out, o.output, res, func(w io.Writer) error {
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

func newCAChainCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var out string
	cmd := &cobra.Command{
		Use:   "chain --dir DIR --out FILE(.p7b|.pem)",
		Short: "Write the CA chain (issuing CA up to the root) as PKCS#7 or PEM",
		Example: `  edgecert ca chain --dir ca --out contoso-chain.p7b
  edgecert ca chain --dir ca --out contoso-chain.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			lower := strings.ToLower(out)
			var data []byte
			switch {
			case strings.HasSuffix(lower, ".p7b"), strings.HasSuffix(lower, ".p7c"):
				if data, err = certfmt.EncodePKCS7(e.Chain()); err != nil {
					return err
				}
			case strings.HasSuffix(lower, ".pem"), strings.HasSuffix(lower, ".crt"), strings.HasSuffix(lower, ".cer"):
				data = certfmt.EncodeCertificatePEM(e.Chain()...)
			default:
				return invalidInput(fmt.Errorf("--out %q: use a .p7b or .pem file name", out))
			}
			if err := ca.WriteFileAtomic(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "wrote %d certificates to %s\n", len(e.Chain()), out)
			return nil
		},
	}
	o.add(cmd, false)
	cmd.Flags().StringVar(&out, "out", "", "output file, .p7b or .pem (required)")
	cmd.MarkFlagRequired("out")
	return cmd
}

func newCACertsCmd(env *Env) *cobra.Command {
	c := &cobra.Command{Use: "certs", Short: "Certificates the CA issued"}
	o := &caCommon{}
	var revoked bool
	var limit int
	var output string
	list := &cobra.Command{
		Use:   "list --dir DIR [--revoked] [-o table|json|yaml]",
		Short: "List issued certificates, newest first",
		Example: `  edgecert ca certs list --dir ca
  edgecert ca certs list --dir ca --revoked -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			certs, err := e.Certificates(env.Ctx, revoked, limit)
			if err != nil {
				return caErr(err)
			}
			return render(env.Out, output, certs, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "SERIAL\tREQUEST\tTEMPLATE\tSUBJECT\tNOT AFTER\tREVOKED")
				for _, c := range certs {
					rev := ""
					if c.Revoked {
						rev = c.RevokedAt + " " + c.Reason
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", c.Serial, c.RequestID, c.Template, c.Subject, c.NotAfter, rev)
				}
				return tw.Flush()
			})
		},
	}
	o.add(list, false)
	list.Flags().BoolVar(&revoked, "revoked", false, "only revoked certificates")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	addOutputFlag(list, &output)
	c.AddCommand(list)
	return c
}

func newCARevokeCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var serial, reason, as string
	cmd := &cobra.Command{
		Use:   "revoke --dir DIR --serial HEX --reason REASON",
		Short: "Revoke an issued certificate",
		Long: `Revoke a certificate by serial number (hexadecimal, colons allowed) with an
RFC 5280 reason: ` + strings.Join(ca.ReasonNames(), ", ") + `.
The CRLs are regenerated when next fetched or written ('ca crl').`,
		Example: `  edgecert ca revoke --dir ca --serial 3A:F0:12... --reason keyCompromise --passphrase-file pass.txt`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := ca.ParseSerial(serial)
			if err != nil {
				return invalidInput(err)
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			p, err := caPrincipal(env.Ctx, e, as)
			if err != nil {
				return err
			}
			if err := e.Revoke(env.Ctx, p, n, reason); err != nil {
				if errors.Is(err, ca.ErrConflict) {
					return invalidInput(err)
				}
				return caErr(err)
			}
			fmt.Fprintf(env.Out, "revoked %s (%s)\n", strings.ToUpper(n.Text(16)), reason)
			return nil
		},
	}
	o.add(cmd, true)
	cmd.Flags().StringVar(&serial, "serial", "", "serial number, hexadecimal (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "RFC 5280 reason, e.g. keyCompromise, superseded (required)")
	cmd.Flags().StringVar(&as, "as", "", "act as this CA user (default: the local operator, an administrator)")
	cmd.MarkFlagRequired("serial")
	cmd.MarkFlagRequired("reason")
	return cmd
}

func newCACRLCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var delta, asPEM, root bool
	var out string
	cmd := &cobra.Command{
		Use:   "crl --dir DIR [--delta] --out FILE",
		Short: "Write the current full (or delta) CRL",
		Long: `Write the CA's current full CRL (or with --delta the delta CRL), regenerated
first when a revocation happened since or half of its validity has passed.
With --root, re-sign the root CA's CRL instead (do it within its year of
validity). DER by default; --pem (or a .pem file name) writes PEM.`,
		Example: `  edgecert ca crl --dir ca --out contoso.crl --passphrase-file pass.txt
  edgecert ca crl --dir ca --delta --out contoso+.crl --passphrase-file pass.txt
  edgecert ca crl --dir ca --root --out contoso-root.crl --passphrase-file pass.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := o.open(env, true)
			if err != nil {
				return err
			}
			defer e.Close()
			var der []byte
			if root {
				der, err = e.RenewRootCRL(env.Ctx)
			} else {
				der, err = e.CRL(env.Ctx, delta)
			}
			if err != nil {
				return caErr(err)
			}
			if asPEM || strings.HasSuffix(strings.ToLower(out), ".pem") {
				der = pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
			}
			if err := ca.WriteFileAtomic(out, der, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "wrote %s\n", out)
			return nil
		},
	}
	o.add(cmd, true)
	cmd.Flags().BoolVar(&delta, "delta", false, "the delta CRL")
	cmd.Flags().BoolVar(&root, "root", false, "re-sign the root CA's CRL (a year of validity) with the root key and write it")
	cmd.Flags().BoolVar(&asPEM, "pem", false, "write PEM instead of DER")
	cmd.Flags().StringVar(&out, "out", "", "output file (required)")
	cmd.MarkFlagRequired("out")
	return cmd
}

func newCAAuditCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var n int
	var output string
	cmd := &cobra.Command{
		Use:     "audit --dir DIR [-n N] [-o table|json|yaml]",
		Short:   "Show the newest entries of the CA's append-only audit log",
		Example: `  edgecert ca audit --dir ca -n 20`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			log, err := e.AuditLog(env.Ctx, n)
			if err != nil {
				return caErr(err)
			}
			return render(env.Out, output, log, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "TIME\tWHO\tACTION\tTEMPLATE\tSUBJECT\tSERIAL\tREQUEST\tRESULT\tDETAIL")
				for _, a := range log {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", a.At.Format(time.RFC3339), a.Actor, a.Action, a.Template, a.Subject, a.Serial, a.RequestID, a.Result, a.Detail)
				}
				return tw.Flush()
			})
		},
	}
	o.add(cmd, false)
	cmd.Flags().IntVarP(&n, "number", "n", 50, "how many entries")
	addOutputFlag(cmd, &output)
	return cmd
}

// caParseID parses a request id argument.
func caParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, invalidInput(fmt.Errorf("invalid request id %q", s))
	}
	return id, nil
}

func newCATemplateCmd(env *Env) *cobra.Command {
	c := &cobra.Command{Use: "template", Short: "Certificate templates: list, show, set"}
	var dir, output string
	list := &cobra.Command{
		Use:     "list --dir DIR [-o table|json|yaml]",
		Short:   "List the CA's templates",
		Example: `  edgecert ca template list --dir ca`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			ts, err := ca.ListTemplates(dir)
			if err != nil {
				return caErr(err)
			}
			infos := make([]ca.TemplateInfo, 0, len(ts))
			for _, t := range ts {
				infos = append(infos, t.Info())
			}
			return render(env.Out, output, infos, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "NAME\tDISPLAY NAME\tEKU\tVALIDITY\tAPPROVAL\tENROLL")
				for _, t := range infos {
					enroll := strings.Join(t.Enroll, ",")
					if enroll == "" {
						enroll = "(administrators only)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", t.Name, t.DisplayName, strings.Join(t.EKU, ","), t.Validity, t.Approval, enroll)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&dir, "dir", "", "CA directory (required)")
	list.MarkFlagRequired("dir")
	addOutputFlag(list, &output)
	c.AddCommand(list, newCATemplateShowCmd(env), newCATemplateSetCmd(env))
	return c
}

func newCATemplateShowCmd(env *Env) *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:     "show --dir DIR NAME [-o yaml|json]",
		Short:   "Show a template in full",
		Example: `  edgecert ca template show --dir ca WebServer`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := ca.GetTemplate(dir, args[0])
			if err != nil {
				return caErr(err)
			}
			if output == formatJSON {
				return render(env.Out, output, t, nil)
			}
			b, err := ca.TemplateYAML(t)
			if err != nil {
				return err
			}
			_, err = env.Out.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "CA directory (required)")
	cmd.MarkFlagRequired("dir")
	cmd.Flags().StringVarP(&output, "output", "o", formatYAML, "output format: yaml or json")
	return cmd
}

func newCATemplateSetCmd(env *Env) *cobra.Command {
	var dir, validity, copyFrom string
	var enroll, users, dns, sources []string
	var approval, public bool
	cmd := &cobra.Command{
		Use:   "set --dir DIR NAME [--enroll GROUP...] [--approval] [--validity DURATION]",
		Short: "Change a template (or create one as a copy of another)",
		Long: `Change a template: who may enroll (--enroll groups, --enroll-user users;
administrators always may), whether a CA administrator must approve
(--approval, --approval=false), the validity, the allowed DNS name patterns
("contoso.com", "*.contoso.com"; none: any name), the zlint sources
(RFC5280 always; CABF_BR for publicly-trusted-style templates). Only the
flags given change. --copy-from creates NAME as a copy of another template.`,
		Example: `  # let the Lync administrators enroll in WebServer
  edgecert ca template set --dir ca WebServer --enroll RTCUniversalServerAdmins

  # restrict names and require approval
  edgecert ca template set --dir ca WebServer --allow-dns contoso.com --allow-dns '*.contoso.com' --approval

  # a publicly-trusted-style template, linted with the CA/Browser Forum rules
  edgecert ca template set --dir ca PublicWeb --copy-from WebServer --publicly-trusted --validity 199d`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch := ca.TemplateChange{CopyFrom: copyFrom}
			f := cmd.Flags()
			if f.Changed("enroll") {
				ch.Enroll = &enroll
			}
			if f.Changed("enroll-user") {
				ch.EnrollUsers = &users
			}
			if f.Changed("approval") {
				ch.Approval = &approval
			}
			if f.Changed("allow-dns") {
				ch.AllowedDNS = &dns
			}
			if f.Changed("lint-source") {
				ch.LintSources = &sources
			}
			if f.Changed("publicly-trusted") {
				ch.PubliclyTrusted = &public
			}
			if f.Changed("validity") {
				d, err := ca.ParseDuration(validity)
				if err != nil {
					return invalidInput(fmt.Errorf("--validity: %w", err))
				}
				ch.Validity = &d
			}
			t, err := ca.SetTemplate(dir, args[0], ch)
			if err != nil {
				if errors.Is(err, ca.ErrConflict) {
					return invalidInput(err)
				}
				return caErr(err)
			}
			i := t.Info()
			fmt.Fprintf(env.Out, "template %s: validity %s, approval %v, enroll %s\n", t.Name, i.Validity, i.Approval, strings.Join(i.Enroll, ","))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "CA directory (required)")
	f.StringSliceVar(&enroll, "enroll", nil, "groups with Enroll permission (repeatable; replaces the list)")
	f.StringSliceVar(&users, "enroll-user", nil, "users with Enroll permission (repeatable; replaces the list)")
	f.BoolVar(&approval, "approval", false, "a CA administrator must approve each request")
	f.StringVar(&validity, "validity", "", "certificate validity (e.g. 2y, 397d, 720h)")
	f.StringSliceVar(&dns, "allow-dns", nil, "allowed DNS name patterns (repeatable; replaces the list)")
	f.StringSliceVar(&sources, "lint-source", nil, "zlint sources that must pass (RFC5280, CABF_BR, ...)")
	f.BoolVar(&public, "publicly-trusted", false, "lint with the CA/Browser Forum Baseline Requirements too")
	f.StringVar(&copyFrom, "copy-from", "", "create NAME as a copy of this template")
	cmd.MarkFlagRequired("dir")
	return cmd
}

func newCAUserCmd(env *Env) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "CA users, groups and API tokens"}
	o := &caCommon{}
	var groups []string
	var admin bool
	var pwFile string
	add := &cobra.Command{
		Use:   "add --dir DIR NAME [--group G...] [--admin] [--password-file F]",
		Short: "Add a user (password hashed with argon2id)",
		Example: `  edgecert ca user add --dir ca alice --group RTCUniversalServerAdmins --password-file alice.txt
  edgecert ca user add --dir ca carol --admin --password-file carol.txt
  edgecert ca user add --dir ca deploybot --group RTCUniversalServerAdmins   # token-only`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u := ca.UserSpec{Name: args[0], Groups: groups, Admin: admin}
			if pwFile != "" {
				p, err := caReadSecretFile("password", pwFile)
				if err != nil {
					return err
				}
				u.Password = p
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			if err := e.AddUser(env.Ctx, u); err != nil {
				if errors.Is(err, ca.ErrConflict) {
					return invalidInput(err)
				}
				return caErr(err)
			}
			fmt.Fprintf(env.Out, "user %s added\n", u.Name)
			return nil
		},
	}
	o.add(add, false)
	add.Flags().StringSliceVar(&groups, "group", nil, "group membership (repeatable)")
	add.Flags().BoolVar(&admin, "admin", false, "CA administrator: manages templates, approves, revokes")
	add.Flags().StringVar(&pwFile, "password-file", "", "file holding the password (none: API token only)")
	c.AddCommand(add, newCAUserTokenCmd(env), newCAUserListCmd(env))
	return c
}

func newCAUserTokenCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var out string
	cmd := &cobra.Command{
		Use:   "token --dir DIR NAME [--out FILE]",
		Short: "Create an API bearer token for a user (only its hash is kept)",
		Example: `  edgecert ca user token --dir ca alice --out alice.token
  edgecert apply -t topology.yaml --workspace ws --ca https://ca:8443 --token-file alice.token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			tok, err := e.NewToken(env.Ctx, args[0])
			if err != nil {
				return caErr(err)
			}
			if out == "" {
				_, err := fmt.Fprintln(env.Out, tok)
				return err
			}
			if err := ca.WriteFileAtomic(out, []byte(tok+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "token for %s written to %s\n", args[0], out)
			return nil
		},
	}
	o.add(cmd, false)
	cmd.Flags().StringVar(&out, "out", "", "write the token to this file (mode 0600) instead of standard output")
	return cmd
}

func newCAUserListCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var output string
	cmd := &cobra.Command{
		Use:     "list --dir DIR [-o table|json|yaml]",
		Short:   "List users",
		Example: `  edgecert ca user list --dir ca -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			us, err := e.Users(env.Ctx)
			if err != nil {
				return caErr(err)
			}
			return render(env.Out, output, us, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "NAME\tGROUPS\tADMIN\tPASSWORD")
				for _, u := range us {
					fmt.Fprintf(tw, "%s\t%s\t%v\t%v\n", u.Name, strings.Join(u.Groups, ","), u.Admin, u.HasPassword)
				}
				return tw.Flush()
			})
		},
	}
	o.add(cmd, false)
	addOutputFlag(cmd, &output)
	return cmd
}

func newCAPendingCmd(env *Env) *cobra.Command {
	c := &cobra.Command{Use: "pending", Short: "Requests waiting for approval: list, approve, deny"}
	lo := &caCommon{}
	var output string
	list := &cobra.Command{
		Use:     "list --dir DIR [-o table|json|yaml]",
		Short:   "List pending requests",
		Example: `  edgecert ca pending list --dir ca`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			e, err := lo.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			rs, err := e.Requests(env.Ctx, ca.Operator(), ca.StatusPending)
			if err != nil {
				return caErr(err)
			}
			return render(env.Out, output, rs, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "ID\tREQUESTER\tTEMPLATE\tSUBJECT\tSUBMITTED")
				for _, r := range rs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.RequestID, r.Requester, r.Template, r.Subject, r.Submitted.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	lo.add(list, false)
	addOutputFlag(list, &output)
	c.AddCommand(list, newCAPendingDecideCmd(env, true), newCAPendingDecideCmd(env, false))
	return c
}

// newCAPendingDecideCmd is `ca pending approve ID` or `ca pending deny ID`.
func newCAPendingDecideCmd(env *Env, approve bool) *cobra.Command {
	o := &caCommon{}
	var as, reason, out string
	verb := "deny"
	if approve {
		verb = "approve"
	}
	cmd := &cobra.Command{
		Use:   verb + " --dir DIR ID",
		Short: map[bool]string{true: "Approve and issue a pending request", false: "Deny a pending request"}[approve],
		Example: map[bool]string{
			true:  "  edgecert ca pending approve --dir ca 42 --passphrase-file pass.txt --out edge.cer",
			false: "  edgecert ca pending deny --dir ca 42 --reason \"not an edge server\"",
		}[approve],
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := caParseID(args[0])
			if err != nil {
				return err
			}
			e, err := o.open(env, approve)
			if err != nil {
				return err
			}
			defer e.Close()
			p, err := caPrincipal(env.Ctx, e, as)
			if err != nil {
				return err
			}
			if !approve {
				if err := e.Deny(env.Ctx, p, id, reason); err != nil {
					return caDecideErr(err)
				}
				fmt.Fprintf(env.Out, "request %d denied\n", id)
				return nil
			}
			res, err := e.Approve(env.Ctx, p, id)
			if err != nil {
				return caDecideErr(err)
			}
			if out != "" {
				data, err := caEncodeCerts(out, false, append([]*x509.Certificate{res.Certificate}, res.Chain...))
				if err != nil {
					return err
				}
				if err := ca.WriteFileAtomic(out, data, 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(env.Out, "request %d approved: serial %s\n", id, res.Serial)
			return nil
		},
	}
	o.add(cmd, approve)
	cmd.Flags().StringVar(&as, "as", "", "act as this CA user (default: the local operator, an administrator)")
	if approve {
		cmd.Flags().StringVar(&out, "out", "", "also write the issued certificate here")
	} else {
		cmd.Flags().StringVar(&reason, "reason", "", "why the request is denied")
	}
	return cmd
}

func caDecideErr(err error) error {
	if errors.Is(err, ca.ErrConflict) {
		return invalidInput(err)
	}
	return caErr(err)
}
