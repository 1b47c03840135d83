package topology

import (
	"slices"
	"strings"
)

// build turns a valid raw topology into a Topology, filling in the
// defaults of docs/topology.md.
func build(r *rawTopo, source, overlay string) *Topology {
	t := &Topology{
		Source:  source,
		Overlay: overlay,
		Organization: Organization{
			Name:     r.Org.Name.V,
			Unit:     r.Org.Unit.V,
			Locality: r.Org.Locality.V,
			State:    r.Org.State.V,
			Country:  strings.ToUpper(r.Org.Country.V),
		},
		SIPDomains:    r.SIPDomains.values(),
		SimpleURLs:    SimpleURLs{Meet: map[string]string{}, Dialin: normURL(r.Dialin.V), Admin: normURL(r.Admin.V)},
		Mobility:      r.Mobility.V,
		XMPPDomains:   r.XMPP.values(),
		PublicIMAOL:   r.AOL.V,
		OfficeWebApps: r.OWA.V,
		Key:           buildKey(r),
		ACME:          buildACME(r.ACME),
	}
	if len(t.XMPPDomains) == 0 {
		t.XMPPDomains = nil
	}
	for _, m := range r.Meet {
		t.SimpleURLs.Meet[m.Domain.V] = normURL(m.URL.V)
	}
	for _, s := range r.Sites {
		t.Sites = append(t.Sites, buildSite(s))
	}
	return t
}

func buildKey(r *rawTopo) KeySpec {
	k := KeySpec{Algorithm: "RSA", Bits: 2048}
	if r.KeyAlg.Set && strings.EqualFold(r.KeyAlg.V, "ECDSA") {
		k = KeySpec{Algorithm: "ECDSA", Bits: 256}
	}
	if r.KeyBits.Set {
		k.Bits = r.KeyBits.V
	}
	return k
}

// normURL lower-cases the scheme and host of a simple URL and keeps its path.
func normURL(u string) string {
	const scheme = "https://"
	if len(u) < len(scheme) || !strings.EqualFold(u[:len(scheme)], scheme) {
		return u
	}
	host, path, slash := strings.Cut(u[len(scheme):], "/")
	out := scheme + strings.ToLower(host)
	if slash {
		out += "/" + path
	}
	return out
}

func buildSite(s *rawSite) Site {
	site := Site{Name: s.Name.V, Pos: s.P, WAC: s.WAC.values(), Operators: operators(s.Operators, nil)}
	if len(site.WAC) == 0 {
		site.WAC = nil
	}
	for _, p := range s.Pools {
		pool := buildPool(p)
		pool.Operators = operators(p.Operators, site.Operators)
		site.Pools = append(site.Pools, pool)
	}
	for _, p := range s.Directors {
		pool := buildPool(p)
		pool.Operators = operators(p.Operators, site.Operators)
		site.Directors = append(site.Directors, pool)
	}
	for _, e := range s.Edges {
		edge := buildEdge(e)
		edge.Operators = operators(e.Operators, site.Operators)
		site.EdgePools = append(site.EdgePools, edge)
	}
	for _, p := range s.RPs {
		rp := buildProxy(s, p)
		rp.Operators = operators(p.Operators, site.Operators)
		site.ReverseProxies = append(site.ReverseProxies, rp)
	}
	return site
}

func buildPool(p *rawPool) Pool {
	out := Pool{
		FQDN:        p.FQDN.V,
		Servers:     p.Servers.values(),
		WebInternal: p.WebInt.V,
		WebExternal: p.WebExt.V,
		Pos:         p.P,
	}
	if out.WebInternal == "" {
		out.WebInternal = out.FQDN
	}
	out.Standard = p.Standard || len(out.Servers) == 1 && out.Servers[0] == out.FQDN
	return out
}

func buildEdge(e *rawEdge) EdgePool {
	out := EdgePool{
		FQDN:                  e.FQDN.V,
		Servers:               e.Servers.values(),
		LoadBalancing:         strings.ToLower(e.LB.V),
		Access:                e.Access.V,
		WebConf:               e.WebConf.V,
		AV:                    e.AV.V,
		SeparateAVCertificate: e.SepAV.V,
		ExternalIssuer:        strings.ToLower(e.Issuer.V),
		Pos:                   e.P,
	}
	if out.LoadBalancing == "" {
		out.LoadBalancing = LoadBalancingDNS
		if len(out.Servers) <= 1 {
			out.LoadBalancing = LoadBalancingNone
		}
	}
	if out.ExternalIssuer == "" {
		out.ExternalIssuer = IssuerPublic
	}
	return out
}

func buildProxy(s *rawSite, p *rawRP) ReverseProxy {
	out := ReverseProxy{
		Name:            p.Name.V,
		Servers:         p.Servers.values(),
		Publishes:       p.Publishes.values(),
		Certificate:     strings.ToLower(p.Cert.V),
		CombineWithEdge: p.Combine.V,
		Issuer:          strings.ToLower(p.Issuer.V),
		Pos:             p.P,
	}
	if len(out.Publishes) == 0 {
		out.Publishes = nil
		for _, pool := range slices.Concat(s.Pools, s.Directors) {
			out.Publishes = append(out.Publishes, pool.FQDN.V)
		}
	}
	if out.Certificate == "" {
		out.Certificate = ProxyCertShared
	}
	if out.Issuer == "" {
		out.Issuer = IssuerPublic
	}
	return out
}

// operators is an element's own operators list, or (not given) the site's:
// an explicit empty list means no operators.
func operators(own slist, site []string) []string {
	if !own.Set {
		return site
	}
	var out []string
	for _, g := range own.values() {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}
