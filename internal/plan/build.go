package plan

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"edgecert/internal/topology"
)

// ErrNoTopology is returned by [Build] when it is given no topology.
var ErrNoTopology = errors.New("plan: no topology")

// kindOrder is the order of certificate kinds inside one site.
var kindOrder = map[string]int{
	KindEdgeInternal:         0,
	KindEdgeExternal:         1,
	KindEdgeExternalAndProxy: 2,
	KindEdgeAV:               3,
	KindReverseProxy:         4,
	KindDefault:              5,
	KindWebInternal:          6,
	KindWebExternal:          7,
	KindOAuth:                8,
}

// Templates of the internal CA.
const (
	TemplateWebServer           = "WebServer"
	TemplateWebServerClientAuth = "WebServerClientAuth"
)

// EKU and key usage names.
const (
	EKUServerAuth       = "serverAuth"
	EKUClientAuth       = "clientAuth"
	KUDigitalSignature  = "digitalSignature"
	KUKeyEncipherment   = "keyEncipherment"
	AlgorithmRSA        = "RSA"
	AlgorithmECDSA      = "ECDSA"
	minOAuthRSABits     = 2048
	defaultRSABits      = 2048
	defaultECDSABits    = 256
	portSIPTLS          = "5061"
	portHTTPS           = "443"
	portWebExternalFE   = "4443"
	pathSep             = "/"
	globalSite          = ""
	friendlyEdgeInt     = "Edge Internal "
	friendlyEdgeExt     = "Edge External "
	friendlyEdgeAV      = "Edge A/V Authentication "
	friendlyCombined    = "Edge External and Reverse Proxy "
	friendlyProxy       = "Reverse Proxy "
	friendlyDefault     = "Default "
	friendlyWebInternal = "Web Internal "
	friendlyWebExternal = "Web External "
	friendlyOAuth       = "OAuth Token Issuer"
)

// draft is a certificate under construction.
type draft struct {
	c        Certificate
	names    *nameSet
	rules    []string
	warnings []string
}

// builder holds the state of one Build.
type builder struct {
	t        *topology.Topology
	key      Key
	subject  Subject
	problems topology.Problems
	drafts   []*draft
	// edgeExt maps an edge pool FQDN to its external certificate draft, so
	// that a reverse proxy can combine with it (R60).
	edgeExt map[string]*draft
	// pools maps a pool or director FQDN to where it is.
	pools map[string]poolRef
	// urls are the base hosts of the simple URLs.
	urls simpleURLs
	// domains holds the per-SIP-domain names, computed once.
	domains []domainNames
	// global warnings, not tied to one certificate.
	warnings []string
}

// poolRef is a pool or director found in the topology.
type poolRef struct {
	pool     *topology.Pool
	site     *topology.Site
	director bool
}

// Build computes the certificate plan of t. It returns a [topology.Problems]
// error (matching [topology.ErrInvalid]) when t cannot be planned, listing
// every problem found.
func Build(t *topology.Topology) (*Plan, error) {
	if t == nil {
		return nil, ErrNoTopology
	}
	b := &builder{
		t:       t,
		key:     defaultKey(t.Key),
		subject: subjectOf(t.Organization),
		edgeExt: make(map[string]*draft),
		pools:   make(map[string]poolRef),
	}
	b.check()
	b.urls = b.parseSimpleURLs()
	b.domains = domainNamesOf(t.SIPDomains)
	b.indexPools()
	for i := range t.Sites {
		s := &t.Sites[i]
		for j := range s.EdgePools {
			b.edgePool(s, &s.EdgePools[j])
		}
	}
	for i := range t.Sites {
		s := &t.Sites[i]
		for j := range s.ReverseProxies {
			b.reverseProxy(s, &s.ReverseProxies[j])
		}
		for j := range s.Pools {
			b.internalServers(s, &s.Pools[j], false)
		}
		for j := range s.Directors {
			b.internalServers(s, &s.Directors[j], true)
		}
	}
	b.oauth()
	if len(b.problems) > 0 {
		return nil, b.problems
	}
	p := b.finish()
	if ps := acmeProblems(t, p); len(ps) > 0 {
		return nil, ps
	}
	return p, nil
}

