// Package verify proves that a deployment's certificates are what its plan
// says: for every server and usage of a [plan.Plan] it checks, in that
// server's store, that a certificate is assigned, that its key is present and
// matches, that its names, key usage, EKU and key satisfy the plan, that it is
// valid now, that its chain reaches the server's root location, that it is
// not revoked and that pool members share it where the rules require it.
// [Live] also connects over TLS to the planned endpoints and checks what is
// really served.
//
// Results are typed [Finding]s (severity, server, usage, rule, message, fix);
// the package never prints. A [Report] fails when it holds an error finding.
package verify

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"edgecert/internal/plan"
	"edgecert/internal/store"
)

// Severity of a finding.
type Severity string

// Severities, from worst.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityOK      Severity = "ok"
)

// Check names the kind of a finding, so that callers and tests can match it.
type Check string

// Kinds of check.
const (
	CheckStore       Check = "store"
	CheckAssigned    Check = "assigned"
	CheckKey         Check = "key"
	CheckExportable  Check = "exportable"
	CheckNames       Check = "names"
	CheckExtraNames  Check = "extra-names"
	CheckEKU         Check = "eku"
	CheckKeyUsage    Check = "key-usage"
	CheckKeyType     Check = "key-type"
	CheckValidity    Check = "validity"
	CheckExpiry      Check = "expiry"
	CheckChain       Check = "chain"
	CheckRevocation  Check = "revocation"
	CheckPool        Check = "pool"
	CheckLive        Check = "live"
	CheckLiveNames   Check = "live-names"
	CheckLiveExpiry  Check = "live-expiry"
	CheckLiveChain   Check = "live-chain"
	CheckLiveConnect Check = "live-connect"
)

// Finding is one result of a check.
type Finding struct {
	Severity    Severity `json:"severity"`
	Check       Check    `json:"check"`
	Certificate string   `json:"certificate"` // plan id
	Server      string   `json:"server"`
	Usage       string   `json:"usage,omitempty"` // usages sharing the checked certificate, comma separated
	Thumbprint  string   `json:"thumbprint,omitempty"`
	Endpoint    string   `json:"endpoint,omitempty"`
	Rule        string   `json:"rule"`
	Message     string   `json:"message"`
	Fix         string   `json:"fix,omitempty"`
}

// Report is the result of a verification.
type Report struct {
	// Checked counts the (server, usage) pairs and endpoints examined.
	Checked  int       `json:"checked"`
	Findings []Finding `json:"findings"`
}

// Errors returns the number of error findings.
func (r *Report) Errors() int { return r.count(SeverityError) }

// Warnings returns the number of warning findings.
func (r *Report) Warnings() int { return r.count(SeverityWarning) }

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Errors() > 0 }

func (r *Report) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Has reports whether the report holds a finding of check c with severity s
// (for server, when server is not empty).
func (r *Report) Has(s Severity, c Check, server string) bool {
	for _, f := range r.Findings {
		if f.Severity == s && f.Check == c && (server == "" || f.Server == server) {
			return true
		}
	}
	return false
}

// Merge appends other's findings and counts.
func (r *Report) Merge(other *Report) {
	r.Checked += other.Checked
	r.Findings = append(r.Findings, other.Findings...)
	r.sort()
}

func (r *Report) sort() {
	rank := map[Severity]int{SeverityError: 0, SeverityWarning: 1, SeverityOK: 2}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		if a.Certificate != b.Certificate {
			return a.Certificate < b.Certificate
		}
		return rank[a.Severity] < rank[b.Severity]
	})
}

// StoreFunc opens the store of a server; ok false means the server's store
// is not available here (another machine), and its checks are skipped.
type StoreFunc func(server string) (s *store.Store, ok bool, err error)

// Options configure a verification.
type Options struct {
	Now func() time.Time
	// HTTPClient fetches CRLs and asks OCSP responders; nil: a client with a 5 s timeout.
	HTTPClient *http.Client
	// SkipRevocation turns the revocation check off.
	SkipRevocation bool
	// RequireRevocation makes an unreachable CRL or OCSP responder an error.
	RequireRevocation bool
	// PublicACME says the public certificates come from an ACME CA: what
	// such CAs no longer include (clientAuth, keyEncipherment; server
	// authentication only, announced before ordering) is a warning, not an
	// error, for them.
	PublicACME bool
	// WarnDays is the expiry warning window (default 30).
	WarnDays int
	// Certificates restricts the check to these plan ids (empty: all).
	Certificates []string
	// Concurrency bounds parallel work (default 8 offline, 64 live).
	Concurrency int

	chains *chainCache // set by NewVerifier
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if o.WarnDays == 0 {
		o.WarnDays = 30
	}
}

func (o *Options) selected(id string) bool {
	if len(o.Certificates) == 0 {
		return true
	}
	for _, c := range o.Certificates {
		if c == id {
			return true
		}
	}
	return false
}

// Offline checks every selected certificate of p in the stores.
func Offline(ctx context.Context, p *plan.Plan, stores StoreFunc, opts Options) (*Report, error) {
	return NewVerifier(opts).Offline(ctx, p, stores, opts.Certificates)
}

// Verifier runs offline checks repeatedly with one CRL cache, so that a
// caller verifying certificates one by one fetches each CRL once.
type Verifier struct {
	opts Options
	rev  *revocationChecker
}

// NewVerifier returns a Verifier with opts (opts.Certificates is ignored).
func NewVerifier(opts Options) *Verifier {
	opts.defaults()
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	opts.chains = &chainCache{}
	return &Verifier{opts: opts, rev: newRevocationChecker(opts.HTTPClient)}
}

