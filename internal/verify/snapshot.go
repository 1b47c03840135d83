package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"edgecert/internal/plan"
	"edgecert/internal/windows"
)

// CheckSnapshot is the kind of finding about a server's snapshot itself.
const CheckSnapshot Check = "snapshot"

// Snapshots runs the checks of Offline against what the real servers hold,
// as Collect-EdgecertSnapshot.ps1 recorded it: snaps maps a server's FQDN
// (lower case) to its snapshot. A planned server without a snapshot is a
// warning (not checked); the pool check compares the servers that have one.
func Snapshots(ctx context.Context, p *plan.Plan, snaps map[string]*windows.Snapshot, opts Options) (*Report, error) {
	v := NewVerifier(opts)
	o := v.opts
	var jobs []func() []Finding
	checked := 0
	missing := map[string][]string{}
	for i := range p.Certificates {
		c := &p.Certificates[i]
		if !o.selected(c.ID) {
			continue
		}
		for _, srv := range c.Servers {
			snap := snaps[strings.ToLower(srv)]
			if snap == nil {
				missing[srv] = append(missing[srv], c.ID)
				continue
			}
			checked += len(c.Usages)
			jobs = append(jobs, func() []Finding { return checkSnapshotServer(ctx, c, srv, snap, v, &o) })
		}
		jobs = append(jobs, func() []Finding { return checkSnapshotPool(c, snaps, &o) })
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	r := &Report{Checked: checked}
	for _, fs := range runBounded(jobs, o.Concurrency) {
		r.Findings = append(r.Findings, fs...)
	}
	for srv, ids := range missing {
		f := Finding{Certificate: strings.Join(ids, ","), Server: srv}
		r.Findings = append(r.Findings, f.warn(CheckSnapshot, "R8",
			"no snapshot of this server was given: its certificates were not checked",
			fmt.Sprintf("run Collect-EdgecertSnapshot.ps1 on %s and add its file with --snapshot", srv)))
	}
	r.sort()
	return r, nil
}

// snapshotThumbprint returns the certificate in effect for usage u on a
// server: Get-CsCertificate's assignment, or, for a reverse proxy listener
// (which no Lync cmdlet assigns), the newest certificate of My with a key
// that carries every planned name.
func snapshotThumbprint(c *plan.Certificate, u string, snap *windows.Snapshot, o *Options) (string, string) {
	for _, a := range snap.Assignments {
		if strings.EqualFold(a.Use, u) {
			return a.Current(o.Now()), ""
		}
	}
	proxy := c.Kind == plan.KindReverseProxy || c.Kind == plan.KindEdgeExternalAndProxy
	if proxy && u == plan.UsageWebServicesExternal {
		best := -1
		for i, m := range snap.My {
			if m.Cert == nil || !m.HasPrivateKey || !hasAllNames(m.Cert.DNSNames, c.SANs) {
				continue
			}
			if best < 0 || m.Cert.NotAfter.After(snap.My[best].Cert.NotAfter) {
				best = i
			}
		}
		if best >= 0 {
			return snap.My[best].Thumbprint, ""
		}
		return "", fmt.Sprintf("no certificate with a private key in Cert:\\LocalMachine\\My carries every planned name (%s)", strings.Join(c.SANs, ", "))
	}
	if !snap.HasAssignments {
		return "", fmt.Sprintf("the snapshot has no Get-CsCertificate assignments, so %s cannot be checked", u)
	}
	return "", fmt.Sprintf("no certificate is assigned to %s (Get-CsCertificate)", u)
}

func hasAllNames(have, want []string) bool {
	set := map[string]bool{}
	for _, n := range have {
		set[strings.ToLower(n)] = true
	}
	for _, n := range want {
		if !set[strings.ToLower(n)] {
			return false
		}
	}
	return true
}

func checkSnapshotServer(ctx context.Context, c *plan.Certificate, srv string, snap *windows.Snapshot, v *Verifier, o *Options) []Finding {
	base := Finding{Certificate: c.ID, Server: srv, Usage: strings.Join(c.Usages, ",")}
	var order []string
	groups := map[string][]string{}
	var out []Finding
	for _, u := range c.Usages {
		t, why := snapshotThumbprint(c, u, snap, o)
		if t == "" {
			f := base
			f.Usage = u
			out = append(out, f.fail(CheckAssigned, assignRule(c), why, assignFix(c, u, srv)))
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
		out = append(out, checkSnapshotCertificate(ctx, c, snap, f, v, o)...)
	}
	return out
}

func assignFix(c *plan.Certificate, u, srv string) string {
	if u == plan.UsageWebServicesExternal && (c.Kind == plan.KindReverseProxy || c.Kind == plan.KindEdgeExternalAndProxy) {
		return fmt.Sprintf("import the reverse proxy's .pfx (with its key) into Cert:\\LocalMachine\\My on %s and bind it to the listener", srv)
	}
	if u == plan.UsageOAuthTokenIssuer {
		return fmt.Sprintf("in the Lync Server Management Shell: Set-CsCertificate -Identity Global -Type %s -Thumbprint T", u)
	}
	return fmt.Sprintf("on %s, in the Lync Server Management Shell: Set-CsCertificate -Type %s -Thumbprint T", srv, u)
}

func checkSnapshotCertificate(ctx context.Context, c *plan.Certificate, snap *windows.Snapshot, f Finding, v *Verifier, o *Options) []Finding {
	held, ok := snap.Find(f.Thumbprint)
	if !ok {
		return []Finding{f.fail(CheckAssigned, assignRule(c),
			fmt.Sprintf("the assigned certificate %s is not in Cert:\\LocalMachine\\My", f.Thumbprint),
			fmt.Sprintf("import the certificate's .pfx on %s and assign it again", f.Server))}
	}
	if held.Cert == nil {
		return []Finding{f.fail(CheckAssigned, assignRule(c),
			fmt.Sprintf("the assigned certificate %s cannot be read: %v", f.Thumbprint, held.ParseErr),
			"replace it with the planned certificate (edgecert apply, then import its .pfx)")}
	}
	cert := held.Cert
	var out []Finding
	switch {
	case !held.HasPrivateKey:
		out = append(out, f.fail(CheckKey, "R8", "the certificate's private key is not on this server (HasPrivateKey is false)",
			fmt.Sprintf("import the .pfx with its key on %s (Import-PfxCertificate -CertStoreLocation Cert:\\LocalMachine\\My)", f.Server)))
	case c.Key.Exportable && len(c.Servers) > 1 && held.Exportable != nil && !*held.Exportable:
		msg := "the key is not exportable, so it cannot be copied to the other members"
		fix := "request the certificate again with an exportable key (R10), or import the .pfx again with -Exportable"
		if f.Server == c.RequestOn {
			out = append(out, f.fail(CheckExportable, exportRule(c), msg, fix))
		} else {
			out = append(out, f.warn(CheckExportable, exportRule(c), "the key was imported as not exportable, though the plan shares it", fix))
		}
	}
	out = append(out, checkContents(c, f, cert, o)...)
	rule := "R43"
	if c.Kind == plan.KindReverseProxy || c.Kind == plan.KindEdgeExternalAndProxy {
		rule = "R51"
	}
	fix := fmt.Sprintf("import the issuing CA's chain on %s: intermediates into Cert:\\LocalMachine\\CA, the root into Cert:\\LocalMachine\\Root", f.Server)
	chain, err := snap.Chain(cert)
	if err == nil {
		if err = verifyChain(chain, o.Now(), o.chains); err != nil {
			err = fmt.Errorf("the chain does not verify: %w", err)
		}
	}
	if err != nil {
		chain = nil
		out = append(out, f.fail(CheckChain, rule, err.Error(), fix))
	}
	return finish(ctx, c, f, cert, chain, out, v.rev, o)
}

// checkSnapshotPool checks that the members with a snapshot hold the same
// certificate for each usage (R27, R38, R58).
func checkSnapshotPool(c *plan.Certificate, snaps map[string]*windows.Snapshot, o *Options) []Finding {
	if len(c.Servers) < 2 {
		return nil
	}
	var out []Finding
	for _, u := range c.Usages {
		seen := map[string][]string{}
		for _, srv := range c.Servers {
			snap := snaps[strings.ToLower(srv)]
			if snap == nil {
				continue
			}
			if t, _ := snapshotThumbprint(c, u, snap, o); t != "" {
				seen[t] = append(seen[t], srv)
			}
		}
		if len(seen) < 2 {
			continue
		}
		var parts []string
		for t, srvs := range seen {
			parts = append(parts, fmt.Sprintf("%s on %s", short(t), strings.Join(srvs, ", ")))
		}
		sort.Strings(parts)
		f := Finding{Certificate: c.ID, Server: strings.Join(c.Servers, ","), Usage: u}
		out = append(out, f.fail(CheckPool, exportRule(c),
			fmt.Sprintf("pool members hold different certificates for %s: %s", u, strings.Join(parts, "; ")),
			fmt.Sprintf("export the certificate of %s as .pfx, import it on every member and assign it there", c.RequestOn)))
	}
	return out
}