// acmeProblems checks, when the topology names an ACME CA, that every name
// of every public certificate has a challenge rule: a name without one
// could never be validated, so it is an error before anything is ordered.
func acmeProblems(t *topology.Topology, p *Plan) topology.Problems {
	if t.ACME == nil {
		return nil
	}
	var ps topology.Problems
	for _, c := range p.Certificates {
		if c.Issuer != topology.IssuerPublic {
			continue
		}
		for _, name := range c.SANs {
			if t.ACME.Rule(name) == nil {
				ps = append(ps, topology.Problem{Pos: t.ACME.Pos, Rule: "acme",
					Msg: fmt.Sprintf("%s of the public certificate %s matches no acme challenge rule", name, c.ID),
					Fix: "add " + name + " (or its domain) to acme.challenges"})
			}
		}
	}
	return ps
}

// check reports what makes the topology impossible to plan. The loader
// validates far more; these are the preconditions the planner relies on.
func (b *builder) check() {
	if len(b.t.SIPDomains) == 0 {
		b.problem(topology.Pos{File: b.t.Source}, "R18", "no SIP domain", "list at least one SIP domain in sip_domains")
	}
	switch b.key.Algorithm {
	case AlgorithmRSA, AlgorithmECDSA:
	default:
		b.problem(topology.Pos{File: b.t.Source}, "R4", fmt.Sprintf("unknown key algorithm %q", b.t.Key.Algorithm), "use RSA or ECDSA")
	}
}

func (b *builder) problem(pos topology.Pos, rule, msg, fix string) {
	b.problems = append(b.problems, topology.Problem{Pos: pos, Rule: rule, Msg: msg, Fix: fix})
}

func (b *builder) indexPools() {
	for i := range b.t.Sites {
		s := &b.t.Sites[i]
		for j := range s.Pools {
			b.pools[strings.ToLower(s.Pools[j].FQDN)] = poolRef{pool: &s.Pools[j], site: s}
		}
		for j := range s.Directors {
			b.pools[strings.ToLower(s.Directors[j].FQDN)] = poolRef{pool: &s.Directors[j], site: s, director: true}
		}
	}
}

// newDraft starts a certificate with the defaults every kind shares.
func (b *builder) newDraft(kind, id, site string) *draft {
	d := &draft{names: newNameSet()}
	d.c = Certificate{
		ID:      id,
		Kind:    kind,
		Site:    site,
		Subject: b.subject,
		Key:     b.key,
		Issuer:  topology.IssuerInternal,
		EKU:     []string{EKUServerAuth},
	}
	b.drafts = append(b.drafts, d)
	return d
}

// setServers records the servers of d; the request is made on the first (R39).
func (d *draft) setServers(servers []string) {
	d.c.Servers = append([]string(nil), servers...)
	if len(servers) > 0 {
		d.c.RequestOn = strings.ToLower(servers[0])
	}
}

// warn attaches a warning to d; the text must start with its rule id.
func (d *draft) warn(format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf(format, args...))
}

// finish turns the drafts into the plan: names, rules and lists are
// computed and sorted, friendly names made unique per server (R9) and the
// certificate-level warnings added.
func (b *builder) finish() *Plan {
	for _, d := range b.drafts {
		d.finalize()
		b.riskWarnings(d)
	}
	sort.SliceStable(b.drafts, func(i, j int) bool { return draftLess(b.drafts[i], b.drafts[j]) })
	// The loader's warnings (what it filled in) come first.
	p := &Plan{Version: 1, Certificates: make([]Certificate, len(b.drafts)), Warnings: append([]string{}, b.t.Warnings...)}
	for i, d := range b.drafts {
		p.Certificates[i] = d.c
		p.Warnings = append(p.Warnings, d.warnings...)
	}
	uniqueFriendlyNames(p.Certificates)
	p.Warnings = append(p.Warnings, b.warnings...)
	return p
}

func draftLess(a, b *draft) bool {
	sa, sb := a.c.Site, b.c.Site
	if sa != sb {
		// Global certificates (no site) come last.
		if sa == globalSite || sb == globalSite {
			return sb == globalSite
		}
		return sa < sb
	}
	if ka, kb := kindOrder[a.c.Kind], kindOrder[b.c.Kind]; ka != kb {
		return ka < kb
	}
	return a.c.ID < b.c.ID
}

