package plan

import (
	"fmt"
	"strings"

	"edgecert/internal/topology"
)

// Name groups of the edge external certificate, in SAN order (M1).
const (
	groupWebConf = iota + 1
	groupSIPDomain
	groupXMPP
)

// edgePool plans the certificates of one edge pool: the internal interface
// (R33–R40), the external interface (R13–R29) and, when asked, a separate
// A/V Authentication certificate (R28, M3).
func (b *builder) edgePool(s *topology.Site, ep *topology.EdgePool) {
	if len(ep.Servers) == 0 {
		b.problem(ep.Pos, "R33", fmt.Sprintf("edge pool %s has no server", ep.FQDN), "list its Edge Servers in servers")
		return
	}
	if ep.Access == "" || ep.WebConf == "" {
		b.problem(ep.Pos, "R17", fmt.Sprintf("edge pool %s lacks its access or webconf external FQDN", ep.FQDN), "set access and webconf")
		return
	}
	b.edgeInternal(s, ep)
	b.edgeExternal(s, ep)
	if ep.SeparateAVCertificate {
		b.edgeAV(s, ep)
	}
}

// edgeInternal: one certificate per edge pool (R33, R40), subject and only
// SAN the internal FQDN (R35, R36, M5), server EKU (R37), internal CA (R34,
// M12), exportable when the pool has more than one server (R38, M11).
func (b *builder) edgeInternal(s *topology.Site, ep *topology.EdgePool) {
	fqdn := strings.ToLower(ep.FQDN)
	d := b.newDraft(KindEdgeInternal, KindEdgeInternal+pathSep+fqdn, s.Name)
	d.c.Usages = []string{UsageInternal}
	d.c.FriendlyName = friendlyEdgeInt + fqdn
	d.c.Endpoints = []string{endpoint(fqdn, portSIPTLS)}
	d.setServers(ep.Servers)
	b.checkSubject(ep.Pos, fqdn, "edge pool fqdn")
	d.names.setSubject(fqdn, "edge internal interface FQDN (or its load balancer VIP): subject and first SAN", "R35", "R36", "M5")
	d.rules = append(d.rules, "R33", "R34", "R37", "R40", "M11", "M12")
	if len(ep.Servers) > 1 {
		d.c.Key.Exportable = true
		d.rules = append(d.rules, "R10", "R38", "R39")
	}
}

// edgeExternal: one certificate shared by every server of the pool (R27),
// subject the Access Edge FQDN (R15, M2), SANs access, webconf (R17),
// sip.<domain> for every SIP domain (R18) and every XMPP domain (R25, M4),
// never the A/V FQDN (R19, M3) nor a wildcard (R22); always exportable (R26);
// public CA unless the topology says internal (R13, R94, M12).
func (b *builder) edgeExternal(s *topology.Site, ep *topology.EdgePool) {
	fqdn := strings.ToLower(ep.FQDN)
	d := b.newDraft(KindEdgeExternal, KindEdgeExternal+pathSep+fqdn, s.Name)
	d.c.FriendlyName = friendlyEdgeExt + fqdn
	d.c.Key.Exportable = true
	d.setServers(ep.Servers)
	d.c.Usages = []string{UsageAccessEdgeExternal, UsageDataEdgeExternal}
	d.rules = append(d.rules, "R14", "R22", "R26", "R10", "M11", "M12")
	if !ep.SeparateAVCertificate {
		d.c.Usages = append(d.c.Usages, UsageAudioVideoAuthentication)
		d.rules = append(d.rules, "R19", "R29", "M3")
	}
	if len(b.t.XMPPDomains) > 0 {
		d.c.Usages = append(d.c.Usages, UsageXMPPServer)
	}
	if len(ep.Servers) > 1 {
		d.rules = append(d.rules, "R27")
	}
	b.externalIssuer(d, ep)
	if b.t.PublicIMAOL {
		d.c.EKU = append(d.c.EKU, EKUClientAuth)
		d.rules = append(d.rules, "R23", "R24")
	} else {
		d.rules = append(d.rules, "R23")
	}
	b.edgeExternalNames(d.names, ep)
	d.c.Endpoints = []string{endpoint(ep.Access, portHTTPS), endpoint(ep.WebConf, portHTTPS)}
	b.edgeExt[fqdn] = d
}

