package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"edgecert/internal/acme"
	"edgecert/internal/apply"
	"edgecert/internal/apply/demo"
	"edgecert/internal/ca"
	"edgecert/internal/plan"
	"edgecert/internal/proxy"
	"edgecert/internal/readlimit"
	"edgecert/internal/store"
	"edgecert/internal/topology"
	"edgecert/internal/verify"
)

// applyCommands returns apply, status, verify, renew, proxy and demo.
func applyCommands(env *Env) []*cobra.Command {
	px := &cobra.Command{
		Use:     "proxy",
		Short:   "Configure a real reverse HTTP proxy from the plan",
		Example: `  edgecert proxy nginx -t topology.yaml --workspace ws --server rp01.contoso.com --out /etc/nginx/edgecert`,
	}
	px.AddCommand(newProxyNginxCmd(env))
	return []*cobra.Command{newApplyCmd(env), newStatusCmd(env), newVerifyCmd(env), newRenewCmd(env), px, newDemoCmd(env)}
}

// topoFlags name the topology and the workspace.
type topoFlags struct{ topology, overlay, workspace string }

func (f *topoFlags) add(cmd *cobra.Command, workspace bool) {
	cmd.Flags().StringVarP(&f.topology, "topology", "t", "", "topology file (YAML, .tbxml or Get-CsTopology -AsXml)")
	cmd.Flags().StringVar(&f.overlay, "overlay", "", "YAML overlay for a Topology Builder document")
	_ = cmd.MarkFlagRequired("topology")
	if workspace {
		cmd.Flags().StringVar(&f.workspace, "workspace", "", "workspace directory: one store per server in DIR/servers/<fqdn>/")
	}
}

// plan loads and plans the topology; what the loader filled in is noted on
// stderr, since these commands do not print the plan.
func (f *topoFlags) plan(env *Env) (*plan.Plan, error) {
	p, warnings, err := loadPlanNoting(env.Err, f.topology, f.overlay)
	noteWarnings(env.Err, warnings)
	return p, err
}

func (f *topoFlags) open(env *Env) (*plan.Plan, *apply.Workspace, error) {
	if f.workspace == "" {
		return nil, nil, invalidInput(errors.New("--workspace DIR is required"))
	}
	return f.openWith(env, true)
}

// openExisting is open for commands that only read a workspace: a missing
// one is an error, not created.
func (f *topoFlags) openExisting(env *Env) (*plan.Plan, *apply.Workspace, error) {
	if f.workspace == "" {
		return nil, nil, invalidInput(errors.New("--workspace DIR is required"))
	}
	if _, err := os.Stat(f.workspace); err != nil {
		return nil, nil, invalidInput(fmt.Errorf("--workspace: %w (run edgecert apply first)", err))
	}
	return f.openWith(env, false)
}

func (f *topoFlags) openWith(env *Env, _ bool) (*plan.Plan, *apply.Workspace, error) {
	p, err := f.plan(env)
	if err != nil {
		return nil, nil, err
	}
	ws, err := apply.OpenWorkspace(f.workspace, store.Options{Now: env.Now, Rand: env.Rand})
	if err != nil {
		return nil, nil, err
	}
	return p, ws, nil
}

// issuerFlags choose the internal CA: its API or its directory.
type issuerFlags struct {
	ca                    caFlags
	caDir, passFile, user string
}

func (f *issuerFlags) add(cmd *cobra.Command) {
	f.ca.add(cmd, true)
	cmd.Flags().StringVar(&f.caDir, "ca-dir", "", "directory of a CA on this machine (instead of --ca URL)")
	cmd.Flags().StringVar(&f.passFile, "passphrase-file", "", "file holding the CA key passphrase (with --ca-dir)")
	cmd.Flags().StringVar(&f.user, "as", "", "CA user to enroll as (with --ca-dir; default: the local operator, an administrator)")
}

func (f *issuerFlags) given() bool { return f.ca.url != "" || f.caDir != "" }