// Offline checks the certificates of p with these ids (empty: all).
func (v *Verifier) Offline(ctx context.Context, p *plan.Plan, stores StoreFunc, ids []string) (*Report, error) {
	opts := v.opts
	opts.Certificates = ids
	rev := v.rev
	var jobs []func() []Finding
	checked := 0
	for i := range p.Certificates {
		c := &p.Certificates[i]
		if !opts.selected(c.ID) {
			continue
		}
		for _, srv := range c.Servers {
			checked += len(c.Usages)
			jobs = append(jobs, func() []Finding {
				return checkServer(ctx, c, srv, stores, rev, &opts)
			})
		}
		jobs = append(jobs, func() []Finding { return checkPool(c, stores) })
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	results := runBounded(jobs, opts.Concurrency)
	r := &Report{Checked: checked}
	for _, fs := range results {
		r.Findings = append(r.Findings, fs...)
	}
	r.sort()
	return r, nil
}

// runBounded runs jobs with at most n at a time and returns their results in order.
func runBounded(jobs []func() []Finding, n int) [][]Finding {
	out := make([][]Finding, len(jobs))
	sem := make(chan struct{}, n)
	done := make(chan struct{})
	for i, job := range jobs {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; done <- struct{}{} }()
			out[i] = job()
		}()
	}
	for range jobs {
		<-done
	}
	return out
}

// checkServer checks every usage of c on one server.
func checkServer(ctx context.Context, c *plan.Certificate, srv string, stores StoreFunc, rev *revocationChecker, opts *Options) []Finding {
	st, ok, err := stores(srv)
	if !ok && err == nil {
		return nil
	}
	base := Finding{Certificate: c.ID, Server: srv, Usage: strings.Join(c.Usages, ",")}
	if err != nil {
		return []Finding{base.fail(CheckStore, "R8", fmt.Sprintf("cannot open the store: %v", err), "run edgecert apply to create the server's store")}
	}
	as, err := st.Assignments()
	if err != nil {
		return []Finding{base.fail(CheckStore, "R8", fmt.Sprintf("cannot read the assignments: %v", err), "check the store directory "+st.Dir())}
	}
	byUsage := map[string]string{}
	for _, a := range as {
		byUsage[a.Usage] = a.Thumbprint
	}
	// Group the usages by the certificate assigned to them.
	var order []string
	groups := map[string][]string{}
	var out []Finding
	for _, u := range c.Usages {
		t := byUsage[u]
		if t == "" {
			f := base
			f.Usage = u
			out = append(out, f.fail(CheckAssigned, assignRule(c), fmt.Sprintf("no certificate is assigned to %s", u),
				fmt.Sprintf("run edgecert apply (or edgecert assign --store %s --usage %s --thumbprint T)", st.Dir(), u)))
			continue
		}
		if _, seen := groups[t]; !seen {
			order = append(order, t)
		}
		groups[t] = append(groups[t], u)
	}
	for _, t := range order {
		f := base
		f.Usage = strings.Join(groups[t], ",")
		f.Thumbprint = t
		out = append(out, checkCertificate(ctx, c, st, f, rev, opts)...)
	}
	return out
}

func assignRule(c *plan.Certificate) string {
	switch c.Kind {
	case plan.KindEdgeInternal:
		return "R48"
	case plan.KindReverseProxy, plan.KindEdgeExternalAndProxy:
		return "R61"
	}
	return "R32"
}

func (f Finding) fail(c Check, rule, msg, fix string) Finding {
	f.Severity, f.Check, f.Rule, f.Message, f.Fix = SeverityError, c, rule, msg, fix
	return f
}

func (f Finding) warn(c Check, rule, msg, fix string) Finding {
	f.Severity, f.Check, f.Rule, f.Message, f.Fix = SeverityWarning, c, rule, msg, fix
	return f
}

func (f Finding) pass(c Check, rule, msg string) Finding {
	f.Severity, f.Check, f.Rule, f.Message = SeverityOK, c, rule, msg
	return f
}

// checkPool checks that every server of a shared certificate holds the same
// certificate for each usage (R27, R38, R58).
func checkPool(c *plan.Certificate, stores StoreFunc) []Finding {
	if len(c.Servers) < 2 {
		return nil
	}
	rule := exportRule(c)
	var out []Finding
	for _, u := range c.Usages {
		seen := map[string][]string{}
		var order []string
		for _, srv := range c.Servers {
			st, ok, err := stores(srv)
			if !ok || err != nil {
				continue
			}
			as, err := st.Assignments()
			if err != nil {
				continue
			}
			for _, a := range as {
				if a.Usage == u && a.Thumbprint != "" {
					if _, ok := seen[a.Thumbprint]; !ok {
						order = append(order, a.Thumbprint)
					}
					seen[a.Thumbprint] = append(seen[a.Thumbprint], srv)
				}
			}
		}
		if len(seen) > 1 {
			var parts []string
			for _, t := range order {
				parts = append(parts, fmt.Sprintf("%s on %s", short(t), strings.Join(seen[t], ", ")))
			}
			f := Finding{Certificate: c.ID, Server: strings.Join(c.Servers, ","), Usage: u}
			out = append(out, f.fail(CheckPool, rule,
				fmt.Sprintf("pool members hold different certificates for %s: %s", u, strings.Join(parts, "; ")),
				fmt.Sprintf("export the certificate of %s as .pfx and import and assign it on every member (edgecert apply does this)", c.RequestOn)))
		}
	}
	return out
}

func short(t string) string {
	if len(t) > 8 {
		return t[:8]
	}
	return t
}
