package topology

import "gopkg.in/yaml.v3"

// The key tables of the YAML format, version 1 (docs/topology.md). An
// overlay accepts a subset of the keys (simple_urls with the same schema),
// plus edge_pools at the top.

func (d *ydec) topFields(r *rawTopo) map[string]fieldFn {
	f := map[string]fieldFn{
		"version": func(_, v *yaml.Node) { r.Version = d.integer(v, "version") },
		"organization": func(_, v *yaml.Node) {
			d.mapping(v, "organization", d.orgFields(&r.Org))
		},
		"mobility":      func(_, v *yaml.Node) { r.Mobility = d.boolean(v, "mobility") },
		"public_im_aol": func(_, v *yaml.Node) { r.AOL = d.boolean(v, "public_im_aol") },
		"xmpp_domains":  func(_, v *yaml.Node) { r.XMPP = d.strList(v, "xmpp_domains", true) },
		"office_web_apps": func(_, v *yaml.Node) {
			r.OWA = d.str(v, "office_web_apps", true)
		},
		"key": func(k, v *yaml.Node) {
			r.KeyP = d.pos(k)
			d.mapping(v, "key", map[string]fieldFn{
				"algorithm": func(_, v *yaml.Node) { r.KeyAlg = d.str(v, "key.algorithm", false) },
				"bits":      func(_, v *yaml.Node) { r.KeyBits = d.integer(v, "key.bits") },
			})
		},
		"sites": func(_, v *yaml.Node) {
			d.seq(v, "sites", func(it *yaml.Node) {
				s := &rawSite{P: d.pos(it)}
				d.mapping(it, "a site", d.siteFields(s))
				r.Sites = append(r.Sites, s)
			})
		},
	}
	f["simple_urls"] = func(k, v *yaml.Node) {
		r.SimpleP = d.pos(k)
		d.mapping(v, "simple_urls", map[string]fieldFn{
			"meet":   func(k, v *yaml.Node) { d.meet(r, k, v) },
			"dialin": func(_, v *yaml.Node) { r.Dialin = d.str(v, "simple_urls.dialin", false) },
			"admin":  func(_, v *yaml.Node) { r.Admin = d.str(v, "simple_urls.admin", false) },
		})
	}
	f["acme"] = func(k, v *yaml.Node) { d.acme(r, k, v) }
	if d.overlay {
		f["edge_pools"] = func(_, v *yaml.Node) {
			d.seq(v, "edge_pools", func(it *yaml.Node) {
				e := &rawEdge{P: d.pos(it)}
				d.mapping(it, "an edge pool setting", map[string]fieldFn{
					"fqdn":                    func(_, v *yaml.Node) { e.FQDN = d.str(v, "edge_pools.fqdn", true) },
					"load_balancing":          func(_, v *yaml.Node) { e.LB = d.str(v, "load_balancing", false) },
					"separate_av_certificate": func(_, v *yaml.Node) { e.SepAV = d.boolean(v, "separate_av_certificate") },
					"external_issuer":         func(_, v *yaml.Node) { e.Issuer = d.str(v, "external_issuer", false) },
					"operators":               func(_, v *yaml.Node) { e.Operators = d.strList(v, "operators", false) },
				})
				r.EdgeSettings = append(r.EdgeSettings, e)
			})
		}
		return f
	}
	f["sip_domains"] = func(_, v *yaml.Node) { r.SIPDomains = d.strList(v, "sip_domains", true) }
	return f
}

func (d *ydec) orgFields(o *rawOrg) map[string]fieldFn {
	return map[string]fieldFn{
		"name":     func(_, v *yaml.Node) { o.Name = d.str(v, "organization.name", false) },
		"unit":     func(_, v *yaml.Node) { o.Unit = d.str(v, "organization.unit", false) },
		"locality": func(_, v *yaml.Node) { o.Locality = d.str(v, "organization.locality", false) },
		"state":    func(_, v *yaml.Node) { o.State = d.str(v, "organization.state", false) },
		"country":  func(_, v *yaml.Node) { o.Country = d.str(v, "organization.country", false) },
	}
}

