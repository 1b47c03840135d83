package plan

import (
	"strings"

	"edgecert/internal/topology"
)

// Name groups of the internal-server certificates, in SAN order (M1).
const (
	groupWebFQDN = iota + 20
	groupServer
	groupPool
	groupSIP
	groupSimpleMeet
	groupSimpleDialin
	groupSimpleAdmin
	groupDiscover
)

// internalServers plans the certificates of each server of a Front End
// pool, Standard Edition server or Director pool (R66–R75, M7): a Default,
// a Web internal and a Web external certificate per server, each made on
// that server with a non-exportable key, from the internal CA.
func (b *builder) internalServers(s *topology.Site, p *topology.Pool, director bool) {
	servers := p.Servers
	if len(servers) == 0 {
		servers = []string{p.FQDN} // a Standard Edition server is its own pool
	}
	for _, srv := range servers {
		srv = strings.ToLower(srv)
		b.defaultCert(s, p, srv, director)
		b.webInternal(s, p, srv, director)
		b.webExternal(s, p, srv, director)
	}
}

// serverDraft starts one of the three per-server certificates.
func (b *builder) serverDraft(s *topology.Site, p *topology.Pool, srv, kind, usage, friendly string, director bool) *draft {
	d := b.newDraft(kind, kind+pathSep+srv, s.Name)
	d.c.Usages = []string{usage}
	d.c.FriendlyName = friendly + srv
	d.setServers([]string{srv})
	pool := strings.ToLower(p.FQDN)
	b.checkSubject(p.Pos, pool, "pool fqdn")
	d.names.setSubject(pool, "pool FQDN: subject and first SAN", "R68", "M5", "M7")
	d.rules = append(d.rules, "R66", "R67", "M7", "M11", "M12")
	if director {
		d.rules = append(d.rules, "R71")
	}
	return d
}

// defaultCert: SN the pool FQDN, SANs pool and server FQDN and sip.<domain>
// for every SIP domain (R68).
func (b *builder) defaultCert(s *topology.Site, p *topology.Pool, srv string, director bool) {
	d := b.serverDraft(s, p, srv, KindDefault, UsageDefault, friendlyDefault, director)
	d.names.add(groupServer, srv, "server FQDN", "R68")
	for _, dn := range b.domains {
		d.names.add(groupSIP, dn.sip, dn.sipWhyFE, "R68")
	}
	d.c.Endpoints = []string{endpoint(srv, portSIPTLS)}
}

// webInternal: internal web FQDN, server and pool FQDN, every meet URL, the
// dial-in and admin URLs (R69) and lyncdiscoverinternal.<domain> for every
// SIP domain when mobility is on (R75, M8).
func (b *builder) webInternal(s *topology.Site, p *topology.Pool, srv string, director bool) {
	d := b.serverDraft(s, p, srv, KindWebInternal, UsageWebServicesInternal, friendlyWebInternal, director)
	web := p.WebInternal
	if web == "" {
		web = p.FQDN
	}
	d.names.add(groupWebFQDN, web, "internal web services FQDN", "R69")
	d.names.add(groupServer, srv, "server FQDN", "R69")
	d.names.add(groupPool, p.FQDN, "pool FQDN", "R69")
	b.simpleURLNames(d.names, "R69")
	if b.urls.admin != "" {
		d.names.add(groupSimpleAdmin, b.urls.admin, "admin simple URL (base host): internal only", "R69", "R54")
	}
	if b.t.Mobility {
		for _, dn := range b.domains {
			d.names.add(groupDiscover, dn.discoverInt, dn.intWhy, "R75", "M8")
		}
	}
	d.c.Endpoints = []string{endpoint(srv, portHTTPS)}
}

// webExternal: external web FQDN, every meet URL and the dial-in URL (R70),
// lyncdiscover.<domain> for every SIP domain when mobility is on (R75, M8);
// never the admin URL (R54).
func (b *builder) webExternal(s *topology.Site, p *topology.Pool, srv string, director bool) {
	d := b.serverDraft(s, p, srv, KindWebExternal, UsageWebServicesExternal, friendlyWebExternal, director)
	if p.WebExternal != "" {
		d.names.add(groupWebFQDN, p.WebExternal, "external web services FQDN", "R70")
	}
	b.simpleURLNames(d.names, "R70")
	if b.t.Mobility {
		for _, dn := range b.domains {
			d.names.add(groupDiscover, dn.discover, dn.discoverWhy, "R75", "M8")
		}
	}
	d.rules = append(d.rules, "R54")
	d.c.Endpoints = []string{endpoint(srv, portWebExternalFE)}
}

// simpleURLNames adds the meet and dial-in base hosts (R85) under rule.
func (b *builder) simpleURLNames(n *nameSet, rule string) {
	for _, m := range b.urls.meet {
		n.add(groupSimpleMeet, m.host, "meet simple URL of "+m.domain+" (base host)", rule, "R85")
	}
	if b.urls.dialin != "" {
		n.add(groupSimpleDialin, b.urls.dialin, "dial-in simple URL (base host)", rule, "R85")
	}
}

// oauth plans the one global OAuthTokenIssuer certificate (R78): the same
// certificate on every Front End server, exportable, at least 2048-bit RSA
// (R79, M10), with the default SIP domain as its subject (R79).
func (b *builder) oauth() {
	var servers []string
	for _, s := range b.t.Sites {
		for _, p := range s.Pools {
			if len(p.Servers) == 0 {
				servers = append(servers, strings.ToLower(p.FQDN))
			}
			for _, srv := range p.Servers {
				servers = append(servers, strings.ToLower(srv))
			}
		}
	}
	if len(servers) == 0 || len(b.t.SIPDomains) == 0 {
		return
	}
	d := b.newDraft(KindOAuth, KindOAuth+pathSep+"global", globalSite)
	d.c.Usages = []string{UsageOAuthTokenIssuer}
	d.c.FriendlyName = friendlyOAuth
	d.setServers(servers)
	d.c.Key.Exportable = true
	if d.c.Key.Algorithm != AlgorithmRSA || d.c.Key.Bits < minOAuthRSABits {
		d.c.Key.Algorithm, d.c.Key.Bits = AlgorithmRSA, minOAuthRSABits
	}
	dom := strings.ToLower(b.t.SIPDomains[0])
	d.names.setSubject(dom, "default SIP domain: a web server certificate with the SIP domain in the subject", "R79", "M5")
	d.rules = append(d.rules, "R78", "R10", "M10", "M11", "M12")
}
