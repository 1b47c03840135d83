package cli

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"edgecert/internal/caclient"
	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
	"edgecert/internal/plan"
	"edgecert/internal/readlimit"
	"edgecert/internal/store"
	"edgecert/internal/topology"
)

// requestCommands returns the request command group.
func requestCommands(env *Env) []*cobra.Command {
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Make, show, submit and retrieve certificate requests",
		Long: `Certificate requests (PKCS#10), as the Lync certificate wizard and certreq make
them: the key stays in the store's request location until the issued
certificate is imported, which joins the two in my.

` + storeHelp,
		Example: `  edgecert request new --store /srv/edge1 --from-plan edge-external/lsedge.contoso.net -t examples/edge-pool-dns.yaml --out edge.csr
  edgecert request show edge.csr`,
	}
	cmd.AddCommand(requestNewCmd(env), requestShowCmd(env), requestCheckCmd(env), requestSubmitCmd(env), requestRetrieveCmd(env))
	return []*cobra.Command{cmd}
}

// caFlags are the flags that name a CA and how to trust and authenticate to it.
type caFlags struct {
	url, tokenFile, fingerprint, pinFile, template string
}

func (f *caFlags) add(cmd *cobra.Command, required bool) {
	what := "URL of the CA (https://host:port) to submit to at once"
	if required {
		what = "URL of the CA (https://host:port)"
	}
	cmd.Flags().StringVar(&f.url, "ca", "", what)
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token for the CA (edgecert ca user token)")
	cmd.Flags().StringVar(&f.fingerprint, "ca-fingerprint", "", "SHA-256 fingerprint of the CA root (default: the pinned one, else pin on first use)")
	cmd.Flags().StringVar(&f.pinFile, "pin-file", "", "file of pinned CA fingerprints (default: edgecert/ca-pins.json in the user's configuration directory)")
}

func (f *caFlags) client(env *Env) (*caclient.Client, error) {
	if f.url == "" {
		return nil, invalidInput(errors.New("--ca URL is required"))
	}
	if f.tokenFile == "" {
		return nil, invalidInput(errors.New("--token-file is required with --ca"))
	}
	tok, err := readSecretFile(env, f.tokenFile, "token")
	if err != nil {
		return nil, err
	}
	c, err := caclient.New(f.url, caclient.Options{Token: strings.TrimSpace(tok), Fingerprint: f.fingerprint, PinFile: f.pinFile, Pinned: sayPinned(env)})
	if err != nil {
		return nil, invalidInput(err)
	}
	return c, nil
}

// requestNewOptions are the flags of request new.
type requestNewOptions struct {
	sf                                   storeFlags
	ca                                   caFlags
	cn                                   string
	sans, ips                            []string
	key, friendlyName, template          string
	exportable                           bool
	org, ou, locality, state, country    string
	keyUsage, eku                        []string
	kuCritical, ekuCritical              bool
	fromPlan, topologyFile, overlay, out string
	der                                  bool
}

