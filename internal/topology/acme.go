package topology

import (
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// ACME names the ACME CA (RFC 8555) that issues every certificate whose
// issuer is public, and how each name is validated (docs/topology.md,
// "Public certificates through ACME"). File names are absolute: a relative
// one in the document is relative to the file that names it. Secrets are
// only ever named here, never given.
type ACME struct {
	Directory string   `json:"directory"`
	Contact   []string `json:"contact,omitempty"`
	AcceptTOS bool     `json:"accept_tos"`
	EAB       *EAB     `json:"eab,omitempty"`
	Profile   string   `json:"profile,omitempty"`
	// DirectoryCA is a PEM file of the CA that signs the directory's HTTPS
	// certificate ("" for the system roots).
	DirectoryCA string `json:"directory_ca,omitempty"`
	// TrustedRoots is a PEM file of the roots of the chains this CA issues,
	// imported as trusted roots on every server.
	TrustedRoots string `json:"trusted_roots,omitempty"`
	// Resolvers are host:port where propagation is checked (empty: the
	// zone's authoritative servers).
	Resolvers  []string        `json:"resolvers,omitempty"`
	Challenges []ChallengeRule `json:"challenges"`
	Pos        Pos             `json:"-"`
}

// EAB is an External Account Binding: the key id and the file holding the
// base64url HMAC key.
type EAB struct {
	KID      string `json:"kid"`
	HMACFile string `json:"hmac_file"`
}

// ChallengeRule says how the names it matches are validated: Domains match
// the domain and every name under it, Names match exactly.
type ChallengeRule struct {
	Domains []string `json:"domains,omitempty"`
	Names   []string `json:"names,omitempty"`
	DNS01   *DNS01   `json:"dns01,omitempty"`
	HTTP01  *HTTP01  `json:"http01,omitempty"`
	Pos     Pos      `json:"-"`
}

// DNS01 is a dns-01 challenge through an RFC 2136 update or a hook.
type DNS01 struct {
	RFC2136 *RFC2136 `json:"rfc2136,omitempty"`
	// Hook is called as: HOOK present|cleanup RECORD_FQDN VALUE.
	Hook string `json:"hook,omitempty"`
}

// RFC2136 is a dynamic DNS update signed with TSIG.
type RFC2136 struct {
	Server         string `json:"server"` // host:port
	Zone           string `json:"zone"`   // with the final dot
	TSIGKey        string `json:"tsig_key,omitempty"`
	TSIGAlgorithm  string `json:"tsig_algorithm"` // hmac-sha256 (default), hmac-sha384, hmac-sha512, gss-tsig
	TSIGSecretFile string `json:"tsig_secret_file,omitempty"`
	// GSS-TSIG (RFC 3645, Windows DNS's secure dynamic updates): the
	// Kerberos realm and user, and a keytab or a password file.
	GSSRealm        string `json:"gss_realm,omitempty"`
	GSSUsername     string `json:"gss_username,omitempty"`
	GSSKeytabFile   string `json:"gss_keytab_file,omitempty"`
	GSSPasswordFile string `json:"gss_password_file,omitempty"`
}

// HTTP01 is an http-01 challenge through files under
// Webroot/.well-known/acme-challenge/.
type HTTP01 struct {
	Webroot string `json:"webroot"`
}

// Rule returns the first challenge rule that matches name (nil: none).
func (a *ACME) Rule(name string) *ChallengeRule {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for i := range a.Challenges {
		r := &a.Challenges[i]
		for _, n := range r.Names {
			if n == name {
				return r
			}
		}
		for _, d := range r.Domains {
			if name == d || strings.HasSuffix(name, "."+d) {
				return r
			}
		}
	}
	return nil
}

// TSIGAlgorithms are the TSIG algorithms an rfc2136 challenge accepts.
var TSIGAlgorithms = []string{"hmac-sha256", "hmac-sha384", "hmac-sha512", GSSTSIG}

// GSSTSIG is the tsig_algorithm of GSS-TSIG (Kerberos, RFC 3645).
const GSSTSIG = "gss-tsig"

type rawACME struct {
	P                                                 Pos
	Directory, Profile, DirCA, Roots, EABKID, EABHMAC sval
	EABP                                              Pos
	EABSet                                            bool
	Contact, Resolvers                                slist
	TOS                                               bval
	Challenges                                        []*rawChallenge
	ChallengesP                                       Pos
	ChallengesSet                                     bool
}

type rawChallenge struct {
	P                 Pos
	Domains, Names    slist
	DNS01P, HTTP01P   Pos
	DNS01Set, HTTPSet bool
	RFCP              Pos
	RFCSet            bool
	Hook, Webroot     sval
	Server, Zone, Key sval
	Alg, SecretFile   sval
	Realm, User       sval
	Keytab, PassFile  sval
}

// acme decodes the acme: block.
func (d *ydec) acme(r *rawTopo, k, v *yaml.Node) {
	a := &rawACME{P: d.pos(k)}
	ok := d.mapping(v, "acme", map[string]fieldFn{
		"directory":     func(_, v *yaml.Node) { a.Directory = d.str(v, "acme.directory", false) },
		"contact":       func(_, v *yaml.Node) { a.Contact = d.strList(v, "acme.contact", false) },
		"accept_tos":    func(_, v *yaml.Node) { a.TOS = d.boolean(v, "acme.accept_tos") },
		"profile":       func(_, v *yaml.Node) { a.Profile = d.str(v, "acme.profile", false) },
		"directory_ca":  func(_, v *yaml.Node) { a.DirCA = d.str(v, "acme.directory_ca", false) },
		"trusted_roots": func(_, v *yaml.Node) { a.Roots = d.str(v, "acme.trusted_roots", false) },
		"resolvers":     func(_, v *yaml.Node) { a.Resolvers = d.strList(v, "acme.resolvers", false) },
		"eab": func(k, v *yaml.Node) {
			a.EABP, a.EABSet = d.pos(k), true
			d.mapping(v, "acme.eab", map[string]fieldFn{
				"kid":       func(_, v *yaml.Node) { a.EABKID = d.str(v, "acme.eab.kid", false) },
				"hmac_file": func(_, v *yaml.Node) { a.EABHMAC = d.str(v, "acme.eab.hmac_file", false) },
			})
		},
		"challenges": func(k, v *yaml.Node) {
			a.ChallengesP, a.ChallengesSet = d.pos(k), true
			d.seq(v, "acme.challenges", func(it *yaml.Node) {
				ch := &rawChallenge{P: d.pos(it)}
				d.mapping(it, "a challenge rule", d.challengeFields(ch))
				a.Challenges = append(a.Challenges, ch)
			})
		},
	})
	if ok {
		r.ACME = a
	} else if n := resolve(v); n != nil && isNull(n) {
		d.c.add(d.pos(v), "acme", "acme is empty", "give at least directory, accept_tos and challenges, or remove the key")
	}
}

func (d *ydec) challengeFields(ch *rawChallenge) map[string]fieldFn {
	return map[string]fieldFn{
		"domains": func(_, v *yaml.Node) { ch.Domains = d.strList(v, "domains", true) },
		"names":   func(_, v *yaml.Node) { ch.Names = d.strList(v, "names", true) },
		"dns01": func(k, v *yaml.Node) {
			ch.DNS01P, ch.DNS01Set = d.pos(k), true
			d.mapping(v, "dns01", map[string]fieldFn{
				"hook": func(_, v *yaml.Node) { ch.Hook = d.str(v, "dns01.hook", false) },
				"rfc2136": func(k, v *yaml.Node) {
					ch.RFCP, ch.RFCSet = d.pos(k), true
					d.mapping(v, "dns01.rfc2136", map[string]fieldFn{
						"server":           func(_, v *yaml.Node) { ch.Server = d.str(v, "rfc2136.server", false) },
						"zone":             func(_, v *yaml.Node) { ch.Zone = d.str(v, "rfc2136.zone", true) },
						"tsig_key":         func(_, v *yaml.Node) { ch.Key = d.str(v, "rfc2136.tsig_key", false) },
						"tsig_algorithm":   func(_, v *yaml.Node) { ch.Alg = d.str(v, "rfc2136.tsig_algorithm", true) },
						"tsig_secret_file": func(_, v *yaml.Node) { ch.SecretFile = d.str(v, "rfc2136.tsig_secret_file", false) },
						"gss_realm":        func(_, v *yaml.Node) { ch.Realm = d.str(v, "rfc2136.gss_realm", false) },
						"gss_username":     func(_, v *yaml.Node) { ch.User = d.str(v, "rfc2136.gss_username", false) },
						"gss_keytab_file":  func(_, v *yaml.Node) { ch.Keytab = d.str(v, "rfc2136.gss_keytab_file", false) },
						"gss_password_file": func(_, v *yaml.Node) {
							ch.PassFile = d.str(v, "rfc2136.gss_password_file", false)
						},
					})
				},
			})
		},
		"http01": func(k, v *yaml.Node) {
			ch.HTTP01P, ch.HTTPSet = d.pos(k), true
			d.mapping(v, "http01", map[string]fieldFn{
				"webroot": func(_, v *yaml.Node) { ch.Webroot = d.str(v, "http01.webroot", false) },
			})
		},
	}
}

// validateACME checks the acme: block.
func (v *validator) acme() {
	a := v.r.ACME
	if a == nil {
		return
	}
	const rule = "acme"
	req := func(s sval, at Pos, what, fix string) bool {
		if !s.Set && !s.Bad {
			v.add(at, rule, fix, "%s is required", what)
			return false
		}
		return s.Set && s.V != ""
	}
	if req(a.Directory, a.P, "acme.directory", "give the RFC 8555 directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory") {
		u, err := url.Parse(a.Directory.V)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			v.add(a.Directory.P, rule, "write an https:// URL", "acme.directory %q is not an https URL", a.Directory.V)
		}
	}
	if !a.TOS.V {
		at := a.TOS.P
		if !a.TOS.Set {
			at = a.P
		}
		v.add(at, rule, "read the CA's Terms of Service and set accept_tos: true", "acme.accept_tos must be true to create the ACME account")
	}
	for _, c := range a.Contact.Items {
		if !strings.HasPrefix(c.V, "mailto:") || len(c.V) <= len("mailto:") {
			v.add(c.P, rule, "write mailto:ADDRESS", "acme.contact %q is not a mailto: URL", c.V)
		}
	}
	if a.EABSet {
		req(a.EABKID, a.EABP, "acme.eab.kid", "give the key id the CA gave you")
		req(a.EABHMAC, a.EABP, "acme.eab.hmac_file", "name the file that holds the base64url HMAC key")
	}
	for _, r := range a.Resolvers.Items {
		if _, port, err := net.SplitHostPort(r.V); err != nil || port == "" {
			v.add(r.P, rule, "write HOST:PORT, e.g. 192.0.2.53:53", "acme.resolvers entry %q is not host:port", r.V)
		}
	}
	if len(a.Challenges) == 0 {
		at := a.ChallengesP
		if !a.ChallengesSet {
			at = a.P
		}
		v.add(at, rule, "add a challenge rule (dns01 or http01) for the domains of the public certificates", "acme.challenges lists no rule")
	}
	for _, c := range a.Challenges {
		v.challenge(c)
	}
}