// open returns the issuer (nil when none is given) and its closer.
func (f *issuerFlags) open(ctx context.Context, env *Env) (apply.Issuer, func(), error) {
	switch {
	case f.ca.url != "" && f.caDir != "":
		return nil, nil, invalidInput(errors.New("give either --ca URL or --ca-dir DIR, not both"))
	case f.ca.url != "":
		c, err := f.ca.client(env)
		if err != nil {
			return nil, nil, err
		}
		return apply.RemoteCA(c), func() {}, nil
	case f.caDir != "":
		pass, err := readCAPassphrase(env, f.passFile)
		if err != nil {
			return nil, nil, err
		}
		e, err := ca.Open(ctx, f.caDir, ca.OpenOptions{Passphrase: pass, Now: env.Now, Rand: env.Rand})
		if err != nil {
			return nil, nil, fmt.Errorf("open the CA in %s: %w", f.caDir, err)
		}
		// Whoever holds the CA folder and its passphrase is the CA
		// operator; --as acts as one user of the CA instead.
		p, err := caPrincipal(ctx, e, f.user)
		if err != nil {
			e.Close()
			return nil, nil, invalidInput(fmt.Errorf("--as %s: %w", f.user, err))
		}
		return apply.LocalCA(e, p), func() { e.Close() }, nil
	}
	return nil, func() {}, nil
}

type applyOptions struct {
	tf                              topoFlags
	acmePass                        string
	iss                             issuerFlags
	dryRun, requireRevocation       bool
	responses                       []string
	output                          string
	server, storeDir, exchange, tpf string
}

func newApplyCmd(env *Env) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Request, issue, install, copy, assign and verify every certificate of the plan",
		Long: `apply carries out the plan on a workspace with one store per server, in the
order of the Lync procedures (R39, R43-R48, R57-R60): import the CA chain on
every server; create each request on the plan's request_on server; have it
issued by the internal CA (--ca URL or --ca-dir DIR) or, for a public CA,
order it from the ACME CA of the topology's acme: block (docs/topology.md;
the account key is made once, sealed, in DIR/acme/; challenge records are
always removed, also after a kill) or, without that block, write it to
DIR/outbox/ and wait for 'apply --import-response FILE'; copy
the certificate with its key (which must be exportable) to the other
members, store to store in a workspace and as a .pfx with a random password
between machines; assign the usages on every server; verify.

Exit status 0 when every certificate is done and verified, 3 when
verification found problems, 4 when certificates wait on someone else (a
public CA's answer in DIR/outbox/, an approval at the CA): run apply again
once they have answered.

With --ca-dir, whoever holds the CA folder and its passphrase acts as the CA
operator (an administrator); --as USER enrolls as one user of the CA instead.

apply is idempotent and resumable: run it again to finish what is missing; it
never makes a second key for a certificate that has one. One apply (or
renew) works on a workspace at a time: a second one is refused at once,
naming the process that holds DIR/apply.lock.

With --server FQDN --store DIR --exchange SHARE, apply does one server's part
when servers are separate machines: the first server of a pool writes the
.pfx to SHARE, the others import it (transfer password out of band, with
--transfer-password-file).

Unless the environment sets GOMAXPROCS, apply runs with twice the CPUs as
Ps: store commits block threads in fsync and file creation, and key
generation keeps every core busy meanwhile.`,
		Example: `  edgecert apply -t topology.yaml --workspace ws --ca-dir ca --passphrase-file ca.pass
  edgecert apply -t topology.yaml --workspace ws --ca https://ca.contoso.net:8443 --token-file token
  edgecert apply -t topology.yaml --workspace ws --import-response sip.p7b --ca-dir ca
  edgecert apply -t topology.yaml --workspace ws --dry-run
  edgecert apply -t topology.yaml --server edge02.contoso.net --store /srv/store --exchange /mnt/share --transfer-password-file pw`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runApply(c.Context(), env, o) },
	}
	o.tf.add(cmd, true)
	o.iss.add(cmd)
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the steps without changing anything")
	cmd.Flags().StringArrayVar(&o.responses, "import-response", nil, "a .cer or .p7b a public CA returned (repeatable)")
	cmd.Flags().StringVar(&o.server, "server", "", "server mode: the FQDN of this machine")
	cmd.Flags().StringVar(&o.storeDir, "store", "", "server mode: this machine's store")
	cmd.Flags().StringVar(&o.exchange, "exchange", "", "server mode: folder shared by the servers of a pool")
	cmd.Flags().StringVar(&o.tpf, "transfer-password-file", "", "server mode: file with the .pfx transfer password")
	cmd.Flags().BoolVar(&o.requireRevocation, "require-revocation", false, "fail when a CRL or OCSP responder is unreachable")
	cmd.Flags().StringVarP(&o.output, "output", "o", formatTable, "output: table (progress on stderr) or json (JSON lines)")
	addACMEFlag(cmd, &o.acmePass)
	return cmd
}