func requestNewCmd(env *Env) *cobra.Command {
	o := &requestNewOptions{}
	cmd := &cobra.Command{
		Use:   "new (--cn NAME --san NAME... | --from-plan ID -t TOPOLOGY)",
		Short: "Make a key and a certificate request in the store",
		Long: `New makes a private key in the store's request location and writes the
PKCS#10 request (Base64 PEM, or DER with --der). With --from-plan every field
comes from the plan of the topology (subject, names, key, exportability,
friendly name, template, key usage and EKU with their criticality), so no name
is typed by hand. With --ca the request is submitted at once and the issued
certificate imported.

The default key is RSA 2048 and not exportable; the default extensions are
Key Usage digitalSignature+keyEncipherment (critical) and EKU serverAuth (not
critical), as the reverse proxy procedure asks (R56/R57).

` + storeHelp,
		Example: `  # the edge external certificate of the plan, no name typed by hand
  edgecert request new --store /srv/edge1 --from-plan edge-external/lsedge.contoso.net -t examples/edge-pool-dns.yaml --out edge.csr

  # by hand
  edgecert request new --store /srv/rp1 --cn webext.contoso.com --san meet.contoso.com --san dialin.contoso.com \
      --org Contoso --country US --exportable --friendly-name "Reverse Proxy Listener" --eku serverAuth,clientAuth --out rp.csr`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runRequestNew(env, c, o) },
	}
	f := cmd.Flags()
	o.sf.add(cmd)
	f.StringVar(&o.cn, "cn", "", "subject common name")
	f.StringSliceVar(&o.sans, "san", nil, "subject alternative name (repeat or comma-separate; IP addresses become IP SANs)")
	f.StringSliceVar(&o.ips, "ip", nil, "IP address SAN (repeat or comma-separate)")
	f.StringVar(&o.key, "key", "rsa2048", "key: rsa2048, rsa3072, rsa4096, p256 or p384")
	f.BoolVar(&o.exportable, "exportable", false, "mark the private key exportable (needed to copy it to other servers, R10)")
	f.StringVar(&o.friendlyName, "friendly-name", "", "friendly name (unique in the store, R9)")
	f.StringVar(&o.template, "template", "", "certificate template to request (e.g. WebServer)")
	f.StringVar(&o.org, "org", "", "subject organization (O)")
	f.StringVar(&o.ou, "ou", "", "subject organizational unit (OU)")
	f.StringVar(&o.locality, "locality", "", "subject locality (L)")
	f.StringVar(&o.state, "state", "", "subject state or province (ST)")
	f.StringVar(&o.country, "country", "", "subject country (C), two letters")
	f.StringSliceVar(&o.keyUsage, "key-usage", nil, "key usage (default digitalSignature,keyEncipherment; digitalSignature for ECDSA)")
	f.StringSliceVar(&o.eku, "eku", nil, "extended key usage: serverAuth, clientAuth (default serverAuth)")
	f.BoolVar(&o.kuCritical, "key-usage-critical", true, "mark the key usage extension critical")
	f.BoolVar(&o.ekuCritical, "eku-critical", false, "mark the EKU extension critical")
	f.StringVar(&o.fromPlan, "from-plan", "", "take every field from this certificate ID of the plan (needs -t)")
	f.StringVarP(&o.topologyFile, "topology", "t", "", "topology file for --from-plan")
	f.StringVar(&o.overlay, "overlay", "", "YAML overlay of the topology")
	f.StringVar(&o.out, "out", "", "write the request here (default standard output)")
	f.BoolVar(&o.der, "der", false, "write binary DER instead of Base64 PEM")
	o.ca.add(cmd, false)
	return cmd
}

func runRequestNew(env *Env, c *cobra.Command, o *requestNewOptions) error {
	spec, err := o.spec(c)
	if err != nil {
		return err
	}
	var client *caclient.Client
	if o.ca.url != "" {
		if spec.Request.Template == "" {
			return invalidInput(errors.New("--ca submits at once and needs the certificate template: give --template NAME (edgecert ca template list --dir DIR shows them)"))
		}
		if client, err = o.ca.client(env); err != nil {
			return err
		}
	}
	s, err := o.sf.open(env)
	if err != nil {
		return err
	}
	pend, err := s.NewRequest(*spec)
	if err != nil {
		return storeErr(err)
	}
	data := pend.DER
	if !o.der {
		data = csr.EncodePEM(pend.DER)
	}
	if o.out != "" || client == nil {
		if err := writeOutput(env, o.out, data, 0o644); err != nil {
			return err
		}
	}
	exp := "not exportable"
	if pend.Exportable {
		exp = "exportable"
	}
	fmt.Fprintf(env.Err, "request %s made in store %s (%s key, %s)\n", pend.Thumbprint, s.Dir(), spec.Key, exp)
	if client == nil {
		return nil
	}
	resp, err := client.Submit(env.Ctx, pend.DER, pend.Template)
	if err := caClientErr(resp, err); err != nil {
		fmt.Fprintf(env.Err, "the request stays pending in the store; write it again with: edgecert store export --store %s --thumbprint %s --out request.csr\n", s.Dir(), pend.Thumbprint)
		return err
	}
	return handleResponse(env, s, resp, "", &o.ca)
}

