// Package proxy turns the reverse proxy part of a plan into a working
// reverse HTTP proxy: the listener certificate, key and chain files of a
// reverse proxy server and an nginx configuration with one server block per
// publishing rule (each published pool's external web FQDN, the simple URLs,
// lyncdiscover and Office Web Apps), forwarding to the internal web services
// on 4443 (HTTPS) and 8080 (HTTP) and trusting the internal CA's root for
// the upstream connections (R51, R59, R61).
package proxy

import (
	"net"
	"net/url"
	"sort"
	"strings"

	"edgecert/internal/plan"
	"edgecert/internal/topology"
)

// Ports of the Lync external web services on the internal pools (R61).
const (
	PoolHTTPSPort = "4443"
	PoolHTTPPort  = "8080"
)

// Rule is one web publishing rule: the public host names it answers and
// the internal server it forwards to.
type Rule struct {
	Name  string   // what is published, for the configuration's comments
	Hosts []string // public names (server_name)
	// HTTPSUpstream and HTTPUpstream are host:port; UpstreamName is the
	// name the upstream's certificate is checked against.
	HTTPSUpstream string
	HTTPUpstream  string
	UpstreamName  string
	// ACMEWebroot is the http-01 webroot of these names (the topology's
	// acme block): port 80 answers /.well-known/acme-challenge/ from it.
	ACMEWebroot string
}

// Upstreams overrides where a published internal FQDN is reached
// (FQDN -> host:port), for HTTPS and HTTP.
type Upstreams struct {
	HTTPS map[string]string
	HTTP  map[string]string
}

func (u Upstreams) https(fqdn, port string) string {
	if a, ok := u.HTTPS[fqdn]; ok {
		return a
	}
	return net.JoinHostPort(fqdn, port)
}

func (u Upstreams) http(fqdn, port string) string {
	if a, ok := u.HTTP[fqdn]; ok {
		return a
	}
	return net.JoinHostPort(fqdn, port)
}

// FindReverseProxy returns the site and reverse proxy (farm) that server belongs to.
func FindReverseProxy(t *topology.Topology, server string) (*topology.Site, *topology.ReverseProxy) {
	for si := range t.Sites {
		s := &t.Sites[si]
		for ri := range s.ReverseProxies {
			rp := &s.ReverseProxies[ri]
			for _, srv := range rp.Servers {
				if strings.EqualFold(srv, server) {
					return s, rp
				}
			}
		}
	}
	return nil, nil
}

// Rules returns the publishing rules that certificate c can serve on a
// server of rp: every published pool's external web FQDN, the simple URLs
// and lyncdiscover names (to the first published pool) and Office Web Apps,
// each kept only when c's names cover it.
func Rules(t *topology.Topology, site *topology.Site, rp *topology.ReverseProxy, c *plan.Certificate, up Upstreams) []Rule {
	pools := published(site, rp)
	var rules []Rule
	for _, p := range pools {
		if p.WebExternal == "" || !covered(c.SANs, p.WebExternal) {
			continue
		}
		rules = append(rules, Rule{Name: "external web services of " + p.FQDN, Hosts: []string{p.WebExternal},
			HTTPSUpstream: up.https(p.FQDN, PoolHTTPSPort), HTTPUpstream: up.http(p.FQDN, PoolHTTPPort), UpstreamName: p.FQDN})
	}
	if len(pools) > 0 {
		target := pools[0]
		for _, p := range pools {
			if isDirector(site, p.FQDN) {
				target = p // simple URLs and autodiscover go to the Director when it is published
				break
			}
		}
		var hosts []string
		for _, h := range simpleHosts(t) {
			if covered(c.SANs, h) {
				hosts = append(hosts, h)
			}
		}
		if len(hosts) > 0 {
			rules = append(rules, Rule{Name: "simple URLs and lyncdiscover (to " + target.FQDN + ")", Hosts: hosts,
				HTTPSUpstream: up.https(target.FQDN, PoolHTTPSPort), HTTPUpstream: up.http(target.FQDN, PoolHTTPPort), UpstreamName: target.FQDN})
		}
	}
	if owa := t.OfficeWebApps; owa != "" && covered(c.SANs, owa) {
		rules = append(rules, Rule{Name: "Office Web Apps", Hosts: []string{owa},
			HTTPSUpstream: up.https(owa, "443"), HTTPUpstream: up.http(owa, "80"), UpstreamName: owa})
	}
	return rules
}

func published(site *topology.Site, rp *topology.ReverseProxy) []topology.Pool {
	all := append(append([]topology.Pool{}, site.Pools...), site.Directors...)
	if len(rp.Publishes) == 0 {
		return all
	}
	var out []topology.Pool
	for _, want := range rp.Publishes {
		for _, p := range all {
			if strings.EqualFold(p.FQDN, want) {
				out = append(out, p)
			}
		}
	}
	return out
}

func isDirector(site *topology.Site, fqdn string) bool {
	for _, d := range site.Directors {
		if strings.EqualFold(d.FQDN, fqdn) {
			return true
		}
	}
	return false
}

// simpleHosts returns the host names of the meet and dial-in simple URLs
// and lyncdiscover.<sip domain> (mobility), sorted.
func simpleHosts(t *topology.Topology) []string {
	seen := map[string]bool{}
	add := func(raw string) {
		if raw == "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			return
		}
		seen[strings.ToLower(u.Hostname())] = true
	}
	for _, m := range t.SimpleURLs.Meet {
		add(m)
	}
	add(t.SimpleURLs.Dialin)
	if t.Mobility {
		for _, d := range t.SIPDomains {
			seen["lyncdiscover."+strings.ToLower(d)] = true
		}
	}
	var out []string
	for h := range seen {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// covered reports whether name is among sans, directly or by a wildcard.
func covered(sans []string, name string) bool {
	name = strings.ToLower(name)
	for _, s := range sans {
		s = strings.ToLower(s)
		if s == name {
			return true
		}
		if strings.HasPrefix(s, "*.") {
			if i := strings.IndexByte(name, '.'); i > 0 && name[i+1:] == s[2:] {
				return true
			}
		}
	}
	return false
}