// meet reads simple_urls.meet: a mapping from SIP domain to URL.
func (d *ydec) meet(r *rawTopo, k, v *yaml.Node) {
	r.MeetP = d.pos(k)
	n := resolve(v)
	if n == nil || isNull(n) || !d.visit(v) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.typeErr(v, "simple_urls.meet", "a mapping from SIP domain to URL")
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		dom := d.str(n.Content[i], "a SIP domain of simple_urls.meet", true)
		if !dom.Set {
			continue
		}
		if line, dup := seen[dom.V]; dup {
			d.c.addf(dom.P, "duplicate-key", "keep one meet URL per SIP domain", "the meet URL of %s is already set on line %d", dom.V, line)
			continue
		}
		seen[dom.V] = dom.P.Line
		r.Meet = append(r.Meet, rawMeet{Domain: dom, URL: d.str(n.Content[i+1], "the meet URL of "+dom.V, false)})
	}
}

func (d *ydec) siteFields(s *rawSite) map[string]fieldFn {
	f := map[string]fieldFn{
		"name": func(_, v *yaml.Node) { s.Name = d.str(v, "site name", false) },
		"reverse_proxies": func(_, v *yaml.Node) {
			d.seq(v, "reverse_proxies", func(it *yaml.Node) {
				p := &rawRP{P: d.pos(it)}
				d.mapping(it, "a reverse proxy", d.proxyFields(p))
				s.RPs = append(s.RPs, p)
			})
		},
		"operators": func(_, v *yaml.Node) { s.Operators = d.strList(v, "operators", false) },
	}
	if d.overlay {
		return f
	}
	pools := func(what string, dst *[]*rawPool) fieldFn {
		return func(_, v *yaml.Node) {
			d.seq(v, what, func(it *yaml.Node) {
				p := &rawPool{P: d.pos(it)}
				d.mapping(it, "a pool", map[string]fieldFn{
					"fqdn":         func(_, v *yaml.Node) { p.FQDN = d.str(v, "fqdn", true) },
					"servers":      func(_, v *yaml.Node) { p.Servers = d.strList(v, "servers", true) },
					"web_internal": func(_, v *yaml.Node) { p.WebInt = d.str(v, "web_internal", true) },
					"web_external": func(_, v *yaml.Node) { p.WebExt = d.str(v, "web_external", true) },
					"operators":    func(_, v *yaml.Node) { p.Operators = d.strList(v, "operators", false) },
				})
				*dst = append(*dst, p)
			})
		}
	}
	f["pools"] = pools("pools", &s.Pools)
	f["directors"] = pools("directors", &s.Directors)
	f["edge_pools"] = func(_, v *yaml.Node) {
		d.seq(v, "edge_pools", func(it *yaml.Node) {
			e := &rawEdge{P: d.pos(it)}
			d.mapping(it, "an edge pool", d.edgeFields(e))
			s.Edges = append(s.Edges, e)
		})
	}
	return f
}

func (d *ydec) edgeFields(e *rawEdge) map[string]fieldFn {
	return map[string]fieldFn{
		"fqdn":                    func(_, v *yaml.Node) { e.FQDN = d.str(v, "fqdn", true) },
		"servers":                 func(_, v *yaml.Node) { e.Servers = d.strList(v, "servers", true) },
		"load_balancing":          func(_, v *yaml.Node) { e.LB = d.str(v, "load_balancing", false) },
		"access":                  func(_, v *yaml.Node) { e.Access = d.str(v, "access", true) },
		"webconf":                 func(_, v *yaml.Node) { e.WebConf = d.str(v, "webconf", true) },
		"av":                      func(_, v *yaml.Node) { e.AV = d.str(v, "av", true) },
		"separate_av_certificate": func(_, v *yaml.Node) { e.SepAV = d.boolean(v, "separate_av_certificate") },
		"external_issuer":         func(_, v *yaml.Node) { e.Issuer = d.str(v, "external_issuer", false) },
		"operators":               func(_, v *yaml.Node) { e.Operators = d.strList(v, "operators", false) },
	}
}

func (d *ydec) proxyFields(p *rawRP) map[string]fieldFn {
	return map[string]fieldFn{
		"name":              func(_, v *yaml.Node) { p.Name = d.str(v, "reverse proxy name", false) },
		"servers":           func(_, v *yaml.Node) { p.Servers = d.strList(v, "servers", true) },
		"publishes":         func(_, v *yaml.Node) { p.Publishes = d.strList(v, "publishes", true) },
		"certificate":       func(_, v *yaml.Node) { p.Cert = d.str(v, "certificate", false) },
		"combine_with_edge": func(_, v *yaml.Node) { p.Combine = d.str(v, "combine_with_edge", true) },
		"issuer":            func(_, v *yaml.Node) { p.Issuer = d.str(v, "issuer", false) },
		"operators":         func(_, v *yaml.Node) { p.Operators = d.strList(v, "operators", false) },
	}
}