// spec builds the request from the flags, or from the plan with --from-plan.
func (o *requestNewOptions) spec(c *cobra.Command) (*store.RequestSpec, error) {
	if o.fromPlan != "" {
		if o.cn != "" || len(o.sans) > 0 {
			return nil, invalidInput(errors.New("--from-plan fills the names: do not give --cn or --san with it"))
		}
		return o.planSpec(c)
	}
	if o.topologyFile != "" {
		return nil, invalidInput(errors.New("-t is used with --from-plan ID"))
	}
	if o.cn == "" {
		return nil, invalidInput(errors.New("give --cn NAME (with --san NAME...) or --from-plan ID -t TOPOLOGY"))
	}
	key, err := csr.ParseKeySpec(o.key)
	if err != nil {
		return nil, invalidInput(fmt.Errorf("--key: %w", err))
	}
	r := csr.Request{
		Subject:             subject(o.cn, o.org, o.ou, o.locality, o.state, o.country),
		Template:            o.template,
		KeyUsageCritical:    o.kuCritical,
		ExtKeyUsageCritical: o.ekuCritical,
	}
	if err := addNames(&r, o.cn, o.sans, o.ips); err != nil {
		return nil, err
	}
	kus := o.keyUsage
	if len(kus) == 0 {
		kus = []string{"digitalSignature", "keyEncipherment"}
		if key == csr.P256 || key == csr.P384 {
			kus = []string{"digitalSignature"}
		}
	}
	ekus := o.eku
	if len(ekus) == 0 {
		ekus = []string{"serverAuth"}
	}
	if r.KeyUsage, err = parseKeyUsages(kus); err != nil {
		return nil, err
	}
	if r.ExtKeyUsage, err = parseEKUs(ekus); err != nil {
		return nil, err
	}
	if err := checkNameFlag("--friendly-name", o.friendlyName); err != nil {
		return nil, err
	}
	return &store.RequestSpec{Request: r, Key: key, Exportable: o.exportable, FriendlyName: o.friendlyName}, nil
}

// planSpec fills the request from certificate ID of the topology's plan.
// Flags given explicitly (key, exportable, friendly name, template) override.
func (o *requestNewOptions) planSpec(c *cobra.Command) (*store.RequestSpec, error) {
	if o.topologyFile == "" {
		return nil, invalidInput(errors.New("--from-plan needs -t TOPOLOGY"))
	}
	top, err := topology.Load(o.topologyFile, o.overlay)
	if err != nil {
		return nil, invalidInput(err)
	}
	p, err := plan.Build(top)
	if err != nil {
		return nil, invalidInput(err)
	}
	noteWarnings(c.ErrOrStderr(), top.Warnings)
	var pc *plan.Certificate
	var ids []string
	for i := range p.Certificates {
		ids = append(ids, p.Certificates[i].ID)
		if p.Certificates[i].ID == o.fromPlan {
			pc = &p.Certificates[i]
		}
	}
	if pc == nil {
		return nil, invalidInput(fmt.Errorf("the plan of %s has no certificate %q; its IDs are: %s", o.topologyFile, o.fromPlan, strings.Join(ids, ", ")))
	}
	key, err := csr.KeySpecFor(pc.Key.Algorithm, pc.Key.Bits)
	if err != nil {
		return nil, invalidInput(fmt.Errorf("plan %s: %w", pc.ID, err))
	}
	spec := &store.RequestSpec{Key: key, Exportable: pc.Key.Exportable, FriendlyName: pc.FriendlyName}
	sub := pc.Subject
	r := csr.Request{
		Subject:             subject(sub.CommonName, sub.Organization, sub.OrganizationalUnit, sub.Locality, sub.State, sub.Country),
		Template:            pc.Template,
		KeyUsageCritical:    pc.KeyUsageCritical,
		ExtKeyUsageCritical: pc.EKUCritical,
	}
	if err := addNames(&r, "", pc.SANs, nil); err != nil {
		return nil, err
	}
	if r.KeyUsage, err = parseKeyUsages(pc.KeyUsage); err != nil {
		return nil, err
	}
	if r.ExtKeyUsage, err = parseEKUs(pc.EKU); err != nil {
		return nil, err
	}
	fl := c.Flags()
	if fl.Changed("key") {
		if spec.Key, err = csr.ParseKeySpec(o.key); err != nil {
			return nil, invalidInput(fmt.Errorf("--key: %w", err))
		}
	}
	if fl.Changed("exportable") {
		spec.Exportable = o.exportable
	}
	if fl.Changed("friendly-name") {
		if err := checkNameFlag("--friendly-name", o.friendlyName); err != nil {
			return nil, err
		}
		spec.FriendlyName = o.friendlyName
	}
	if fl.Changed("template") {
		r.Template = o.template
	}
	spec.Request = r
	return spec, nil
}

