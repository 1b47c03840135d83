package topology

import (
	"slices"
	"strconv"
	"strings"
)

func (v *validator) sites() {
	r := v.r
	if len(r.Sites) == 0 {
		v.add(r.P, "required", "add a site under sites, with its pools, edge pools and reverse proxies", "the topology has no site")
	}
	names := map[string]Pos{}
	proxies := map[string]Pos{}
	for _, s := range r.Sites {
		switch {
		case s.Name.Bad:
		case !s.Name.Set || s.Name.V == "":
			v.add(s.P, "required", "add name: to the site", "a site has no name")
		case names[strings.ToLower(s.Name.V)].Line != 0:
			v.add(s.Name.P, "duplicate-name", "give each site its own name", "site %q is already defined on line %d", s.Name.V, names[strings.ToLower(s.Name.V)].Line)
		default:
			names[strings.ToLower(s.Name.V)] = s.Name.P
		}
		for _, p := range s.Pools {
			v.pool(p, "pool")
		}
		for _, p := range s.Directors {
			v.pool(p, "director")
		}
		for _, e := range s.Edges {
			v.edge(e)
		}
		for _, p := range s.RPs {
			if p.Name.Set && proxies[p.Name.V].Line != 0 {
				v.add(p.Name.P, "duplicate-name", "give each reverse proxy its own name", "reverse proxy %q is already defined on line %d", p.Name.V, proxies[p.Name.V].Line)
			} else if p.Name.Set {
				proxies[p.Name.V] = p.Name.P
			}
			v.proxy(s, p)
		}
	}
}

func (v *validator) pool(p *rawPool, kind string) {
	v.subjectName(p.FQDN, p.P, kind+" fqdn")
	v.servers(p.Servers, p.P, kind+" "+p.FQDN.V)
	v.optionalSubject(p.WebInt, "web_internal")
	v.optionalSubject(p.WebExt, "web_external")
}

func (v *validator) edge(e *rawEdge) {
	v.subjectName(e.FQDN, e.P, "edge pool fqdn")
	v.servers(e.Servers, e.P, "edge pool "+e.FQDN.V)
	v.subjectName(e.Access, e.P, "access (the Access Edge external FQDN)")
	v.subjectName(e.WebConf, e.P, "webconf (the Web Conferencing Edge external FQDN)")
	v.subjectName(e.AV, e.P, "av (the A/V Edge external FQDN)")
	v.enum(e.LB, "load_balancing", LoadBalancingNone, LoadBalancingDNS, LoadBalancingHardware)
	v.enum(e.Issuer, "external_issuer", IssuerPublic, IssuerInternal)
	if strings.EqualFold(e.LB.V, LoadBalancingNone) && len(e.Servers.Items) > 1 {
		v.add(e.LB.P, "load-balancing", "use dns or hardware for a pool of several servers", "edge pool %s has %d servers but load_balancing none", e.FQDN.V, len(e.Servers.Items))
	}
}

func (v *validator) proxy(s *rawSite, p *rawRP) {
	if (!p.Name.Set || p.Name.V == "") && !p.Name.Bad {
		v.add(p.P, "required", "add name: to the reverse proxy", "a reverse proxy has no name")
	}
	v.servers(p.Servers, p.P, "reverse proxy "+p.Name.V)
	v.enum(p.Cert, "certificate", ProxyCertShared, ProxyCertPerPool)
	v.enum(p.Issuer, "issuer", IssuerPublic, IssuerInternal)
	if p.Combine.Set {
		if !slices.ContainsFunc(s.Edges, func(e *rawEdge) bool { return e.FQDN.V == p.Combine.V }) {
			v.add(p.Combine.P, "combine-with-edge", "name an edge pool of site "+s.Name.V+": "+strings.Join(edgeNames(s), ", "), "combine_with_edge %q is not an edge pool of site %s", p.Combine.V, s.Name.V)
		}
	}
	if len(p.Publishes.Items) == 0 {
		v.publishedDefault(s, p)
		return
	}
	for _, name := range p.Publishes.Items {
		target, ok := v.pools[name.V]
		switch {
		case !ok:
			v.add(name.P, "publish-unknown-pool", "name a pool or director of the topology", "reverse proxy %s publishes %s, which is not a pool or director", p.Name.V, name.V)
		case !target.WebExt.Set:
			v.add(name.P, "publish-without-web-external", "add web_external to "+name.V+" (line "+strconv.Itoa(target.P.Line)+"), or stop publishing it", "reverse proxy %s publishes %s, which has no web_external", p.Name.V, name.V)
		}
	}
}

// publishedDefault checks the pools an empty publishes stands for: every
// pool and director of the site.
func (v *validator) publishedDefault(s *rawSite, p *rawRP) {
	all := slices.Concat(s.Pools, s.Directors)
	if len(all) == 0 {
		v.add(p.P, "publish-unknown-pool", "list the pools it publishes under publishes, or add a pool to site "+s.Name.V, "reverse proxy %s publishes nothing: site %s has no pool or director", p.Name.V, s.Name.V)
	}
	for _, target := range all {
		if !target.WebExt.Set {
			v.add(p.P, "publish-without-web-external", "add web_external to "+target.FQDN.V+", or list the published pools under publishes", "reverse proxy %s publishes every pool of site %s, but %s has no web_external", p.Name.V, s.Name.V, target.FQDN.V)
		}
	}
}

func edgeNames(s *rawSite) []string {
	var out []string
	for _, e := range s.Edges {
		out = append(out, e.FQDN.V)
	}
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}
