package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"edgecert/internal/ca"
)

// The commands that change or remove a CA user or its API tokens. Each is
// an operator's action on the CA directory and is audited; a running
// `ca serve` ends the user's web sessions on their next request and
// refuses its removed tokens within its token cache's 2 s.

// newCAUserChangeCmds returns remove, disable, enable, passwd and set.
func newCAUserChangeCmds(env *Env) []*cobra.Command {
	simple := func(use, short, example, done string, run func(e *ca.Engine, name string) error) *cobra.Command {
		o := &caCommon{}
		cmd := &cobra.Command{
			Use: use + " --dir DIR NAME", Short: short, Example: example, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				e, err := o.open(env, false)
				if err != nil {
					return err
				}
				defer e.Close()
				if err := run(e, args[0]); err != nil {
					return caErr(err)
				}
				fmt.Fprintf(env.Out, "user %s %s\n", args[0], done)
				return nil
			},
		}
		o.add(cmd, false)
		return cmd
	}
	yes, no := true, false
	remove := simple("remove", "Remove a user and its API tokens (its requests and certificates stay)",
		`  edgecert ca user remove --dir ca alice`, "removed",
		func(e *ca.Engine, name string) error { return e.RemoveUser(env.Ctx, name) })
	disable := simple("disable", "Disable a user: no sign-in, no API token, its web sessions end",
		`  edgecert ca user disable --dir ca alice
  edgecert ca user enable --dir ca alice`, "disabled",
		func(e *ca.Engine, name string) error {
			return e.ChangeUser(env.Ctx, name, ca.UserChange{Disabled: &yes})
		})
	enable := simple("enable", "Enable a disabled user again",
		`  edgecert ca user enable --dir ca alice`, "enabled",
		func(e *ca.Engine, name string) error {
			return e.ChangeUser(env.Ctx, name, ca.UserChange{Disabled: &no})
		})
	return []*cobra.Command{remove, disable, enable, newCAUserPasswdCmd(env), newCAUserSetCmd(env), newCAUserACMEEABCmd(env)}
}

// newCAUserACMEEABCmd creates an External Account Binding key: ACME
// accounts bound with it act as the user (docs/acme.md).
func newCAUserACMEEABCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var output string
	cmd := &cobra.Command{
		Use:   "acme-eab --dir DIR NAME [-o json]",
		Short: "Create an ACME External Account Binding key: accounts bound with it act as the user",
		Example: `  edgecert ca user acme-eab --dir ca webadmin
  edgecert ca user acme-eab --dir ca webadmin -o json
  certbot register --server https://ca.contoso.net:8443/acme/WebServer/directory --eab-kid KID --eab-hmac-key HMAC_KEY`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			k, err := e.NewEABKey(env.Ctx, args[0])
			if err != nil {
				return caErr(err)
			}
			return render(env.Out, output, k, func(w io.Writer, width int) error {
				_, err := fmt.Fprintf(w, "kid       %s\nhmac_key  %s\n", k.KID, k.HMACKey)
				return err
			})
		},
	}
	o.add(cmd, false)
	addOutputFlag(cmd, &output)
	return cmd
}

func newCAUserPasswdCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var pwFile string
	cmd := &cobra.Command{
		Use:   "passwd --dir DIR NAME [--password-file F]",
		Short: "Set a user's password (its web sessions end)",
		Example: `  edgecert ca user passwd --dir ca alice --password-file alice.txt
  edgecert ca user passwd --dir ca alice        # prompts twice on a terminal`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := password(env, pwFile, "password", true)
			if err != nil {
				return err
			}
			if pw == "" {
				return invalidInput(errors.New("the new password is empty"))
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			if err := e.ChangeUser(env.Ctx, args[0], ca.UserChange{Password: []byte(pw)}); err != nil {
				return caErr(err)
			}
			fmt.Fprintf(env.Out, "password of %s changed\n", args[0])
			return nil
		},
	}
	o.add(cmd, false)
	cmd.Flags().StringVar(&pwFile, "password-file", "", "file holding the new password (else a prompt on a terminal)")
	return cmd
}

func newCAUserSetCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var groups []string
	var admin bool
	cmd := &cobra.Command{
		Use:   "set --dir DIR NAME [--group G...] [--admin=true|false]",
		Short: "Change a user's groups or administrator role (its web sessions end)",
		Example: `  edgecert ca user set --dir ca carol --admin=false
  edgecert ca user set --dir ca alice --group RTCUniversalServerAdmins --group webadmins`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var c ca.UserChange
			if cmd.Flags().Changed("group") {
				c.Groups = &groups
			}
			if cmd.Flags().Changed("admin") {
				c.Admin = &admin
			}
			if c.Groups == nil && c.Admin == nil {
				return invalidInput(errors.New("nothing to change: give --group or --admin"))
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			if err := e.ChangeUser(env.Ctx, args[0], c); err != nil {
				return caErr(err)
			}
			fmt.Fprintf(env.Out, "user %s changed\n", args[0])
			return nil
		},
	}
	o.add(cmd, false)
	cmd.Flags().StringSliceVar(&groups, "group", nil, "group membership (repeatable; replaces the list; --group '' for none)")
	cmd.Flags().BoolVar(&admin, "admin", false, "CA administrator (--admin=false to demote)")
	return cmd
}

func newCAUserTokenRevokeCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var id string
	var all bool
	cmd := &cobra.Command{
		Use:   "revoke --dir DIR NAME (--id ID | --all)",
		Short: "Revoke a user's API token (by the id 'ca user token' printed) or all of them",
		Example: `  edgecert ca user token list --dir ca deploybot
  edgecert ca user token revoke --dir ca deploybot --id 3f2a9c01b7de
  edgecert ca user token revoke --dir ca deploybot --all`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (id == "") == !all {
				return invalidInput(errors.New("give either --id ID or --all"))
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			n, err := e.RevokeTokens(env.Ctx, args[0], id)
			if err != nil {
				return caErr(err)
			}
			fmt.Fprintf(env.Out, "%d token(s) of %s revoked\n", n, args[0])
			return nil
		},
	}
	o.add(cmd, false)
	cmd.Flags().StringVar(&id, "id", "", "the token's id (12 hex digits)")
	cmd.Flags().BoolVar(&all, "all", false, "revoke every token of the user")
	return cmd
}

func newCAUserTokenListCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var output string
	cmd := &cobra.Command{
		Use:     "list --dir DIR NAME [-o table|json|yaml]",
		Short:   "List a user's API tokens (ids and creation times; tokens are not kept)",
		Example: `  edgecert ca user token list --dir ca deploybot -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			ts, err := e.Tokens(env.Ctx, args[0])
			if err != nil {
				return caErr(err)
			}
			return render(env.Out, output, ts, func(w io.Writer, width int) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "ID\tCREATED")
				for _, t := range ts {
					tableRow(tw, t.ID, t.Created.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	o.add(cmd, false)
	addOutputFlag(cmd, &output)
	return cmd
}