func subject(cn, o, ou, l, st, c string) pkix.Name {
	n := pkix.Name{CommonName: cn}
	add := func(dst *[]string, v string) {
		if v != "" {
			*dst = []string{v}
		}
	}
	add(&n.Organization, o)
	add(&n.OrganizationalUnit, ou)
	add(&n.Locality, l)
	add(&n.Province, st)
	add(&n.Country, strings.ToUpper(c))
	return n
}

// addNames puts the subject name first (R16: it must also be a SAN), then
// the SANs, without duplicates; IP addresses become IP SANs.
func addNames(r *csr.Request, cn string, sans, ips []string) error {
	seen := map[string]bool{}
	add := func(n string) error {
		n = strings.TrimSpace(n)
		if n == "" || seen[strings.ToLower(n)] {
			return nil
		}
		seen[strings.ToLower(n)] = true
		if ip := net.ParseIP(n); ip != nil {
			r.IPAddresses = append(r.IPAddresses, ip)
			return nil
		}
		if strings.ContainsAny(n, " /\\@") {
			return invalidInput(fmt.Errorf("%q is not a DNS name", n))
		}
		r.DNSNames = append(r.DNSNames, strings.ToLower(n))
		return nil
	}
	if cn != "" && net.ParseIP(cn) == nil {
		if err := add(cn); err != nil {
			return err
		}
	}
	for _, n := range append(append([]string(nil), sans...), ips...) {
		if err := add(n); err != nil {
			return err
		}
	}
	for _, ip := range ips {
		if net.ParseIP(strings.TrimSpace(ip)) == nil {
			return invalidInput(fmt.Errorf("--ip %q is not an IP address", ip))
		}
	}
	return nil
}

var keyUsageByName = map[string]x509.KeyUsage{
	"digitalsignature": x509.KeyUsageDigitalSignature,
	"nonrepudiation":   x509.KeyUsageContentCommitment,
	"keyencipherment":  x509.KeyUsageKeyEncipherment,
	"dataencipherment": x509.KeyUsageDataEncipherment,
	"keyagreement":     x509.KeyUsageKeyAgreement,
}

func parseKeyUsages(names []string) (x509.KeyUsage, error) {
	var ku x509.KeyUsage
	for _, n := range names {
		v, ok := keyUsageByName[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return 0, invalidInput(fmt.Errorf("unknown key usage %q (use digitalSignature, keyEncipherment, keyAgreement, dataEncipherment, nonRepudiation)", n))
		}
		ku |= v
	}
	return ku, nil
}

func parseEKUs(names []string) ([]x509.ExtKeyUsage, error) {
	var out []x509.ExtKeyUsage
	for _, n := range names {
		switch strings.ToLower(strings.TrimSpace(n)) {
		case "serverauth", "server", "server authentication":
			out = append(out, x509.ExtKeyUsageServerAuth)
		case "clientauth", "client", "client authentication":
			out = append(out, x509.ExtKeyUsageClientAuth)
		default:
			return nil, invalidInput(fmt.Errorf("unknown extended key usage %q (use serverAuth or clientAuth)", n))
		}
	}
	return out, nil
}

