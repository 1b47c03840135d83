package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"

	"github.com/spf13/cobra"

	"edgecert/internal/apply"
	"edgecert/internal/plan"
	"edgecert/internal/topology"
)

// The ACME parts of apply and renew: the account's passphrase, opening the
// account, and renew's --on-change hook.

// addACMEFlag adds --acme-passphrase-file.
func addACMEFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "acme-passphrase-file", "", "with an acme: block, file holding the passphrase that seals the ACME account key (default $"+envACMEPassphrase+", else one kept in DIR/acme-passphrase)")
}

// envACMEPassphrase names the file of the ACME account key's passphrase.
const envACMEPassphrase = "EDGECERT_ACME_PASSPHRASE_FILE"

// openPublicCA opens the workspace's ACME account when the topology has an
// acme: block (nil, nil without one); lazy: only when a certificate needs
// the CA (renew).
func openPublicCA(ctx context.Context, env *Env, tf *topoFlags, ws *apply.Workspace, passFile string, lazy bool) (apply.PublicCA, error) {
	t, err := topology.Load(tf.topology, tf.overlay)
	if err != nil || t.ACME == nil {
		return nil, nil // a topology that failed to load was reported already
	}
	o := apply.ACMEOptions{Now: env.Now, Rand: env.Rand}
	if passFile == "" {
		passFile = os.Getenv(envACMEPassphrase)
	}
	if passFile != "" {
		p, err := readSecretFile(env, passFile, "ACME passphrase")
		if err != nil {
			return nil, err
		}
		o.Passphrase = []byte(p)
	}
	if lazy {
		pca, err := apply.OpenACMELazy(t.ACME, ws, o)
		if err != nil {
			return nil, applyErr(err)
		}
		return pca, nil
	}
	pca, _, err := apply.OpenACME(ctx, t.ACME, ws, o)
	if err != nil {
		return nil, applyErr(err)
	}
	return pca, nil
}

// runOnChange runs the --on-change command once per server of each changed
// certificate, with the certificate, server and new thumbprint in its
// environment; every failure is reported, none stops the others.
func runOnChange(ctx context.Context, env *Env, command string, p *plan.Plan, ws *apply.Workspace, changed []string) error {
	var errs []error
	for i := range p.Certificates {
		c := &p.Certificates[i]
		if !slices.Contains(changed, c.ID) {
			continue
		}
		for _, srv := range c.Servers {
			if !ws.Local(srv) {
				continue
			}
			thumb, _ := apply.Current(ws, c, srv)
			cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
			cmd.Env = append(os.Environ(), "EDGECERT_CERTIFICATE="+c.ID, "EDGECERT_SERVER="+srv, "EDGECERT_THUMBPRINT="+thumb)
			cmd.Stdout, cmd.Stderr = env.Err, env.Err
			if err := cmd.Run(); err != nil {
				errs = append(errs, fmt.Errorf("--on-change for %s on %s: %w", c.ID, srv, err))
			}
		}
	}
	return errors.Join(errs...)
}

// hasACME reports whether the topology names an ACME CA: verify then
// reports the usages public ACME CAs no longer include as warnings, as
// apply does.
func hasACME(tf *topoFlags) bool {
	t, err := topology.Load(tf.topology, tf.overlay)
	return err == nil && t.ACME != nil
}
