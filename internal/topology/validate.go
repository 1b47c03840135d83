package topology

import (
	"slices"
	"strings"
)

// validator checks a merged raw topology against every rule of
// docs/topology.md and reports each violation with its position.
type validator struct {
	c *collector
	r *rawTopo
	// pools maps every Front End pool and Director FQDN to its pool.
	pools map[string]*rawPool
	// poolNames holds every pool, Director and edge pool FQDN (R84).
	poolNames []string
}

func validate(r *rawTopo, c *collector) {
	v := &validator{c: c, r: r, pools: map[string]*rawPool{}}
	for _, s := range r.Sites {
		for _, p := range slices.Concat(s.Pools, s.Directors) {
			if p.FQDN.Set {
				if _, dup := v.pools[p.FQDN.V]; !dup {
					v.pools[p.FQDN.V] = p
				}
				v.poolNames = append(v.poolNames, p.FQDN.V)
			}
		}
		for _, e := range s.Edges {
			if e.FQDN.Set {
				v.poolNames = append(v.poolNames, e.FQDN.V)
			}
		}
	}
	v.header()
	v.sipDomains()
	v.simpleURLs()
	v.sites()
	v.uniqueness()
	v.acme()
	v.operators()
}

func (v *validator) add(p Pos, rule, fix, format string, args ...any) {
	v.c.addf(p, rule, fix, format, args...)
}

// at returns p, or the document start when p is unknown.
func (v *validator) at(p Pos) Pos {
	if p.Line == 0 {
		return v.r.P
	}
	return p
}

func (v *validator) header() {
	r := v.r
	switch {
	case r.Version.Bad:
	case !r.Version.Set:
		v.add(r.P, "version", "add 'version: 1' at the top of the file", "the topology has no version")
	case r.Version.V != 1:
		v.add(r.Version.P, "version", "set 'version: 1' (the only version this edgecert reads)", "unsupported topology version %d", r.Version.V)
	}
	if c := r.Org.Country; c.Set && !isCountry(c.V) {
		v.add(c.P, "country", "use the two-letter ISO 3166 code, e.g. US", "organization.country %q is not a two-letter country code", c.V)
	}
	for _, x := range r.XMPP.Items {
		v.dnsName(x, "xmpp_domains entry")
	}
	if r.OWA.Set {
		v.dnsName(r.OWA, "office_web_apps")
	}
	v.key()
}

func isCountry(s string) bool {
	if len(s) != 2 {
		return false
	}
	for i := 0; i < 2; i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func (v *validator) key() {
	alg, bits := strings.ToUpper(v.r.KeyAlg.V), v.r.KeyBits
	if v.r.KeyAlg.Set && alg != "RSA" && alg != "ECDSA" {
		v.add(v.r.KeyAlg.P, "key", "use RSA or ECDSA", "key.algorithm %q is not supported", v.r.KeyAlg.V)
		return
	}
	if !bits.Set {
		return
	}
	if alg == "ECDSA" {
		if bits.V != 256 && bits.V != 384 {
			v.add(bits.P, "key", "use 256 or 384 for ECDSA", "key.bits %d is not an ECDSA curve size", bits.V)
		}
		return
	}
	if bits.V != 2048 && bits.V != 3072 && bits.V != 4096 {
		v.add(bits.P, "key", "use 2048, 3072 or 4096 for RSA (R3)", "key.bits %d is not a supported RSA key size", bits.V)
	}
}

// dnsName reports s when it is not a valid DNS name.
func (v *validator) dnsName(s sval, what string) {
	if p := dnsNameProblem(s.V); p != "" {
		v.add(s.P, "dns-name", "write a fully qualified DNS name such as host."+v.domainHint(), "%s %q %s", what, s.V, p)
	}
}

// subjectName checks an FQDN that becomes a certificate subject name: it
// must be given, must not be a wildcard (R7) and must be a DNS name.
func (v *validator) subjectName(s sval, at Pos, what string) {
	switch {
	case s.Bad:
	case !s.Set || s.V == "":
		v.add(v.at(at), "required", "add "+what, "%s is missing", what)
	case strings.Contains(s.V, "*"):
		v.add(s.P, "R7", "name the host explicitly; a wildcard may only be a SAN", "%s %q is a wildcard, but it becomes a certificate subject name", what, s.V)
	default:
		v.dnsName(s, what)
	}
}

// optionalSubject is subjectName for a field that may be left out.
func (v *validator) optionalSubject(s sval, what string) {
	if s.Set {
		v.subjectName(s, s.P, what)
	}
}

func (v *validator) servers(l slist, at Pos, what string) {
	if len(l.Items) == 0 && !l.Bad {
		v.add(v.at(at), "required", "list at least one server FQDN under servers", "%s has no servers", what)
	}
	for _, s := range l.Items {
		v.dnsName(s, "server")
	}
}

func (v *validator) enum(s sval, what string, allowed ...string) {
	if s.Set && !slices.Contains(allowed, strings.ToLower(s.V)) {
		v.add(s.P, "enum", "use one of: "+strings.Join(allowed, ", "), "%s %q is not one of %s", what, s.V, strings.Join(allowed, ", "))
	}
}

func (v *validator) sipDomains() {
	r := v.r
	if len(r.SIPDomains.Items) == 0 && !r.SIPDomains.Bad {
		fix := "list the SIP domains, the default first: sip_domains: [" + v.domainHint() + "]"
		if r.XML {
			fix = "add the SIP domains to the document in Topology Builder (the overlay cannot set them)"
		}
		v.add(v.at(r.SIPDomains.P), "required", fix, "the topology has no SIP domain")
	}
	seen := map[string]Pos{}
	for _, d := range r.SIPDomains.Items {
		v.dnsName(d, "SIP domain")
		if p, dup := seen[d.V]; dup {
			v.add(d.P, "duplicate-fqdn", "list each SIP domain once", "SIP domain %s is already listed on line %d", d.V, p.Line)
			continue
		}
		seen[d.V] = d.P
	}
}