func requestShowCmd(env *Env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show FILE",
		Short: "Show what a certificate request asks for (View the CSR)",
		Long: `Show decodes a PKCS#10 request, ours or another tool's (certreq, OpenSSL, IIS):
PEM, bare Base64 or DER, in a text file saved with a UTF-8 byte order mark
(Notepad) or as UTF-16 (Windows PowerShell 5.1's Out-File) too. Requested
extensions are read from PKCS#9 extensionRequest and from the Microsoft
attribute 1.3.6.1.4.1.311.2.1.14 that IIS and older certreq write; the CA
reads and checks them the same way. FILE - reads standard input.`,
		Example: `  edgecert request show edge.csr
  edgecert request show rp.req -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
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
			info := csr.Describe(req)
			return render(env.Out, output, info, func(w io.Writer, width int) error {
				tw := newTable(w)
				row := func(k, v string) { tableRow(tw, k+":", v) }
				row("Subject", info.Subject)
				row("DNS names", strings.Join(info.DNSNames, ", "))
				if len(info.IPAddresses) > 0 {
					row("IP addresses", strings.Join(info.IPAddresses, ", "))
				}
				row("Public key", fmt.Sprintf("%s %d", info.KeyAlgorithm, info.KeyBits))
				row("Signature", fmt.Sprintf("%s (%s)", info.SignatureAlg, map[bool]string{true: "valid", false: "INVALID"}[info.SignatureValid]))
				row("Template", dash(info.Template))
				row("Key usage", critical(info.KeyUsage, info.KeyUsageCritical))
				row("Extended key usage", critical(info.ExtKeyUsage, info.EKUCritical))
				return tw.Flush()
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func critical(names []string, crit bool) string {
	if len(names) == 0 {
		return "-"
	}
	s := strings.Join(names, ", ")
	if crit {
		return s + " (critical)"
	}
	return s + " (not critical)"
}

// readInput reads a request file, or standard input for "-", up to the
// size a request can be.
func readInput(env *Env, path string) ([]byte, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = readlimit.Reader(env.In, "standard input", readlimit.RequestFile)
	} else {
		b, err = readlimit.File(path, readlimit.RequestFile)
	}
	if err != nil {
		return nil, invalidInput(err)
	}
	return b, nil
}

// resultFlags say where an issued certificate goes.
type resultFlags struct {
	sf  storeFlags
	out string
}

func requestSubmitCmd(env *Env) *cobra.Command {
	var (
		ca        caFlags
		res       resultFlags
		tf        topoFlags
		checkPlan string
	)
	cmd := &cobra.Command{
		Use:   "submit --ca URL --token-file F FILE",
		Short: "Submit a request to the CA",
		Long: `Submit sends a request to the CA's API. The issued certificate is written to
--out, or imported into the store when --store (or $EDGECERT_STORE) is given,
or printed. The template is --template, else the one the request names
(request new --template). A request that waits for approval prints the
request retrieve command that finishes it, and exits 4.

--check-plan ID -t TOPOLOGY first compares the request with the plan's
certificate ID, as request check does (a request made on a Windows server
by Request-EdgecertCertificates.ps1), and sends nothing when it differs
(exit 3, each difference named).`,
		Example: `  edgecert request submit --ca https://ca.contoso.com:8443 --token-file token.txt --store /srv/edge1 edge.csr
  edgecert request submit --ca https://ca.contoso.com:8443 --token-file token.txt --out edge.cer edge.csr
  edgecert request submit --ca https://ca.contoso.com:8443 --token-file token.txt --out edge-internal.p7b \
      -t topology.yaml --check-plan edge-internal/lsedge.contoso.net edge-internal_lsedge.contoso.net.req`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			data, err := readInput(env, args[0])
			if err != nil {
				return err
			}
			req, err := csr.Parse(data)
			if err != nil {
				return invalidInput(fmt.Errorf("%s: %w", args[0], err))
			}
			if checkPlan != "" {
				if err := checkAgainstPlan(env, &tf, checkPlan, args[0], req); err != nil {
					return err
				}
			} else if tf.topology != "" {
				return invalidInput(errors.New("-t is used with --check-plan ID"))
			}
			client, err := ca.client(env)
			if err != nil {
				return err
			}
			template := ca.template
			if template == "" {
				template = csr.TemplateName(req)
			}
			if template == "" {
				return invalidInput(fmt.Errorf("%s names no certificate template: give --template NAME (edgecert ca template list --dir DIR shows them)", args[0]))
			}
			resp, err := client.Submit(env.Ctx, req.Raw, template)
			if err := caClientErr(resp, err); err != nil {
				return err
			}
			return deliver(env, &res, resp, &ca)
		},
	}
	ca.add(cmd, true)
	cmd.Flags().StringVar(&ca.template, "template", "", "template to request (default: the one named in the request)")
	cmd.Flags().StringVar(&checkPlan, "check-plan", "", "check the request against this certificate id of the plan (-t) before sending it")
	cmd.Flags().StringVarP(&tf.topology, "topology", "t", "", "topology file for --check-plan")
	cmd.Flags().StringVar(&tf.overlay, "overlay", "", "YAML overlay for a Topology Builder document (with --check-plan)")
	res.sf.add(cmd)
	cmd.Flags().StringVar(&res.out, "out", "", "write the issued certificate (PEM) here")
	return cmd
}

func requestRetrieveCmd(env *Env) *cobra.Command {
	var (
		ca  caFlags
		res resultFlags
	)
	cmd := &cobra.Command{
		Use:     "retrieve --ca URL --token-file F ID",
		Short:   "Retrieve the certificate of a request that waited for approval",
		Long:    "Retrieve asks the CA for request ID; an issued certificate goes to --out, the store, or standard output as with submit.",
		Example: `  edgecert request retrieve --ca https://ca.contoso.com:8443 --token-file token.txt --store /srv/edge1 42`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return invalidInput(fmt.Errorf("request ID %q is not a positive number", args[0]))
			}
			client, err := ca.client(env)
			if err != nil {
				return err
			}
			resp, err := client.Retrieve(env.Ctx, id)
			if err := caClientErr(resp, err); err != nil {
				return err
			}
			return deliver(env, &res, resp, &ca)
		},
	}
	ca.add(cmd, true)
	res.sf.add(cmd)
	cmd.Flags().StringVar(&res.out, "out", "", "write the issued certificate (PEM) here")
	return cmd
}

