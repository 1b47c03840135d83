package plan

import (
	"fmt"
	"strings"

	"edgecert/internal/topology"
)

// Name groups of the reverse proxy names (R53), in SAN order (M1). They
// come after the edge groups so that a combined certificate lists the edge
// names first.
const (
	groupPoolWeb = iota + 10
	groupDirectorWeb
	groupMeet
	groupDialin
	groupOfficeWebApps
	groupLyncDiscover
)

// meetHost is the base host of one SIP domain's meet simple URL.
type meetHost struct{ domain, host string }

// simpleURLs holds the base hosts of the simple URLs (R85).
type simpleURLs struct {
	meet   []meetHost
	dialin string
	admin  string
}

// parseSimpleURLs reads the base host of every simple URL (R83–R85).
func (b *builder) parseSimpleURLs() simpleURLs {
	var out simpleURLs
	pos := topology.Pos{File: b.t.Source}
	for _, dom := range b.t.SIPDomains {
		raw, ok := b.t.SimpleURLs.Meet[dom]
		if !ok {
			raw, ok = b.t.SimpleURLs.Meet[strings.ToLower(dom)]
		}
		if !ok || raw == "" {
			continue // the loader reports a missing meet URL (R83)
		}
		h, err := urlHost(raw)
		if err != nil {
			b.problem(pos, "R84", fmt.Sprintf("meet URL of %s: %v", dom, err), "use https://<host>[/path]")
			continue
		}
		out.meet = append(out.meet, meetHost{domain: strings.ToLower(dom), host: h})
	}
	for _, u := range []struct {
		raw  string
		dst  *string
		name string
	}{{b.t.SimpleURLs.Dialin, &out.dialin, "dialin"}, {b.t.SimpleURLs.Admin, &out.admin, "admin"}} {
		if u.raw == "" {
			continue
		}
		h, err := urlHost(u.raw)
		if err != nil {
			b.problem(pos, "R84", fmt.Sprintf("%s URL: %v", u.name, err), "use https://<host>[/path]")
			continue
		}
		*u.dst = h
	}
	return out
}

// reverseProxy plans the certificate(s) of one reverse proxy (R50–R65):
// one shared certificate, one per published pool (R59), or one combined
// with an edge pool's external certificate (R60).
func (b *builder) reverseProxy(s *topology.Site, rp *topology.ReverseProxy) {
	published := b.published(s, rp)
	if len(published) == 0 {
		b.problem(rp.Pos, "R52", fmt.Sprintf("reverse proxy %s publishes no pool or director", rp.Name), "add a pool or director with web_external to the site, or list them in publishes")
		return
	}
	if len(rp.Servers) == 0 {
		b.problem(rp.Pos, "R50", fmt.Sprintf("reverse proxy %s has no server", rp.Name), "list its servers")
		return
	}
	if rp.CombineWithEdge != "" {
		b.combined(s, rp, published)
		return
	}
	if strings.EqualFold(rp.Certificate, topology.ProxyCertPerPool) {
		for i, p := range published {
			b.proxyCert(s, rp, published[i:i+1], i == 0, KindReverseProxy+pathSep+rp.Name+pathSep+strings.ToLower(p.pool.FQDN))
		}
		return
	}
	b.proxyCert(s, rp, published, true, KindReverseProxy+pathSep+rp.Name)
}

// published resolves the pools and directors a reverse proxy publishes:
// those listed, or every pool and director of its site.
func (b *builder) published(s *topology.Site, rp *topology.ReverseProxy) []poolRef {
	var out []poolRef
	if len(rp.Publishes) == 0 {
		for i := range s.Pools {
			out = append(out, poolRef{pool: &s.Pools[i], site: s})
		}
		for i := range s.Directors {
			out = append(out, poolRef{pool: &s.Directors[i], site: s, director: true})
		}
	} else {
		for _, f := range rp.Publishes {
			ref, ok := b.pools[strings.ToLower(f)]
			if !ok {
				b.problem(rp.Pos, "R53", fmt.Sprintf("reverse proxy %s publishes %s, which is not a pool or director of the topology", rp.Name, f), "list the FQDN of a pool or director")
				continue
			}
			out = append(out, ref)
		}
	}
	ok := out[:0]
	for _, p := range out {
		if p.pool.WebExternal == "" {
			b.problem(rp.Pos, "R52", fmt.Sprintf("reverse proxy %s publishes %s, which has no web_external", rp.Name, p.pool.FQDN), "set web_external on that pool, or leave it out of publishes")
			continue
		}
		ok = append(ok, p)
	}
	return ok
}