func runApply(ctx context.Context, env *Env, o *applyOptions) error {
	tuneRuntime()
	if o.output != formatTable && o.output != formatJSON {
		return invalidInput(fmt.Errorf("unknown output format %q: use table or json", o.output))
	}
	if _, err := o.tf.plan(env); err != nil { // bad input changes nothing
		return err
	}
	if !o.iss.given() && !o.dryRun && len(o.responses) == 0 && o.server == "" {
		return invalidInput(errors.New("give the internal CA: --ca URL --token-file F, or --ca-dir DIR"))
	}
	iss, closeCA, err := o.iss.open(ctx, env)
	if err != nil {
		return err
	}
	defer closeCA()
	p, ws, err := o.workspace(env)
	if err != nil {
		return err
	}
	opts := apply.Options{Now: env.Now, Rand: env.Rand, Issuer: iss, DryRun: o.dryRun,
		Verify: verify.Options{RequireRevocation: o.requireRevocation}}
	end := setProgress(env, o.output, &opts)
	// A dry run says what would be ordered, without contacting the CA.
	if opts.PublicCA, err = openPublicCA(ctx, env, &o.tf, ws, o.acmePass, o.dryRun); err != nil {
		return err
	}
	if o.tpf != "" {
		if opts.TransferPassword, err = readSecretFile(env, o.tpf, "transfer password"); err != nil {
			return err
		}
	}
	if len(o.responses) > 0 {
		var files []apply.Response
		for _, f := range o.responses {
			b, err := readlimit.File(f, readlimit.CertificateFile)
			if err != nil {
				return invalidInput(fmt.Errorf("--import-response: %w", err))
			}
			files = append(files, apply.Response{Name: f, Data: b})
		}
		if _, err := apply.ImportResponses(ctx, p, ws, files, opts); err != nil {
			return applyErr(err)
		}
	}
	res, err := apply.Run(ctx, p, ws, opts)
	end()
	if err != nil && res == nil {
		return applyErr(err)
	}
	if werr := writeApplyResult(env, o.output, res, o.dryRun); werr != nil {
		return werr
	}
	if err != nil {
		return applyErr(err)
	}
	return applyOutcome(res, o.dryRun)
}

// applyOutcome is the exit of a run that finished: 3 when verification
// found problems, 4 when certificates wait on someone else (a public CA's
// answer, an approval), else 0.
func applyOutcome(res *apply.Result, dry bool) error {
	if res.Report != nil && res.Report.Failed() {
		return fmt.Errorf("%w: run edgecert verify for the details", errVerifyFailed)
	}
	if len(res.Waiting) > 0 && !dry {
		return &exitError{code: ExitWaiting, err: errSilent}
	}
	return nil
}

func (o *applyOptions) workspace(env *Env) (*plan.Plan, *apply.Workspace, error) {
	if o.server == "" && o.storeDir == "" && o.exchange == "" {
		return o.tf.open(env)
	}
	if o.tf.workspace != "" {
		return nil, nil, invalidInput(errors.New("--workspace and --server/--store/--exchange exclude each other"))
	}
	p, err := o.tf.plan(env)
	if err != nil {
		return nil, nil, err
	}
	ws, err := apply.OpenServer(o.server, o.storeDir, o.exchange, store.Options{Now: env.Now, Rand: env.Rand})
	if err != nil {
		return nil, nil, applyErr(err)
	}
	return p, ws, nil
}

func applyErr(err error) error {
	if errors.Is(err, apply.ErrInvalidInput) || errors.Is(err, store.ErrInvalidInput) || errors.Is(err, acme.ErrInvalidInput) {
		return invalidInput(err)
	}
	return err
}

// setProgress shows events as JSON lines on stdout (-o json), or on
// stderr per certificate in plan order with an n/N count and, on a
// terminal, a progress bar (runProgress). The returned end prints what is
// left once the run is over.
func setProgress(env *Env, format string, opts *apply.Options) (end func()) {
	if format == formatJSON {
		enc := json.NewEncoder(env.Out)
		enc.SetEscapeHTML(false)
		opts.Progress = func(e apply.Event) { _ = enc.Encode(e) }
		return func() {}
	}
	rp := newRunProgress(env.Err, env.TTY && isTerminal(env.Err))
	opts.Progress, opts.Tracker = rp.Event, rp
	return rp.End
}

