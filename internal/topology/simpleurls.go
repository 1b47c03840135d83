package topology

// defaultSimpleURLs gives a Topology Builder document that has no Meet
// simple URL, or no Dialin simple URL (Get-CsTopology -AsXml output and lab
// templates often have no SimpleUrlConfiguration), what Topology Builder
// fills in when it publishes: https://meet.<SIP domain> for every SIP
// domain, https://dialin.<default SIP domain>. What the overlay sets is
// kept; each URL filled in gets a warning that names it. A SIP domain that
// is not a DNS name gets none (it is reported as such). A document that
// has Meet URLs for some SIP domains only is left to R83: that is a choice
// the document made, not a document without simple URLs.
func defaultSimpleURLs(r *rawTopo, c *collector) {
	if !r.XML {
		return
	}
	if r.NoMeet {
		have := map[string]bool{}
		for _, m := range r.Meet {
			have[m.Domain.V] = true
		}
		for _, d := range r.SIPDomains.Items {
			if have[d.V] || dnsNameProblem(d.V) != "" {
				continue
			}
			have[d.V] = true
			u := "https://meet." + d.V
			r.Meet = append(r.Meet, rawMeet{Domain: d, URL: sval{V: u, P: d.P, Set: true}})
			c.warn("R83: the Topology Builder document has no meet simple URL: the meet URL of %s is Topology Builder's default %s; to use another, give simple_urls: {meet: {%s: URL}} in an overlay", d.V, u, d.V)
		}
	}
	if items := r.SIPDomains.Items; r.NoDialin && !r.Dialin.Set && !r.Dialin.Bad && len(items) > 0 && dnsNameProblem(items[0].V) == "" {
		u := "https://dialin." + items[0].V
		r.Dialin = sval{V: u, P: items[0].P, Set: true}
		c.warn("R83: the Topology Builder document has no dial-in simple URL: the dial-in URL is Topology Builder's default %s; to use another, give simple_urls: {dialin: URL} in an overlay", u)
	}
}
