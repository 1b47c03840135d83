package ca

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"edgecert/internal/db"
	"edgecert/internal/plan"
	"edgecert/internal/topology"
)

// ACMEPreauth is a template's opt-in to ACME pre-authorization
// (docs/acme.md): the names that the plan of Topology (with Overlay) puts in
// an internally issued certificate of a server are valid at once, without a
// challenge, for an ACME account bound to a user in one of that server's
// operator groups. Empty Topology: off (the default).
type ACMEPreauth struct {
	// Topology and Overlay are files; a relative path is relative to the
	// CA directory.
	Topology string `yaml:"topology,omitempty"`
	Overlay  string `yaml:"overlay,omitempty"`

	// groups maps each pre-authorized name (lower case) to the operator
	// groups of the servers whose certificates carry it; set when the
	// template loads.
	groups map[string][]string
}

// String is how the audit shows the setting.
func (a ACMEPreauth) String() string {
	switch {
	case a.Topology == "":
		return "off"
	case a.Overlay == "":
		return "topology " + a.Topology
	}
	return "topology " + a.Topology + " overlay " + a.Overlay
}

// loadPreauth reads and plans the template's topology (dir: the CA
// directory); a topology that does not load or plan makes the template
// invalid.
func (a *ACMEPreauth) load(dir string) error {
	a.groups = nil
	if a.Topology == "" {
		if a.Overlay != "" {
			return fmt.Errorf("acme_preauthorize: an overlay without a topology: %w", ErrBadRequest)
		}
		return nil
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	topo, err := topology.Load(abs(a.Topology), abs(a.Overlay))
	if err != nil {
		return fmt.Errorf("acme_preauthorize: %w: %w", err, ErrBadRequest)
	}
	p, err := plan.Build(topo)
	if err != nil {
		return fmt.Errorf("acme_preauthorize: planning %s: %w: %w", a.Topology, err, ErrBadRequest)
	}
	a.groups = preauthGroups(topo, p)
	return nil
}

// preauthGroups maps every name of an internally issued certificate of the
// plan to the operator groups of the servers it is installed on. Wildcard
// names are never pre-authorized.
func preauthGroups(topo *topology.Topology, p *plan.Plan) map[string][]string {
	ops := map[string][]string{} // server FQDN → operator groups
	add := func(servers, groups []string) {
		for _, s := range servers {
			s = strings.ToLower(s)
			for _, g := range groups {
				if !slices.Contains(ops[s], g) {
					ops[s] = append(ops[s], g)
				}
			}
		}
	}
	for _, s := range topo.Sites {
		for _, pool := range slices.Concat(s.Pools, s.Directors) {
			add(pool.Servers, pool.Operators)
		}
		for _, e := range s.EdgePools {
			add(e.Servers, e.Operators)
		}
		for _, rp := range s.ReverseProxies {
			add(rp.Servers, rp.Operators)
		}
	}
	out := map[string][]string{}
	for _, c := range p.Certificates {
		if c.Issuer != topology.IssuerInternal {
			continue
		}
		for _, n := range append([]string{c.Subject.CommonName}, c.SANs...) {
			n = strings.ToLower(n)
			if n == "" || strings.Contains(n, "*") {
				continue
			}
			for _, s := range c.Servers {
				for _, g := range ops[strings.ToLower(s)] {
					if !slices.Contains(out[n], g) {
						out[n] = append(out[n], g)
					}
				}
			}
		}
	}
	return out
}

// ACMEPreauthorized says, for each name of an order that CheckOrder let
// through, whether it is pre-authorized for p under template: the template
// opts in, and one of p's groups operates a server whose planned
// certificate carries the name. Each pre-authorized name is audited.
func (e *Engine) ACMEPreauthorized(ctx context.Context, p *Principal, template string, names []string) ([]bool, error) {
	t, err := e.template(template)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(names))
	if t.ACMEPreauthorize.groups == nil {
		return out, nil
	}
	var granted []string
	for i, n := range names {
		for _, g := range t.ACMEPreauthorize.groups[strings.ToLower(n)] {
			if slices.Contains(p.Groups, g) {
				out[i] = true
				granted = append(granted, n+" (operators "+g+")")
				break
			}
		}
	}
	if len(granted) > 0 {
		if err := e.db.AppendAudit(ctx, db.Audit{At: e.now(), Actor: p.Name, Action: "acme-preauthorize", Template: t.Name,
			Subject: strings.Join(granted, ", "), Result: "ok", Detail: t.ACMEPreauthorize.String()}); err != nil {
			return nil, wrapDB(err)
		}
	}
	return out, nil
}