func writeApplyResult(env *Env, format string, res *apply.Result, dry bool) error {
	if format == formatJSON {
		enc := json.NewEncoder(env.Out)
		enc.SetEscapeHTML(false)
		return enc.Encode(map[string]any{"result": res})
	}
	if dry {
		_, err := fmt.Fprintf(env.Out, "Dry run: %d certificates; nothing was changed.\n", len(res.Waiting))
		return err
	}
	fmt.Fprintf(env.Out, "%d certificates done", len(res.Done))
	if len(res.Waiting) > 0 {
		fmt.Fprintf(env.Out, ", %d waiting", len(res.Waiting))
	}
	if len(res.Failed) > 0 {
		fmt.Fprintf(env.Out, ", %d failed", len(res.Failed))
	}
	fmt.Fprintln(env.Out)
	for _, id := range sortedKeys(res.Waiting) {
		fmt.Fprintf(env.Out, "  waiting: %s: %s\n", id, res.Waiting[id])
	}
	for _, id := range sortedKeys(res.Failed) {
		fmt.Fprintf(env.Out, "  failed:  %s: %s\n", id, res.Failed[id])
	}
	if res.Report != nil {
		fmt.Fprintf(env.Out, "verify: %d checks, %d errors, %d warnings\n", res.Report.Checked, res.Report.Errors(), res.Report.Warnings())
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newStatusCmd(env *Env) *cobra.Command {
	var tf topoFlags
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each step of each certificate on each server, and what is left",
		Long: `status shows, per site, certificate and server, a mark for each step: chain
imported, requested, issued, imported, imported on the members, assigned and
verified, and says "Run again" until every certificate is requested,
installed, assigned and verified (R49). For each public certificate ordered
from an ACME CA it shows the order's step (order pending, challenge waiting,
valid, failed) and, when it failed, the CA's problem type and detail and the
record or URL that was checked. It changes nothing.

Exit status 0 when every certificate is done, 4 while work is left.`,
		Example: `  edgecert status -t topology.yaml --workspace ws
  edgecert status -t topology.yaml --workspace ws -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			p, ws, err := tf.openExisting(env)
			if err != nil {
				return err
			}
			rep, err := apply.Status(p, ws)
			if err != nil {
				return err
			}
			if err := render(env.Out, output, rep, func(w io.Writer, width int) error { return apply.WriteStatusTable(w, rep, width) }); err != nil {
				return err
			}
			if !rep.Complete {
				return &exitError{code: ExitWaiting, err: errSilent}
			}
			return nil
		},
	}
	tf.add(cmd, true)
	addOutputFlag(cmd, &output)
	return cmd
}

type verifyOptions struct {
	tf                      topoFlags
	live, requireRevocation bool
	skipRevocation          bool
	endpoints, certificates []string
	snapshots               []string
	output                  string
	warnDays, concurrency   int
}

func newVerifyCmd(env *Env) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove that every server holds, assigns (and serves) the planned certificates",
		Long: `verify checks, for every server and usage of the plan: a certificate is
assigned; its key is present and matches; every planned name is present
(extra names are warnings; names compare as sets, case-insensitively); EKU and
key usage; key algorithm and size; valid now (warning under 30 days); the
chain builds to the server's root location; not revoked (CRL from the CDP, or
OCSP); pool members hold the same certificate (R27, R38, R58). With an acme:
block, a public certificate's missing clientAuth or keyEncipherment (which
ACME CAs no longer include) is a warning, not a failure.

--live also connects over TLS to each endpoint of the plan (or NAME=ADDR from
--endpoint, NAME being a certificate id, an endpoint host or a planned name),
with SNI for every planned name, and checks the served chain, names and expiry.

--snapshot FILE (repeatable, instead of --workspace) runs the same checks
against what the real Windows servers hold: each file is one server's
snapshot, written there by Collect-EdgecertSnapshot.ps1 (edgecert export
snapshot-script): its Root, CA and My stores and its Get-CsCertificate
assignments. A reverse proxy's certificate is the newest one in My with a
key that carries every planned name. Servers without a snapshot are warnings.

Exit status 3 when anything fails; each failure names the server, usage,
rule and fix.`,
		Example: `  edgecert verify -t topology.yaml --workspace ws
  edgecert verify -t topology.yaml --workspace ws --live --certificate reverse-proxy/rp-redmond \
      --endpoint reverse-proxy/rp-redmond=127.0.0.1:8443 -o json
  edgecert verify -t examples/edge-pool-dns.yaml --snapshot edge01.snapshot.json --snapshot edge02.snapshot.json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if len(o.snapshots) > 0 {
				return runVerifySnapshots(c.Context(), env, o)
			}
			return runVerify(c.Context(), env, o)
		},
	}
	o.tf.add(cmd, true)
	cmd.Flags().BoolVar(&o.live, "live", false, "also connect to the TLS endpoints")
	cmd.Flags().StringArrayVar(&o.snapshots, "snapshot", nil, "a server's snapshot from Collect-EdgecertSnapshot.ps1, instead of --workspace (repeatable)")
	cmd.Flags().StringArrayVar(&o.endpoints, "endpoint", nil, "NAME=ADDR: where to connect for a certificate id, endpoint or name (repeatable)")
	cmd.Flags().StringArrayVar(&o.certificates, "certificate", nil, "check only this certificate id of the plan (repeatable)")
	cmd.Flags().BoolVar(&o.requireRevocation, "require-revocation", false, "an unreachable CRL or OCSP responder is an error, not a warning")
	cmd.Flags().BoolVar(&o.skipRevocation, "skip-revocation", false, "do not check revocation")
	cmd.Flags().IntVar(&o.warnDays, "warn-days", 30, "warn when a certificate expires within this many days")
	cmd.Flags().IntVar(&o.concurrency, "concurrency", 64, "live probes at once")
	addOutputFlag(cmd, &o.output)
	return cmd
}

