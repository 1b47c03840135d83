package cli

import (
	"crypto/x509"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"edgecert/internal/csr"
	"edgecert/internal/plan"
	"edgecert/internal/verify"
)

func requestCheckCmd(env *Env) *cobra.Command {
	var (
		tf     topoFlags
		id     string
		output string
	)
	cmd := &cobra.Command{
		Use:   "check -t TOPOLOGY --certificate ID FILE",
		Short: "Check a request made elsewhere (Request-CsCertificate, certreq) against the plan",
		Long: `check compares a PKCS#10 request with the plan's certificate ID before it is
sent to a CA: the subject name, the names (as a set), the key algorithm and
size, and the request's signature. It is the check of the delayed-request
path: Request-EdgecertCertificates.ps1 (edgecert export windows --requests)
makes the requests on the server, and each comes back here before it is
issued. Whether the key is exportable is not in a request; verify
--snapshot checks it on the server.

Exit status 3 when the request differs from the plan, each difference on
one line.`,
		Example: `  edgecert request check -t examples/edge-pool-dns.yaml --certificate edge-internal/lsedge.contoso.net edge-internal_lsedge.contoso.net.req`,
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			if id == "" {
				return invalidInput(fmt.Errorf("--certificate ID is required (see edgecert plan)"))
			}
			c, err := plannedCertificate(env, &tf, "--certificate", id)
			if err != nil {
				return err
			}
			data, err := readInput(env, args[0])
			if err != nil {
				return err
			}
			req, err := csr.Parse(data)
			if err != nil {
				return invalidInput(fmt.Errorf("%s: %w", args[0], err))
			}
			diffs := verify.Request(c, req)
			result := map[string]any{"certificate": id, "file": args[0], "matches": len(diffs) == 0, "differences": diffs}
			if result["differences"] == nil {
				result["differences"] = []string{}
			}
			if err := render(env.Out, output, result, func(w io.Writer, width int) error {
				if len(diffs) == 0 {
					fmt.Fprintf(w, "%s asks for what the plan says for %s\n", args[0], id)
					return nil
				}
				fmt.Fprintf(w, "%s differs from the plan for %s:\n  %s\n", args[0], id, strings.Join(diffs, "\n  "))
				return nil
			}); err != nil {
				return err
			}
			if len(diffs) > 0 {
				return fmt.Errorf("%w: %d differences; make the request again (Request-EdgecertCertificates.ps1 writes it as planned)", errVerifyFailed, len(diffs))
			}
			return nil
		},
	}
	tf.add(cmd, false)
	cmd.Flags().StringVar(&id, "certificate", "", "the certificate id of the plan the request is for")
	addOutputFlag(cmd, &output)
	return cmd
}

// plannedCertificate returns the plan's certificate id (flag names the
// flag that gave it, for the message).
func plannedCertificate(env *Env, tf *topoFlags, flag, id string) (*plan.Certificate, error) {
	if tf.topology == "" {
		return nil, invalidInput(fmt.Errorf("%s needs the topology: give -t TOPOLOGY", flag))
	}
	p, err := tf.plan(env)
	if err != nil {
		return nil, err
	}
	for i := range p.Certificates {
		if p.Certificates[i].ID == id {
			return &p.Certificates[i], nil
		}
	}
	return nil, invalidInput(fmt.Errorf("%s %s: no such certificate in the plan (see edgecert plan)", flag, id))
}

// checkAgainstPlan refuses (exit 3) a request that differs from the plan's
// certificate id, naming each difference on stderr.
func checkAgainstPlan(env *Env, tf *topoFlags, id, file string, req *x509.CertificateRequest) error {
	c, err := plannedCertificate(env, tf, "--check-plan", id)
	if err != nil {
		return err
	}
	if diffs := verify.Request(c, req); len(diffs) > 0 {
		fmt.Fprintf(env.Err, "%s differs from the plan for %s:\n  %s\n", printable(file), id, printableLines(strings.Join(diffs, "\n  ")))
		return fmt.Errorf("%w: %d differences: nothing was sent; make the request again (Request-EdgecertCertificates.ps1 writes it as planned)", errVerifyFailed, len(diffs))
	}
	return nil
}