// proxyCert plans one reverse proxy certificate for the given pools; shared
// says whether it also carries the names every listener shares (simple
// URLs, Office Web Apps, lyncdiscover).
func (b *builder) proxyCert(s *topology.Site, rp *topology.ReverseProxy, pools []poolRef, shared bool, id string) {
	d := b.newDraft(KindReverseProxy, id, s.Name)
	d.c.Usages = []string{UsageWebServicesExternal}
	d.c.FriendlyName = friendlyProxy + strings.TrimPrefix(id, KindReverseProxy+pathSep)
	d.setServers(rp.Servers)
	subject := strings.ToLower(pools[0].pool.WebExternal)
	b.checkSubject(rp.Pos, subject, "web_external")
	d.names.setSubject(subject, "external web services FQDN of the first published pool: subject and first SAN", "R52", "M5")
	b.proxyNames(d, s, rp, pools, shared)
	d.rules = append(d.rules, "R50", "R56", "M6")
	if len(pools) == 1 && !shared || strings.EqualFold(rp.Certificate, topology.ProxyCertPerPool) {
		d.rules = append(d.rules, "R59")
	}
	if len(rp.Servers) > 1 {
		d.c.Key.Exportable = true
		d.rules = append(d.rules, "R10", "R58", "M11")
	} else {
		d.rules = append(d.rules, "M11")
	}
	b.proxyIssuer(d, rp.Issuer)
	d.c.EKU = append(d.c.EKU, EKUClientAuth)
}

// proxyNames adds the reverse proxy names of R53 to d, then the
// reverse-proxy endpoints and warnings (R54, R65).
func (b *builder) proxyNames(d *draft, s *topology.Site, rp *topology.ReverseProxy, pools []poolRef, shared bool) {
	var published []string
	add := func(group int, name, why string, rules ...string) {
		d.names.add(group, name, why, rules...)
		published = append(published, name)
	}
	for _, p := range pools {
		if p.director {
			add(groupDirectorWeb, p.pool.WebExternal, "external web FQDN of Director "+strings.ToLower(p.pool.FQDN), "R53")
		} else {
			add(groupPoolWeb, p.pool.WebExternal, "external web services FQDN of pool "+strings.ToLower(p.pool.FQDN), "R53")
		}
	}
	if shared {
		for _, m := range b.urls.meet {
			add(groupMeet, m.host, "meet simple URL of "+m.domain+" (base host)", "R53", "R85")
		}
		if b.urls.dialin != "" {
			add(groupDialin, b.urls.dialin, "dial-in simple URL (base host)", "R53", "R85")
		}
		for _, o := range b.officeWebApps(s) {
			add(groupOfficeWebApps, o, "Office Web Apps Server FQDN", "R53", "R63")
		}
		if b.t.Mobility {
			for _, dn := range b.domains {
				add(groupLyncDiscover, dn.discover, dn.discoverWhy, "R53", "M8")
			}
			b.lyncDiscoverDomains(d, pools)
		}
	}
	if b.urls.admin != "" && d.names.has(b.urls.admin) {
		d.warn("R54: certificate %s: the admin simple URL %s shares its host %s with a published name, so the reverse proxy would publish it; the admin URL is internal only: give it a host of its own that is not published", d.c.ID, b.t.SimpleURLs.Admin, b.urls.admin)
	}
	// The reverse proxy listens on 443 for every name it publishes.
	for _, name := range published {
		if !isWildcard(name) {
			d.c.Endpoints = append(d.c.Endpoints, endpoint(name, portHTTPS))
		}
	}
}