func runVerify(ctx context.Context, env *Env, o *verifyOptions) error {
	if err := checkFormat(o.output); err != nil {
		return err
	}
	p, ws, err := o.tf.openExisting(env)
	if err != nil {
		return err
	}
	overrides, err := parseEndpoints(o.endpoints)
	if err != nil {
		return err
	}
	vo := verify.Options{Now: env.Now, RequireRevocation: o.requireRevocation, SkipRevocation: o.skipRevocation,
		WarnDays: o.warnDays, Certificates: o.certificates, PublicACME: hasACME(&o.tf)}
	for _, id := range o.certificates {
		if !planHas(p, id) {
			return invalidInput(fmt.Errorf("--certificate %s: no such certificate in the plan (see edgecert plan)", id))
		}
	}
	rep, err := verify.Offline(ctx, p, ws.Store, vo)
	if err != nil {
		return err
	}
	if o.live {
		targets, err := verify.Targets(p, overrides, rootsFromStores(p, ws))
		if err != nil {
			return invalidInput(err)
		}
		for i := range targets {
			targets[i].Stored = storedCerts(p, ws, targets[i].Certificate)
		}
		vo.Concurrency = o.concurrency
		rep.Merge(verify.Live(ctx, p, targets, vo))
	}
	fillFixPaths(rep, &o.tf, ws)
	if err := render(env.Out, o.output, rep, func(w io.Writer, width int) error { return verify.WriteTable(w, rep, width) }); err != nil {
		return err
	}
	if rep.Failed() {
		return fmt.Errorf("%w: %d errors", errVerifyFailed, rep.Errors())
	}
	return nil
}

// fillFixPaths puts the real topology, workspace and store paths into
// the report's fix lines, so that they run as printed.
func fillFixPaths(rep *verify.Report, tf *topoFlags, ws *apply.Workspace) {
	args := "-t " + shellWord(tf.topology)
	if tf.overlay != "" {
		args += " --overlay " + shellWord(tf.overlay)
	}
	args += " --workspace " + shellWord(ws.Dir)
	rep.FillPaths(args, func(server string) string {
		if server == "" || strings.ContainsAny(server, " :") {
			return "" // not a server of the workspace (a live address)
		}
		return shellWord(ws.StoreDir(server))
	})
}