// edgeExternalNames adds the names of the edge external certificate.
func (b *builder) edgeExternalNames(n *nameSet, ep *topology.EdgePool) {
	access := strings.ToLower(ep.Access)
	b.checkSubject(ep.Pos, access, "access")
	n.setSubject(access, "Access Edge external FQDN (or VIP): subject and first SAN", "R15", "R16", "R17", "M2")
	n.add(groupWebConf, ep.WebConf, "Web Conferencing Edge external FQDN (or VIP)", "R17")
	for _, dn := range b.domains {
		n.add(groupSIPDomain, dn.sip, dn.sipWhy, "R18", "R21")
	}
	for _, x := range b.t.XMPPDomains {
		if isWildcard(x) {
			b.problem(ep.Pos, "R22", fmt.Sprintf("XMPP domain %q is a wildcard", x), "list each XMPP domain explicitly (M4)")
			continue
		}
		n.add(groupXMPP, x, "XMPP federation domain "+strings.ToLower(x), "R25", "M4")
	}
	if isWildcard(ep.WebConf) {
		b.problem(ep.Pos, "R22", fmt.Sprintf("webconf %q is a wildcard", ep.WebConf), "give the explicit Web Conferencing Edge FQDN")
	}
}

// edgeAV: the separate A/V Authentication certificate (R28): subject the
// A/V Edge external FQDN (M3), exportable (R26), the same on every server of
// the pool (R27, R28).
func (b *builder) edgeAV(s *topology.Site, ep *topology.EdgePool) {
	fqdn := strings.ToLower(ep.FQDN)
	av := strings.ToLower(ep.AV)
	if av == "" {
		b.problem(ep.Pos, "R28", fmt.Sprintf("edge pool %s asks for a separate A/V certificate but has no av FQDN", ep.FQDN), "set av, or drop separate_av_certificate")
		return
	}
	b.checkSubject(ep.Pos, av, "av")
	d := b.newDraft(KindEdgeAV, KindEdgeAV+pathSep+fqdn, s.Name)
	d.c.Usages = []string{UsageAudioVideoAuthentication}
	d.c.FriendlyName = friendlyEdgeAV + fqdn
	d.c.Key.Exportable = true
	d.setServers(ep.Servers)
	d.names.setSubject(av, "A/V Edge external FQDN: subject of the separate A/V Authentication certificate", "R28", "M3", "M5")
	d.rules = append(d.rules, "R26", "R27", "R28", "R10", "M11", "M12")
	b.externalIssuer(d, ep)
}

// externalIssuer sets the issuer of an edge external certificate (M12).
func (b *builder) externalIssuer(d *draft, ep *topology.EdgePool) {
	if strings.EqualFold(ep.ExternalIssuer, topology.IssuerInternal) {
		d.c.Issuer = topology.IssuerInternal
		d.rules = append(d.rules, "R94")
		d.warn("R94: certificate %s is issued by the internal CA (external_issuer: internal): federation partners, public IM providers and remote clients will not trust it; use it for labs only", d.c.ID)
		return
	}
	d.c.Issuer = topology.IssuerPublic
	d.rules = append(d.rules, "R13", "R94")
}

// checkSubject refuses a wildcard where a subject name goes (R7).
func (b *builder) checkSubject(pos topology.Pos, name, field string) {
	if isWildcard(name) {
		b.problem(pos, "R7", fmt.Sprintf("%s %q is a wildcard, but it is a subject name", field, name), "give an explicit FQDN: a wildcard is never a subject name")
	}
}