// lyncDiscoverDomains warns (R65) when lyncdiscover.<domain> would be a
// CNAME to the autodiscover target (the first published Director, else the
// first published pool) in another domain: mobile clients over HTTPS do not
// follow such a redirection.
func (b *builder) lyncDiscoverDomains(d *draft, pools []poolRef) {
	target := pools[0]
	for _, p := range pools {
		if p.director {
			target = p
			break
		}
	}
	host := strings.ToLower(target.pool.WebExternal)
	for _, dom := range b.t.SIPDomains {
		dom = strings.ToLower(dom)
		if inDomain(host, dom) {
			continue
		}
		d.warn("R65: certificate %s: lyncdiscover.%s must not be a CNAME to the autodiscover target %s, which is in another domain: mobile clients over HTTPS do not follow a CNAME to a different domain; publish lyncdiscover.%s as an A record for the reverse proxy's address, or use a target in %s", d.c.ID, dom, host, dom, dom)
	}
}

// officeWebApps returns the Office Web Apps FQDNs a reverse proxy of s
// publishes: the topology's office_web_apps, else the site's WAC servers.
func (b *builder) officeWebApps(s *topology.Site) []string {
	if b.t.OfficeWebApps != "" {
		return []string{b.t.OfficeWebApps}
	}
	return s.WAC
}

// proxyIssuer sets a reverse proxy certificate's issuer: public (R50, R94)
// unless the topology says internal (M12).
func (b *builder) proxyIssuer(d *draft, issuer string) {
	if strings.EqualFold(issuer, topology.IssuerInternal) {
		d.c.Issuer = topology.IssuerInternal
		d.rules = append(d.rules, "M12")
		d.warn("R94: certificate %s is issued by the internal CA (issuer: internal): remote and mobile clients will not trust it; use it for labs only", d.c.ID)
		return
	}
	d.c.Issuer = topology.IssuerPublic
	d.rules = append(d.rules, "R50", "R94", "M12")
}

// combined merges a reverse proxy's names into an edge pool's external
// certificate (R60): one certificate, the union of the names, an
// exportable key, installed on the edge servers and the proxy servers.
func (b *builder) combined(s *topology.Site, rp *topology.ReverseProxy, pools []poolRef) {
	edgeFQDN := strings.ToLower(rp.CombineWithEdge)
	d, ok := b.edgeExt[edgeFQDN]
	if !ok {
		b.problem(rp.Pos, "R60", fmt.Sprintf("reverse proxy %s combines with edge pool %s, which is not in the topology", rp.Name, rp.CombineWithEdge), "name an edge pool's fqdn in combine_with_edge")
		return
	}
	if strings.EqualFold(rp.Certificate, topology.ProxyCertPerPool) {
		d.warn("R60: reverse proxy %s has certificate: per-pool and combine_with_edge: one combined certificate %s carries every published name", rp.Name, KindEdgeExternalAndProxy+pathSep+edgeFQDN)
	}
	if d.c.Kind == KindEdgeExternal {
		d.c.Kind = KindEdgeExternalAndProxy
		d.c.ID = KindEdgeExternalAndProxy + pathSep + edgeFQDN
		d.c.FriendlyName = friendlyCombined + edgeFQDN
		for i, w := range d.warnings {
			d.warnings[i] = strings.ReplaceAll(w, KindEdgeExternal+pathSep+edgeFQDN, d.c.ID)
		}
	}
	d.c.Usages = append(d.c.Usages, UsageWebServicesExternal)
	d.c.Servers = append(d.c.Servers, rp.Servers...)
	d.c.Key.Exportable = true
	d.c.EKU = append(d.c.EKU, EKUClientAuth)
	d.rules = append(d.rules, "R56", "R60", "M6", "M11")
	b.proxyNames(d, s, rp, pools, true)
	if !strings.EqualFold(rp.Issuer, topology.IssuerInternal) && d.c.Issuer != topology.IssuerPublic {
		d.c.Issuer = topology.IssuerPublic
		d.warn("M12: certificate %s: the edge pool asks for the internal CA but reverse proxy %s for a public one; the combined certificate is public", d.c.ID, rp.Name)
	}
}