// finalize computes the derived fields of d.c.
func (d *draft) finalize() {
	c := &d.c
	c.SANs, c.Names = d.names.result()
	c.Subject.CommonName = d.names.subject()
	c.Rules = sortRules(append(d.names.allRules(), d.rules...))
	c.Servers = sortedUnique(c.Servers)
	c.Usages = sortedUnique2(c.Usages)
	c.EKU = sortedUnique2(c.EKU)
	c.Endpoints = sortedUnique(c.Endpoints)
	c.KeyUsage = keyUsage(c.Key.Algorithm)
	c.KeyUsageCritical = true
	c.EKUCritical = false
	c.Template = TemplateWebServer
	if containsString(c.EKU, EKUClientAuth) {
		c.Template = TemplateWebServerClientAuth
	}
}

// sortedUnique2 sorts and deduplicates list, keeping case (usages, EKUs).
func sortedUnique2(list []string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if !containsString(out, v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// keyUsage is the key usage of a TLS server key: digital signature and key
// encipherment for RSA (R56, M6); an ECDSA key cannot encipher keys, so only
// digital signature.
func keyUsage(alg string) []string {
	if alg == AlgorithmECDSA {
		return []string{KUDigitalSignature}
	}
	return []string{KUDigitalSignature, KUKeyEncipherment}
}

// uniqueFriendlyNames makes every friendly name unique in each server's
// store (R9), by numbering the later duplicates in plan order.
func uniqueFriendlyNames(certs []Certificate) {
	used := make(map[string]bool)
	for i := range certs {
		c := &certs[i]
		base, name := c.FriendlyName, c.FriendlyName
		for n := 2; clashes(used, c.Servers, name); n++ {
			name = fmt.Sprintf("%s (%d)", base, n)
		}
		c.FriendlyName = name
		for _, s := range c.Servers {
			used[s+"\x00"+strings.ToLower(name)] = true
		}
	}
}

func clashes(used map[string]bool, servers []string, name string) bool {
	for _, s := range servers {
		if used[s+"\x00"+strings.ToLower(name)] {
			return true
		}
	}
	return false
}

// defaultKey applies the defaults of R3/R4 to the topology's key.
func defaultKey(k topology.KeySpec) Key {
	alg := strings.ToUpper(strings.TrimSpace(k.Algorithm))
	if alg == "" {
		alg = AlgorithmRSA
	}
	bits := k.Bits
	if bits == 0 {
		bits = defaultRSABits
		if alg == AlgorithmECDSA {
			bits = defaultECDSABits
		}
	}
	return Key{Algorithm: alg, Bits: bits}
}

func subjectOf(o topology.Organization) Subject {
	return Subject{
		Organization:       o.Name,
		OrganizationalUnit: o.Unit,
		Locality:           o.Locality,
		State:              o.State,
		Country:            o.Country,
	}
}

// urlHost returns the lower-cased base host of a simple URL (R85).
func urlHost(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", err
	}
	h := strings.ToLower(u.Hostname())
	if h == "" {
		return "", fmt.Errorf("no host in %q", raw)
	}
	return h, nil
}

// inDomain reports whether host is domain or one of its subdomains.
func inDomain(host, domain string) bool {
	host, domain = strings.ToLower(host), strings.ToLower(domain)
	return host == domain || strings.HasSuffix(host, "."+domain)
}

func endpoint(host, port string) string { return strings.ToLower(host) + ":" + port }

func isWildcard(name string) bool { return strings.Contains(name, "*") }

// domainNames are the names and reasons derived from one SIP domain.
type domainNames struct {
	domain                string
	sip, sipWhy, sipWhyFE string
	discover, discoverWhy string
	discoverInt, intWhy   string
}

func domainNamesOf(domains []string) []domainNames {
	out := make([]domainNames, len(domains))
	for i, d := range domains {
		d = strings.ToLower(d)
		out[i] = domainNames{
			domain:      d,
			sip:         "sip." + d,
			sipWhy:      "sip.<domain> for SIP domain " + d,
			sipWhyFE:    "sip.<domain> for SIP domain " + d + " (automatic client configuration)",
			discover:    "lyncdiscover." + d,
			discoverWhy: "mobility autodiscover for SIP domain " + d,
			discoverInt: "lyncdiscoverinternal." + d,
			intWhy:      "internal mobility autodiscover for SIP domain " + d,
		}
	}
	return out
}
