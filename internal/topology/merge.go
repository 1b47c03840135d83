package topology

import (
	"slices"
	"strings"
)

// mergeOverlay adds an overlay's settings to the base topology: scalar
// settings replace the base's, reverse proxies join the site of the same
// name, and edge pool settings apply to the edge pool of the same FQDN.
func mergeOverlay(base, ov *rawTopo, c *collector) {
	if ov.Version.Set && ov.Version.V != 1 {
		c.addf(ov.Version.P, "version", "set 'version: 1' or leave it out", "unsupported overlay version %d", ov.Version.V)
	}
	mergeOrg(&base.Org, ov.Org)
	setB(&base.Mobility, ov.Mobility)
	setB(&base.AOL, ov.AOL)
	if ov.XMPP.Set {
		base.XMPP = ov.XMPP
	}
	mergeSimpleURLs(base, ov)
	setS(&base.OWA, ov.OWA)
	if ov.ACME != nil {
		base.ACME = ov.ACME // the overlay's block replaces the document's
	}
	setS(&base.KeyAlg, ov.KeyAlg)
	if ov.KeyBits.Set {
		base.KeyBits = ov.KeyBits
	}
	for _, os := range ov.Sites {
		site := findSite(base, os.Name.V)
		if site == nil {
			var names []string
			for _, s := range base.Sites {
				names = append(names, s.Name.V)
			}
			at := os.Name.P
			if !os.Name.Set {
				at = os.P
			}
			c.addf(at, "unknown-site", "name a site of "+base.P.File+": "+strings.Join(names, ", "), "overlay site %q is not a site of the topology", os.Name.V)
			continue
		}
		site.RPs = append(site.RPs, os.RPs...)
		if os.Operators.Set {
			site.Operators = os.Operators // the overlay's list replaces the document's
		}
	}
	for _, es := range ov.EdgeSettings {
		e := findEdge(base, es.FQDN.V)
		if e == nil {
			at := es.FQDN.P
			if !es.FQDN.Set {
				at = es.P
			}
			c.addf(at, "unknown-edge-pool", "name an edge pool of "+base.P.File+" by its fqdn", "overlay edge pool %q is not an edge pool of the topology", es.FQDN.V)
			continue
		}
		setS(&e.LB, es.LB)
		setS(&e.Issuer, es.Issuer)
		setB(&e.SepAV, es.SepAV)
		if es.Operators.Set {
			e.Operators = es.Operators
		}
	}
}

// mergeSimpleURLs adds an overlay's simple URLs: a meet URL replaces the
// document's for its SIP domain (the others stay), dial-in and admin replace
// the document's.
func mergeSimpleURLs(base, ov *rawTopo) {
	if base.SimpleP.Line == 0 {
		base.SimpleP = ov.SimpleP
	}
	if base.MeetP.Line == 0 {
		base.MeetP = ov.MeetP
	}
	for _, om := range ov.Meet {
		i := slices.IndexFunc(base.Meet, func(m rawMeet) bool { return m.Domain.V == om.Domain.V })
		if i < 0 {
			base.Meet = append(base.Meet, om)
			continue
		}
		base.Meet[i] = om
	}
	setS(&base.Dialin, ov.Dialin)
	setS(&base.Admin, ov.Admin)
}

func mergeOrg(dst *rawOrg, src rawOrg) {
	setS(&dst.Name, src.Name)
	setS(&dst.Unit, src.Unit)
	setS(&dst.Locality, src.Locality)
	setS(&dst.State, src.State)
	setS(&dst.Country, src.Country)
}

func setS(dst *sval, src sval) {
	if src.Set {
		*dst = src
	}
}

func setB(dst *bval, src bval) {
	if src.Set {
		*dst = src
	}
}

func findSite(r *rawTopo, name string) *rawSite {
	for _, s := range r.Sites {
		if strings.EqualFold(s.Name.V, name) {
			return s
		}
	}
	return nil
}

func findEdge(r *rawTopo, fqdn string) *rawEdge {
	for _, s := range r.Sites {
		for _, e := range s.Edges {
			if e.FQDN.V == fqdn {
				return e
			}
		}
	}
	return nil
}
