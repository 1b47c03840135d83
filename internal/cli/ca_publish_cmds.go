package cli

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"edgecert/internal/atomicfile"
	"edgecert/internal/ca"
	"edgecert/internal/certfmt"
	"edgecert/internal/table"
)

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
			if err := atomicfile.Write(out, data, 0o644); err != nil {
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
			return render(env.Out, output, certs, func(w io.Writer, width int) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "SERIAL\tREQUEST\tTEMPLATE\tSUBJECT\tSANS\tNOT AFTER\tREVOKED")
				for _, c := range certs {
					rev := ""
					if c.Revoked {
						rev = c.RevokedAt + " " + c.Reason
					}
					tableRow(tw, c.Serial, c.RequestID, c.Template, c.Subject, strings.Join(c.SANs, ","), c.NotAfter, rev)
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
			if err := atomicfile.Write(out, der, 0o644); err != nil {
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
			return render(env.Out, output, log, func(w io.Writer, width int) error {
				t := table.Table{Header: []string{"TIME", "WHO", "ACTION", "TEMPLATE", "SUBJECT", "SERIAL", "REQUEST", "RESULT", "DETAIL"}, Width: width}
				for _, a := range log {
					t.Rows = append(t.Rows, table.Row(a.At.Format(time.RFC3339), a.Actor, a.Action, a.Template, a.Subject, a.Serial, strconv.FormatInt(a.RequestID, 10), a.Result, a.Detail))
				}
				return t.Write(w)
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
