package topology

import (
	"fmt"
	"slices"
	"strings"
)

// simpleURL is one simple URL to check, with the URL a suggestion proposes
// in its place (built from the topology's own SIP domains).
type simpleURL struct {
	sval
	suggest string
}

func (v *validator) simpleURLs() {
	r := v.r
	meetAt := v.at(r.MeetP)
	if r.MeetP.Line == 0 {
		meetAt = v.at(r.SimpleP)
	}
	domains := r.SIPDomains.values()
	have := map[string]bool{}
	for _, m := range r.Meet {
		have[m.Domain.V] = true
		if !slices.Contains(domains, m.Domain.V) {
			v.add(m.Domain.P, "R83", "key meet URLs by a SIP domain of sip_domains ("+strings.Join(domains, ", ")+")", "meet URL for %s, which is not a SIP domain", m.Domain.V)
		}
	}
	for _, d := range r.SIPDomains.Items {
		if !have[d.V] {
			v.add(meetAt, "R83", v.simpleURLFix("meet", d.V, "https://meet."+d.V), "SIP domain %s has no meet simple URL (one is required per SIP domain)", d.V)
		}
	}
	def := v.domainHint()
	if !r.Dialin.Set && !r.Dialin.Bad {
		v.add(v.at(r.SimpleP), "R83", v.simpleURLFix("dialin", "", "https://dialin."+def), "the dial-in simple URL is missing")
	}
	var urls []simpleURL
	for _, m := range r.Meet {
		urls = append(urls, simpleURL{m.URL, "https://meet." + m.Domain.V})
	}
	urls = append(urls, simpleURL{r.Dialin, "https://dialin." + def}, simpleURL{r.Admin, "https://admin." + def})
	v.checkURLs(urls)
}

// simpleURLFix says how to add a missing simple URL (key "meet" with its
// SIP domain, or "dialin"), as YAML that works where it goes: under the
// topology's simple_urls, or, for a Topology Builder document, in an
// overlay, whose simple URLs are merged with the document's.
func (v *validator) simpleURLFix(key, domain, url string) string {
	switch {
	case v.r.XML && domain != "":
		return fmt.Sprintf("give it in an overlay (--overlay FILE): simple_urls: {meet: {%s: %s}}", domain, url)
	case v.r.XML:
		return fmt.Sprintf("give it in an overlay (--overlay FILE): simple_urls: {%s: %s}", key, url)
	case domain != "":
		return fmt.Sprintf("add it under simple_urls.meet: %s: %s", domain, url)
	}
	return fmt.Sprintf("add it under simple_urls: %s: %s", key, url)
}

// domainHint is the domain that suggestions use: the default SIP domain,
// else the domain of the first pool, else a placeholder.
func (v *validator) domainHint() string {
	if items := v.r.SIPDomains.Items; len(items) > 0 && dnsNameProblem(items[0].V) == "" {
		return items[0].V
	}
	for _, name := range v.poolNames {
		if _, dom, ok := strings.Cut(name, "."); ok && dnsNameProblem(dom) == "" {
			return dom
		}
	}
	return "<SIP domain>"
}

// checkURLs applies R84 to every simple URL and across them.
func (v *validator) checkURLs(urls []simpleURL) {
	var good []sval
	for _, u := range urls {
		if !u.Set {
			continue
		}
		if reason, rule, fix := simpleURLProblem(u.V, u.suggest); reason != "" {
			v.add(u.P, rule, fix, "simple URL %q %s", u.V, reason)
			continue
		}
		lower := strings.ToLower(u.V)
		for _, pool := range v.poolNames {
			if containsName(lower, pool) {
				suggest := u.suggest
				if containsName(strings.ToLower(suggest), pool) {
					suggest = otherHost(suggest)
				}
				v.add(u.P, "R84", "use a name of its own, such as "+suggest, "simple URL %q contains the pool FQDN %s", u.V, pool)
				break
			}
		}
		good = append(good, u.sval)
	}
	for i, a := range good {
		for j, b := range good {
			la, lb := strings.ToLower(strings.TrimSuffix(a.V, "/")), strings.ToLower(strings.TrimSuffix(b.V, "/"))
			switch {
			case i < j && la == lb:
				v.add(b.P, "R84", "give each simple URL its own value", "simple URL %q is the same as the one on line %d", b.V, a.P.Line)
			case i != j && la != lb && strings.HasPrefix(lb, la):
				v.add(b.P, "R84", "choose URLs that do not start with one another", "simple URL %q starts with the simple URL %q (line %d)", b.V, a.V, a.P.Line)
			}
		}
	}
}

// otherHost turns https://meet.contoso.com into https://lync.contoso.com/meet
// (R85: a simple URL may be a path on a shared host), for when the usual
// suggestion is itself the name of a pool.
func otherHost(u string) string {
	first, rest, ok := strings.Cut(strings.TrimPrefix(u, "https://"), ".")
	if !ok {
		return u
	}
	return "https://lync." + rest + "/" + first
}