func (v *validator) challenge(c *rawChallenge) {
	const rule = "acme"
	if len(c.Domains.Items) == 0 && len(c.Names.Items) == 0 {
		v.add(c.P, rule, "add domains: [...] or names: [...]", "a challenge rule matches no name")
	}
	for _, n := range append(append([]sval{}, c.Domains.Items...), c.Names.Items...) {
		if strings.Contains(n.V, "*") || n.V == "" || strings.ContainsAny(n.V, " /:") {
			v.add(n.P, rule, "write a DNS name such as contoso.com", "%q is not a DNS name", n.V)
		}
	}
	switch {
	case c.DNS01Set && c.HTTPSet:
		v.add(c.HTTP01P, rule, "keep one of dns01 and http01 per rule", "a challenge rule has both dns01 and http01")
	case !c.DNS01Set && !c.HTTPSet:
		v.add(c.P, rule, "add dns01: {...} or http01: {webroot: DIR}", "a challenge rule has neither dns01 nor http01")
	case c.HTTPSet:
		if !c.Webroot.Set || c.Webroot.V == "" {
			v.add(c.HTTP01P, rule, "name the directory the reverse proxy serves on port 80", "http01.webroot is required")
		}
	case c.RFCSet && c.Hook.Set:
		v.add(c.Hook.P, rule, "keep one of rfc2136 and hook per rule", "dns01 has both rfc2136 and hook")
	case c.Hook.Set:
		if c.Hook.V == "" {
			v.add(c.Hook.P, rule, "name the program to call", "dns01.hook is empty")
		}
	case c.RFCSet:
		miss := func(s sval, what, fix string) {
			if !s.Set || s.V == "" {
				v.add(c.RFCP, rule, fix, "rfc2136.%s is required", what)
			}
		}
		miss(c.Server, "server", "give the primary server as HOST:PORT")
		miss(c.Zone, "zone", "give the zone, e.g. contoso.com.")
		if c.Alg.V == GSSTSIG {
			miss(c.Realm, "gss_realm", "give the Kerberos realm, e.g. CONTOSO.COM")
			miss(c.User, "gss_username", "give the Kerberos user allowed to update the zone")
			if c.Keytab.V == "" && c.PassFile.V == "" || c.Keytab.V != "" && c.PassFile.V != "" {
				v.add(c.RFCP, rule, "name a keytab (gss_keytab_file) or a password file (gss_password_file)", "gss-tsig needs one of gss_keytab_file and gss_password_file")
			}
		} else {
			miss(c.Key, "tsig_key", "give the TSIG key name")
			miss(c.SecretFile, "tsig_secret_file", "name the file that holds the base64 TSIG secret")
		}
		if c.Server.Set && c.Server.V != "" {
			if _, port, err := net.SplitHostPort(c.Server.V); err != nil || port == "" {
				v.add(c.Server.P, rule, "write HOST:PORT, e.g. 192.0.2.53:53", "rfc2136.server %q is not host:port", c.Server.V)
			}
		}
		if c.Alg.Set && !contains(TSIGAlgorithms, c.Alg.V) {
			v.add(c.Alg.P, rule, "use one of "+strings.Join(TSIGAlgorithms, ", "), "unknown tsig_algorithm %q", c.Alg.V)
		}
	default:
		v.add(c.DNS01P, rule, "add rfc2136: {...} or hook: PROGRAM", "dns01 has neither rfc2136 nor hook")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// relFile resolves a file name relative to the file that names it.
func relFile(s sval) string {
	if s.V == "" || filepath.IsAbs(s.V) || s.P.File == "" {
		return s.V
	}
	return filepath.Join(filepath.Dir(s.P.File), s.V)
}

// buildACME turns the raw block into the model.
func buildACME(a *rawACME) *ACME {
	if a == nil {
		return nil
	}
	out := &ACME{
		Directory:    a.Directory.V,
		Contact:      a.Contact.values(),
		AcceptTOS:    a.TOS.V,
		Profile:      a.Profile.V,
		DirectoryCA:  relFile(a.DirCA),
		TrustedRoots: relFile(a.Roots),
		Resolvers:    a.Resolvers.values(),
		Pos:          a.P,
	}
	if len(out.Contact) == 0 {
		out.Contact = nil
	}
	if len(out.Resolvers) == 0 {
		out.Resolvers = nil
	}
	if a.EABSet {
		out.EAB = &EAB{KID: a.EABKID.V, HMACFile: relFile(a.EABHMAC)}
	}
	for _, c := range a.Challenges {
		r := ChallengeRule{Domains: trimDots(c.Domains.values()), Names: trimDots(c.Names.values()), Pos: c.P}
		switch {
		case c.HTTPSet:
			r.HTTP01 = &HTTP01{Webroot: relFile(c.Webroot)}
		case c.Hook.Set:
			hook := c.Hook.V
			if strings.Contains(hook, "/") {
				hook = relFile(c.Hook)
			}
			r.DNS01 = &DNS01{Hook: hook}
		default:
			alg := c.Alg.V
			if alg == "" {
				alg = "hmac-sha256"
			}
			zone := c.Zone.V
			if !strings.HasSuffix(zone, ".") {
				zone += "."
			}
			r.DNS01 = &DNS01{RFC2136: &RFC2136{Server: c.Server.V, Zone: zone, TSIGKey: c.Key.V, TSIGAlgorithm: alg, TSIGSecretFile: relFile(c.SecretFile),
				GSSRealm: c.Realm.V, GSSUsername: c.User.V, GSSKeytabFile: relFile(c.Keytab), GSSPasswordFile: relFile(c.PassFile)}}
		}
		out.Challenges = append(out.Challenges, r)
	}
	return out
}

func trimDots(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	for i, n := range names {
		names[i] = strings.TrimSuffix(n, ".")
	}
	return names
}