// deliver handles a CA answer for submit and retrieve.
func deliver(env *Env, res *resultFlags, resp *caclient.Response, ca *caFlags) error {
	var s *store.Store
	if res.out == "" && res.sf.given() {
		var err error
		if s, err = res.sf.open(env); err != nil {
			return err
		}
	}
	return handleResponse(env, s, resp, res.out, ca)
}

// handleResponse writes an issued certificate to out, imports it (with its
// chain) into s, or prints it; reports a pending or refused request.
func handleResponse(env *Env, s *store.Store, resp *caclient.Response, out string, ca *caFlags) error {
	switch {
	case resp.Status == "pending":
		dir := ""
		if s != nil {
			dir = s.Dir()
		}
		fmt.Fprintf(env.Err, "request %d is pending approval; when approved: %s\n", resp.RequestID, retrieveCommand(ca, dir, out, resp.RequestID))
		return &exitError{code: ExitWaiting, err: errSilent}
	case resp.Certificate == nil:
		return fmt.Errorf("request %d was not issued (status %s)", resp.RequestID, resp.Status)
	}
	bundle := certfmt.EncodeCertificatePEM(append([]*x509.Certificate{resp.Certificate}, resp.Chain...)...)
	if s == nil {
		return writeOutput(env, out, bundle, 0o644)
	}
	if out != "" {
		if err := writeOutput(env, out, bundle, 0o644); err != nil {
			return err
		}
	}
	r, err := s.Import(bundle, store.ImportOptions{})
	if err != nil {
		return storeErr(fmt.Errorf("importing the issued certificate: %w", err))
	}
	for _, e := range r.Added {
		fmt.Fprintf(env.Err, "imported into %s: %s %s\n", e.Location, e.Thumbprint, printable(e.Subject))
	}
	return nil
}

// retrieveCommand is the request retrieve command that finishes a pending
// request: the same CA, token and trust flags, and the same destination, so
// that the certificate joins its key in the store (or lands in the file).
func retrieveCommand(ca *caFlags, storeDir, out string, id int64) string {
	args := []string{"edgecert", "request", "retrieve", "--ca", ca.url, "--token-file", ca.tokenFile}
	if ca.fingerprint != "" {
		args = append(args, "--ca-fingerprint", ca.fingerprint)
	}
	if ca.pinFile != "" {
		args = append(args, "--pin-file", ca.pinFile)
	}
	if storeDir != "" {
		args = append(args, "--store", storeDir)
	}
	if out != "" {
		args = append(args, "--out", out)
	}
	for i, a := range args {
		args[i] = shellWord(a)
	}
	return strings.Join(append(args, strconv.FormatInt(id, 10)), " ")
}

// shellWord quotes a for a POSIX shell when it needs it.
func shellWord(a string) string {
	if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// caClientErr gives CA client errors their exit codes; a pending request with its
// response is not an error (handleResponse reports it).
func caClientErr(resp *caclient.Response, err error) error {
	if err == nil || (resp != nil && errors.Is(err, caclient.ErrPending)) {
		return nil
	}
	var api *caclient.APIError
	if errors.As(err, &api) && api.Status >= 400 && api.Status < 500 {
		return invalidInput(err)
	}
	if errors.Is(err, caclient.ErrUnauthorized) || errors.Is(err, caclient.ErrFingerprint) {
		return invalidInput(err)
	}
	return err
}