// storedCerts returns the certificates the stores of certificate id's
// servers assign to its usages.
func storedCerts(p *plan.Plan, ws *apply.Workspace, id string) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range p.Certificates {
		if c.ID != id {
			continue
		}
		for _, srv := range c.Servers {
			st, ok, err := ws.ExistingStore(srv)
			if err != nil || !ok {
				continue
			}
			as, err := st.Assignments()
			if err != nil {
				continue
			}
			for _, a := range as {
				if !contains(c.Usages, a.Usage) {
					continue
				}
				if _, cert, err := st.Certificate(a.Thumbprint); err == nil && !certIn(out, cert) {
					out = append(out, cert)
				}
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func certIn(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

func planHas(p *plan.Plan, id string) bool {
	for _, c := range p.Certificates {
		if c.ID == id {
			return true
		}
	}
	return false
}

func parseEndpoints(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range list {
		name, addr, ok := strings.Cut(e, "=")
		if !ok || name == "" || addr == "" {
			return nil, invalidInput(fmt.Errorf("--endpoint %q: use NAME=HOST:PORT", e))
		}
		out[strings.ToLower(name)] = addr
	}
	return out, nil
}

// rootsFromStores trusts, for a certificate, the roots of its servers' stores.
func rootsFromStores(p *plan.Plan, ws *apply.Workspace) verify.RootsFunc {
	return func(id string) (*x509.CertPool, error) {
		pool := x509.NewCertPool()
		for _, c := range p.Certificates {
			if c.ID != id {
				continue
			}
			for _, srv := range c.Servers {
				st, ok, err := ws.ExistingStore(srv)
				if err != nil || !ok {
					continue
				}
				for _, cert := range storeRoots(st) {
					pool.AddCert(cert)
				}
			}
		}
		return pool, nil
	}
}

func storeRoots(st *store.Store) []*x509.Certificate {
	es, err := st.List(store.Root)
	if err != nil {
		return nil
	}
	var out []*x509.Certificate
	for _, e := range es {
		if _, c, err := st.Certificate(e.Thumbprint); err == nil {
			out = append(out, c)
		}
	}
	return out
}

type renewOptions struct {
	tf           topoFlags
	iss          issuerFlags
	within       string
	dryRun       bool
	output       string
	certificates []string
	acmePass     string
	metricsFile  string
	onChange     string
}

func newRenewCmd(env *Env) *cobra.Command {
	o := &renewOptions{}
	cmd := &cobra.Command{
		Use:   "renew",
		Short: "Re-request and roll out every certificate that expires within a window",
		Long: `renew re-requests every certificate whose current certificate expires within
--within, or lacks a name the plan now has, with exactly the plan's names,
and rolls it out like apply. For
AudioVideoAuthentication and OAuthTokenIssuer it stages the new certificate
with an effective date (R80-R82: A/V at the old expiry minus 8 hours, OAuth
at least 24 hours before, the longer when both), keeping the current and
previous certificates.

With an acme: block, the public certificates are renewed when their ACME CA
says (ARI, RFC 9773: a random time in its suggested window, cached with its
Retry-After so that a run with nothing near makes no network call), else at
two thirds of their lifetime, and never later than a day before expiry (the
A/V roll keeps its 8 hours); each decision is reported. renew exits 0 when
nothing was due, so it can run from a systemd timer (examples/edgecert-renew.*)
or cron; --metrics-file writes the expiry and renewal status for monitoring
and --on-change runs a command on each server whose certificate changed.`,
		Example: `  edgecert renew -t topology.yaml --workspace ws --within 30d --ca-dir ca --passphrase-file ca.pass
  edgecert renew -t topology.yaml --workspace ws --ca-dir ca --passphrase-file ca.pass \
      --metrics-file /var/lib/prometheus/node-exporter/edgecert.prom --on-change 'systemctl reload nginx'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runRenew(c.Context(), env, o) },
	}
	o.tf.add(cmd, true)
	o.iss.add(cmd)
	cmd.Flags().StringVar(&o.within, "within", "30d", "renew what expires within this duration (30d, 2w, 720h)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be renewed")
	cmd.Flags().StringArrayVar(&o.certificates, "certificate", nil, "consider only this certificate id of the plan (repeatable)")
	cmd.Flags().StringVarP(&o.output, "output", "o", formatTable, "output: table (progress on stderr) or json (JSON lines)")
	cmd.Flags().StringVar(&o.metricsFile, "metrics-file", "", "write per-certificate expiry and renewal status here (Prometheus textfile collector, e.g. /var/lib/prometheus/node-exporter/edgecert.prom)")
	cmd.Flags().StringVar(&o.onChange, "on-change", "", "shell command run after a certificate changed, once per server (env EDGECERT_CERTIFICATE, EDGECERT_SERVER, EDGECERT_THUMBPRINT)")
	addACMEFlag(cmd, &o.acmePass)
	return cmd
}

func runRenew(ctx context.Context, env *Env, o *renewOptions) error {
	tuneRuntime()
	within, err := parseWindow(o.within)
	if err != nil {
		return invalidInput(err)
	}
	p, ws, err := o.tf.open(env)
	if err != nil {
		return err
	}
	iss, closeCA, err := o.iss.open(ctx, env)
	if err != nil {
		return err
	}
	defer closeCA()
	for _, id := range o.certificates {
		if !planHas(p, id) {
			return invalidInput(fmt.Errorf("--certificate %s: no such certificate in the plan (see edgecert plan)", id))
		}
	}
	opts := apply.Options{Now: env.Now, Rand: env.Rand, Issuer: iss, DryRun: o.dryRun, Certificates: o.certificates}
	end := setProgress(env, o.output, &opts)
	// Lazy: the CA is contacted only for a certificate whose renewal
	// window is not cached (a dry run asks, and writes nothing).
	if opts.PublicCA, err = openPublicCA(ctx, env, &o.tf, ws, o.acmePass, true); err != nil {
		return err
	}
	res, err := apply.Renew(ctx, p, ws, within, opts)
	end()
	if err != nil && res == nil {
		return applyErr(err)
	}
	if o.metricsFile != "" && !o.dryRun {
		if merr := apply.WriteMetrics(o.metricsFile, p, ws, res, env.Now()); merr != nil {
			return merr
		}
	}
	if o.onChange != "" && !o.dryRun {
		if herr := runOnChange(ctx, env, o.onChange, p, ws, res.Done); herr != nil {
			err = errors.Join(err, herr)
		}
	}
	if werr := writeApplyResult(env, o.output, res, o.dryRun); werr != nil {
		return werr
	}
	if err != nil {
		return applyErr(err)
	}
	return applyOutcome(res, o.dryRun)
}

// parseWindow parses a duration with d (days) and w (weeks) units.
func parseWindow(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("--within %q: use a number of days (30d), weeks (2w) or a Go duration (720h)", s)
			}
			return time.Duration(v * float64(unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--within %q: use a number of days (30d), weeks (2w) or a Go duration (720h)", s)
	}
	return d, nil
}

type proxyOptions struct {
	tf                              topoFlags
	server, out, listen, httpListen string
	upstreams, httpUpstreams        []string
	confD                           bool
}

func newProxyNginxCmd(env *Env) *cobra.Command {
	o := &proxyOptions{}
	cmd := &cobra.Command{
		Use:   "nginx",
		Short: "Write the certificate, key, chain and nginx configuration of a reverse proxy server",
		Long: `proxy nginx writes, for reverse proxy server --server, its planned
certificate (with intermediates), key (mode 0600) and chain files and an
nginx configuration: a TLS listener with the planned certificate and one
server block per publishing rule (each published pool's external web FQDN,
the simple URLs, lyncdiscover, Office Web Apps) forwarding to the internal
web services on 4443 (HTTPS) and 8080 (HTTP), checked against the internal
CA root (R51, R61). Run it with: nginx -p OUT -c OUT/nginx.conf

With --conf-d it writes, instead of nginx.conf, OUT/<server>.conf: the
server blocks alone, every path absolute, no pid, events or logs, for the
distribution's nginx under systemd to include from /etc/nginx/conf.d/.

With an acme: block whose http01 rule covers the proxy's names, each port 80
server also answers /.well-known/acme-challenge/ from the rule's webroot
(nothing else on port 80 changes); before the certificate is issued only the
port 80 servers are written, so run proxy nginx before apply and again after.`,
		Example: `  # a private nginx instance
  edgecert proxy nginx -t topology.yaml --workspace ws --server rp01.contoso.com --out /srv/edgecert-nginx

  # the distribution's nginx: server blocks for /etc/nginx/conf.d/
  edgecert proxy nginx -t topology.yaml --workspace ws --server rp01.contoso.com --out /etc/nginx/edgecert --conf-d
  ln -s /etc/nginx/edgecert/rp01.contoso.com.conf /etc/nginx/conf.d/ && nginx -t && systemctl reload nginx

  edgecert proxy nginx -t topology.yaml --workspace ws --server rp01.contoso.com --out out \
      --listen 127.0.0.1:8443 --http-listen - --upstream pool01.contoso.net=127.0.0.1:9443`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runProxyNginx(env, o) },
	}
	o.tf.add(cmd, true)
	cmd.Flags().StringVar(&o.server, "server", "", "the reverse proxy server (FQDN)")
	cmd.Flags().StringVar(&o.out, "out", "", "output directory")
	cmd.Flags().StringVar(&o.listen, "listen", "0.0.0.0:443", "TLS listen address")
	cmd.Flags().StringVar(&o.httpListen, "http-listen", "0.0.0.0:80", "plain HTTP listen address (- for none)")
	cmd.Flags().StringArrayVar(&o.upstreams, "upstream", nil, "FQDN=HOST:PORT: where to reach a published server's HTTPS (default FQDN:4443)")
	cmd.Flags().StringArrayVar(&o.httpUpstreams, "upstream-http", nil, "FQDN=HOST:PORT: where to reach its HTTP (default FQDN:8080)")
	cmd.Flags().BoolVar(&o.confD, "conf-d", false, "write OUT/<server>.conf, server blocks for the distribution's nginx (/etc/nginx/conf.d/), instead of a whole nginx.conf")
	_ = cmd.MarkFlagRequired("server")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func runProxyNginx(env *Env, o *proxyOptions) error {
	p, ws, err := o.tf.openExisting(env)
	if err != nil {
		return err
	}
	t, err := topology.Load(o.tf.topology, o.tf.overlay)
	if err != nil {
		return invalidInput(err)
	}
	up := proxy.Upstreams{}
	if up.HTTPS, err = parseEndpoints(o.upstreams); err != nil {
		return err
	}
	if up.HTTP, err = parseEndpoints(o.httpUpstreams); err != nil {
		return err
	}
	cfg, err := proxy.FromWorkspace(t, p, ws, o.server, up)
	if errors.Is(err, proxy.ErrNotReverseProxy) || errors.Is(err, proxy.ErrNotInstalled) {
		return invalidInput(err)
	}
	if err != nil {
		return err
	}
	cfg.Dir, cfg.Listen, cfg.HTTPListen = o.out, o.listen, o.httpListen
	cfg.ConfD, cfg.ConfDName = o.confD, strings.ToLower(o.server)+".conf"
	files, err := proxy.WriteNginx(*cfg)
	if err != nil {
		return err
	}
	var all []string
	for i := range files.Certs {
		all = append(all, files.Certs[i], files.Keys[i], files.Chains[i])
	}
	all = append(all, files.Trust, files.Config)
	fmt.Fprintf(env.Out, "wrote %s\n", strings.Join(all, "\n      "))
	if o.confD {
		fmt.Fprintf(env.Out, "include it: ln -s %s /etc/nginx/conf.d/ && nginx -t && systemctl reload nginx\n", files.Config)
		return nil
	}
	fmt.Fprintf(env.Out, "run: nginx -p %s -c %s\n", filepath.Dir(files.Config), files.Config)
	return nil
}

func newDemoCmd(env *Env) *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole procedure on the bundled example, with an embedded CA",
		Long: `demo runs plan, apply, the public CA's round trip, status and verify on the
bundled example topology (examples/demo.yaml) in a temporary directory (or
--dir): an internal CA is initialised in DIR/ca with a generated passphrase,
and a second local CA stands in for the public CA, signing the requests that
apply leaves in the outbox. Nothing needs to be installed beyond edgecert.

The temporary directory, CA keys and passphrase included, is removed when
the demo ends; --dir DIR keeps everything in DIR to explore.`,
		Example: `  edgecert demo
  edgecert demo --dir /tmp/edgecert-demo`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runDemo(c.Context(), env, dir, output) },
	}
	cmd.Flags().StringVar(&dir, "dir", "", "working directory (default: a new temporary directory)")
	addOutputFlag(cmd, &output)
	return cmd
}

func runDemo(ctx context.Context, env *Env, dir, output string) error {
	tuneRuntime()
	if err := checkFormat(output); err != nil {
		return err
	}
	keep := dir != ""
	if !keep {
		d, err := os.MkdirTemp("", "edgecert-demo-")
		if err != nil {
			return err
		}
		dir = d
		// The temporary folder holds CA keys and their passphrase: it
		// goes when the demo ends, whatever the outcome.
		defer os.RemoveAll(d)
	}
	log := env.Err
	o := demo.Options{Dir: dir, Log: log, Now: env.Now, Rand: env.Rand,
		Progress: func(e apply.Event) {
			if e.Status != apply.EventSkipped {
				fmt.Fprintln(log, "   "+apply.FormatEvent(e))
			}
		}}
	res, err := demo.Run(ctx, o)
	if err != nil {
		return err
	}
	v := map[string]any{"dir": res.Dir, "status": res.Status, "verify": res.Report}
	err = render(env.Out, output, v, func(w io.Writer, width int) error {
		fmt.Fprintf(w, "\nStatus (edgecert status -t %s --workspace %s)\n\n", res.Topology, res.Workspace)
		if err := apply.WriteStatusTable(w, res.Status, width); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nVerify (edgecert verify -t %s --workspace %s)\n\n", res.Topology, res.Workspace)
		res.Report.FillPaths("-t "+shellWord(res.Topology)+" --workspace "+shellWord(res.Workspace), func(server string) string {
			return shellWord(filepath.Join(res.Workspace, "servers", strings.ToLower(server)))
		})
		if err := verify.WriteTable(w, res.Report, width); err != nil {
			return err
		}
		if !keep {
			_, err := fmt.Fprintf(w, "\nThe temporary folder %s was removed; run edgecert demo --dir DIR to keep everything\n", res.Dir)
			return err
		}
		_, err := fmt.Fprintf(w, "\nEverything is in %s\n", res.Dir)
		return err
	})
	if err != nil {
		return err
	}
	if res.Report.Failed() {
		return fmt.Errorf("%w: %d errors", errVerifyFailed, res.Report.Errors())
	}
	return nil
}
