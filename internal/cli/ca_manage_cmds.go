package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"edgecert/internal/atomicfile"
	"edgecert/internal/ca"
)

func newCATemplateCmd(env *Env) *cobra.Command {
	c := &cobra.Command{Use: "template", Short: "Certificate templates: list, show, set"}
	var dir, output string
	list := &cobra.Command{
		Use:     "list --dir DIR [-o table|json|yaml]",
		Short:   "List the CA's templates (and the template files it cannot use)",
		Example: `  edgecert ca template list --dir ca`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			ts, problems, err := ca.ListTemplates(dir)
			if err != nil {
				return caErr(err)
			}
			infos := make([]ca.TemplateInfo, 0, len(ts)+len(problems))
			for _, t := range ts {
				infos = append(infos, t.Info())
			}
			for _, p := range problems { // listed, so that the administrator sees why it is not offered
				infos = append(infos, ca.TemplateInfo{Name: p.Name, Error: p.Err.Error()})
			}
			return render(env.Out, output, infos, func(w io.Writer, width int) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "NAME\tDISPLAY NAME\tEKU\tVALIDITY\tAPPROVAL\tENROLL")
				for _, t := range infos {
					if t.Error != "" {
						tableRow(tw, t.Name, "INVALID, skipped: "+t.Error, "-", "-", "-", "-")
						continue
					}
					enroll := strings.Join(t.Enroll, ",")
					if enroll == "" {
						enroll = "(administrators only)"
					}
					tableRow(tw, t.Name, t.DisplayName, strings.Join(t.EKU, ","), t.Validity, t.Approval, enroll)
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
	o := &caCommon{}
	var validity, copyFrom, preTopo, preOverlay string
	var enroll, users, dns, ips, sources []string
	var approval, public, ipSANs, wildcard, clearDNS, clearIP, clearPreauth bool
	cmd := &cobra.Command{
		Use:   "set --dir DIR NAME [--enroll GROUP...] [--approval] [--validity DURATION]",
		Short: "Change a template (or create one as a copy of another)",
		Long: `Change a template: who may enroll (--enroll groups, --enroll-user users;
administrators always may), whether a CA administrator must approve
(--approval, --approval=false), the validity, the allowed DNS name patterns
("contoso.com", "*.contoso.com"; none: any name), whether requests may
carry IP address SANs (--ip-sans, --ip-sans=false; off in the shipped
templates) and which addresses or networks (--allow-ip 10.0.0.0/24, which
turns IP SANs on; once DNS names are restricted, an IP SAN must be inside
one of them), whether wildcard SANs are allowed (--wildcard-sans,
--wildcard-sans=false), the zlint sources (RFC5280 always; CABF_BR for
publicly-trusted-style templates). Only the flags given change.
--copy-from creates NAME as a copy of another template.

--acme-preauthorize-topology FILE (with --acme-preauthorize-overlay FILE)
makes the names that the topology's plan puts in an internal certificate of
a server valid without an ACME challenge for accounts of that server's
operator groups (operators: in the topology; docs/acme.md says the risk).
The files are read and planned now; a topology that does not load or plan
is refused. Off by default; --clear-acme-preauthorize turns it off.

A restriction is removed only by its --clear-* flag (--clear-allow-dns,
--clear-allow-ip), never by an empty value; a DNS pattern that can never
match (".contoso.com", "a..b", "*a.contoso.com") is refused. Every change
is written to the CA's audit log with each changed setting before and
after ('edgecert ca audit').`,
		Example: `  # let the Lync administrators enroll in WebServer
  edgecert ca template set --dir ca WebServer --enroll RTCUniversalServerAdmins

  # restrict names and require approval
  edgecert ca template set --dir ca WebServer --allow-dns contoso.com --allow-dns '*.contoso.com' --approval

  # any DNS name again (the restriction is removed explicitly)
  edgecert ca template set --dir ca WebServer --clear-allow-dns

  # IP address SANs from one network only, and no wildcards
  edgecert ca template set --dir ca WebServer --allow-ip 10.0.0.0/24 --wildcard-sans=false

  # a publicly-trusted-style template, linted with the CA/Browser Forum rules
  edgecert ca template set --dir ca PublicWeb --copy-from WebServer --publicly-trusted --validity 199d

  # pre-authorize the topology's server names for their operators' ACME accounts, and turn it off
  edgecert ca template set --dir ca WebServer --acme-preauthorize-topology topology.yaml
  edgecert ca template set --dir ca WebServer --clear-acme-preauthorize`,
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
			for _, l := range []struct {
				flag, clear string
				list        *[]string
				clearIt     bool
				dst         **[]string
			}{{"allow-dns", "clear-allow-dns", &dns, clearDNS, &ch.AllowedDNS}, {"allow-ip", "clear-allow-ip", &ips, clearIP, &ch.AllowedIPs}} {
				switch {
				case f.Changed(l.flag) && l.clearIt:
					return invalidInput(fmt.Errorf("--%s and --%s contradict each other", l.flag, l.clear))
				case f.Changed(l.flag) && len(*l.list) == 0:
					return invalidInput(fmt.Errorf("--%s '' is empty: to remove the restriction, use --%s", l.flag, l.clear))
				case f.Changed(l.flag):
					*l.dst = l.list
				case l.clearIt:
					*l.dst = &[]string{}
				}
			}
			if f.Changed("ip-sans") {
				ch.AllowIP = &ipSANs
			}
			if f.Changed("wildcard-sans") {
				ch.AllowWildcard = &wildcard
			}
			if f.Changed("lint-source") {
				ch.LintSources = &sources
			}
			if f.Changed("publicly-trusted") {
				ch.PubliclyTrusted = &public
			}
			pa, err := preauthChange(f.Changed("acme-preauthorize-topology"), f.Changed("acme-preauthorize-overlay"), clearPreauth, preTopo, preOverlay)
			if err != nil {
				return invalidInput(err)
			}
			ch.ACMEPreauthorize = pa
			if f.Changed("validity") {
				d, err := ca.ParseDuration(validity)
				if err != nil {
					return invalidInput(fmt.Errorf("--validity: %w", err))
				}
				ch.Validity = &d
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			t, err := e.SetTemplate(env.Ctx, ca.Operator(), args[0], ch)
			if err != nil {
				if errors.Is(err, ca.ErrConflict) {
					return invalidInput(err)
				}
				return caErr(err)
			}
			i := t.Info()
			enroll := strings.Join(i.Enroll, ",")
			if enroll == "" {
				enroll = "(administrators only)"
			}
			fmt.Fprintf(env.Out, "template %s: validity %s, approval %v, enroll %s\n", t.Name, i.Validity, i.Approval, enroll)
			return nil
		},
	}
	o.add(cmd, false)
	f := cmd.Flags()
	f.StringSliceVar(&enroll, "enroll", nil, "groups with Enroll permission (repeatable; replaces the list)")
	f.StringSliceVar(&users, "enroll-user", nil, "users with Enroll permission (repeatable; replaces the list)")
	f.BoolVar(&approval, "approval", false, "a CA administrator must approve each request")
	f.StringVar(&validity, "validity", "", "certificate validity (e.g. 2y, 397d, 720h)")
	f.StringSliceVar(&dns, "allow-dns", nil, "allowed DNS name patterns (repeatable; replaces the list)")
	f.BoolVar(&clearDNS, "clear-allow-dns", false, "remove the DNS name restriction: any name")
	f.StringSliceVar(&ips, "allow-ip", nil, "allowed IP SAN addresses or networks (repeatable; replaces the list; turns IP SANs on)")
	f.BoolVar(&clearIP, "clear-allow-ip", false, "remove the list of allowed IP SAN addresses")
	f.BoolVar(&ipSANs, "ip-sans", false, "requests may carry IP address SANs")
	f.BoolVar(&wildcard, "wildcard-sans", false, "requests may carry wildcard DNS SANs (*.contoso.com)")
	f.StringSliceVar(&sources, "lint-source", nil, "zlint sources that must pass (RFC5280, CABF_BR, ...)")
	f.BoolVar(&public, "publicly-trusted", false, "lint with the CA/Browser Forum Baseline Requirements too")
	f.StringVar(&copyFrom, "copy-from", "", "create NAME as a copy of this template")
	f.StringVar(&preTopo, "acme-preauthorize-topology", "", "pre-authorize this topology's server names for ACME accounts of their operators")
	f.StringVar(&preOverlay, "acme-preauthorize-overlay", "", "the overlay of --acme-preauthorize-topology")
	f.BoolVar(&clearPreauth, "clear-acme-preauthorize", false, "turn ACME pre-authorization off")
	return cmd
}

// preauthChange is the template change of the --*acme-preauthorize* flags:
// nil when none is given; paths made absolute, so that the CA reads the
// files the operator named wherever it runs from.
func preauthChange(topoSet, overlaySet, clear bool, topo, overlay string) (*ca.ACMEPreauth, error) {
	switch {
	case clear && (topoSet || overlaySet):
		return nil, errors.New("--clear-acme-preauthorize and --acme-preauthorize-topology/--acme-preauthorize-overlay contradict each other")
	case clear:
		return &ca.ACMEPreauth{}, nil
	case overlaySet && !topoSet:
		return nil, errors.New("--acme-preauthorize-overlay needs --acme-preauthorize-topology")
	case !topoSet:
		return nil, nil
	case topo == "" || overlaySet && overlay == "":
		return nil, errors.New("--acme-preauthorize-topology '' is empty: to turn pre-authorization off, use --clear-acme-preauthorize")
	}
	out := &ca.ACMEPreauth{}
	var err error
	if out.Topology, err = filepath.Abs(topo); err != nil {
		return nil, err
	}
	if overlay != "" {
		if out.Overlay, err = filepath.Abs(overlay); err != nil {
			return nil, err
		}
	}
	return out, nil
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
				p, err := readRequiredSecret(env, pwFile, "password")
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
	c.AddCommand(newCAUserChangeCmds(env)...)
	return c
}

func newCAUserTokenCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var out string
	cmd := &cobra.Command{
		Use:   "token --dir DIR NAME [--out FILE]",
		Short: "Create an API bearer token for a user (only its hash is kept); list and revoke tokens",
		Example: `  edgecert ca user token --dir ca alice --out alice.token
  edgecert ca user token revoke --dir ca alice --all
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
				fmt.Fprintf(env.Err, "token id %s (to revoke it: edgecert ca user token revoke --id %s)\n", ca.TokenID(tok), ca.TokenID(tok))
				_, err := fmt.Fprintln(env.Out, tok)
				return err
			}
			if err := atomicfile.Write(out, []byte(tok+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "token for %s written to %s (id %s)\n", args[0], out, ca.TokenID(tok))
			return nil
		},
	}
	cmd.AddCommand(newCAUserTokenRevokeCmd(env), newCAUserTokenListCmd(env))
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
			return render(env.Out, output, us, func(w io.Writer, width int) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "NAME\tGROUPS\tADMIN\tPASSWORD\tDISABLED")
				for _, u := range us {
					tableRow(tw, u.Name, strings.Join(u.Groups, ","), u.Admin, u.HasPassword, u.Disabled)
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
	c := &cobra.Command{Use: "pending", Short: "Requests waiting for approval: list, show, approve, deny"}
	lo := &caCommon{}
	var output string
	list := &cobra.Command{
		Use:   "list --dir DIR [-o table|json|yaml]",
		Short: "List pending requests with every name they ask for",
		Long: `List the requests waiting for approval, with what an approver decides on:
the subject, every subject alternative name, the key, the template and the
requester.`,
		Example: `  edgecert ca pending list --dir ca
  edgecert ca pending list --dir ca -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			e, err := lo.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			var rs []ca.Result
			for pg := (ca.Page{}); ; {
				page, next, err := e.Requests(env.Ctx, ca.Operator(), ca.StatusPending, pg)
				if err != nil {
					return caErr(err)
				}
				rs = append(rs, page...)
				if next == 0 {
					break
				}
				pg.Before = next
			}
			return render(env.Out, output, rs, func(w io.Writer, width int) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "ID\tREQUESTER\tTEMPLATE\tSUBJECT\tSANS\tKEY\tSUBMITTED")
				for _, r := range rs {
					tableRow(tw, r.RequestID, r.Requester, r.Template, r.Subject, strings.Join(r.SANs, ", "), r.Key, r.Submitted.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	lo.add(list, false)
	addOutputFlag(list, &output)
	c.AddCommand(list, newCAPendingShowCmd(env), newCAPendingDecideCmd(env, true), newCAPendingDecideCmd(env, false))
	return c
}

// newCAPendingShowCmd is `ca pending show ID`: one request as an approver sees it.
func newCAPendingShowCmd(env *Env) *cobra.Command {
	o := &caCommon{}
	var output string
	cmd := &cobra.Command{
		Use:   "show --dir DIR ID [-o table|json|yaml]",
		Short: "Show one request: subject, every name, key, template, requester, status",
		Long: `Show one request as an approver decides on it: its subject, every subject
alternative name and the key it asks for (or, once issued, of its
certificate), the template, the requester and its status now.`,
		Example: `  edgecert ca pending show --dir ca 42
  edgecert ca pending show --dir ca 42 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			id, err := caParseID(args[0])
			if err != nil {
				return err
			}
			e, err := o.open(env, false)
			if err != nil {
				return err
			}
			defer e.Close()
			r, err := e.Request(env.Ctx, ca.Operator(), id)
			if err != nil {
				return caErr(err)
			}
			return render(env.Out, output, r, func(w io.Writer, width int) error {
				tw := newTable(w)
				row := func(k, v string) { tableRow(tw, k, v) }
				row("REQUEST", strconv.FormatInt(r.RequestID, 10))
				row("STATUS", string(r.Status))
				row("SUBJECT", r.Subject)
				row("SANS", strings.Join(r.SANs, ", "))
				row("KEY", r.Key)
				row("TEMPLATE", r.Template)
				row("REQUESTER", r.Requester)
				row("SUBMITTED", r.Submitted.UTC().Format(time.RFC3339))
				if r.Serial != "" {
					row("SERIAL", r.Serial)
				}
				if r.Reason != "" {
					row("REASON", r.Reason)
				}
				return tw.Flush()
			})
		},
	}
	o.add(cmd, false)
	addOutputFlag(cmd, &output)
	return cmd
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
				if err := atomicfile.Write(out, data, 0o644); err != nil {
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
