// Package topology loads the description of an edge deployment: the
// project's strict YAML format (version 1) or a Topology Builder document
// (.tbxml, or the XML of Get-CsTopology -AsXml) with an optional YAML overlay.
//
// Loading validates the whole document and reports every problem at once,
// each with its file, line and column, the rule it breaks and what to change
// (see [Problems]). The result is a [Topology]: plain data, with no behaviour
// beyond lookups, consumed by the planner.
package topology

// Topology is one deployment. Every FQDN is lower case.
type Topology struct {
	// Source is the file the topology was read from (and Overlay the overlay, if any).
	Source  string `json:"source,omitempty"`
	Overlay string `json:"overlay,omitempty"`

	Organization Organization `json:"organization"`
	// SIPDomains: the first is the default SIP domain.
	SIPDomains    []string   `json:"sip_domains"`
	SimpleURLs    SimpleURLs `json:"simple_urls"`
	Mobility      bool       `json:"mobility"`
	XMPPDomains   []string   `json:"xmpp_domains,omitempty"`
	PublicIMAOL   bool       `json:"public_im_aol"`
	OfficeWebApps string     `json:"office_web_apps,omitempty"`
	Key           KeySpec    `json:"key"`
	Sites         []Site     `json:"sites"`

	// Warnings are what the loader filled in that the operator should
	// know, each starting with its rule id (such as Topology Builder's
	// default simple URLs for a document that has none: "R83: …").
	Warnings []string `json:"warnings,omitempty"`

	// ACME, when set, issues the public certificates (nil: the outbox flow).
	ACME *ACME `json:"acme,omitempty"`
}

// Organization holds the subject fields of every request.
type Organization struct {
	Name     string `json:"name,omitempty"`     // O
	Unit     string `json:"unit,omitempty"`     // OU
	Locality string `json:"locality,omitempty"` // L
	State    string `json:"state,omitempty"`    // ST
	Country  string `json:"country,omitempty"`  // C, two letters
}

// SimpleURLs are the meeting, dial-in and admin simple URLs (R83–R86).
type SimpleURLs struct {
	// Meet maps a SIP domain to its meet URL (one per SIP domain, R83).
	Meet   map[string]string `json:"meet"`
	Dialin string            `json:"dialin"`
	Admin  string            `json:"admin,omitempty"` // internal only (R54)
}

// KeySpec is the default key of every planned certificate.
type KeySpec struct {
	Algorithm string `json:"algorithm"` // "RSA" (default) or "ECDSA"
	Bits      int    `json:"bits"`      // RSA: 2048 (default), 3072, 4096; ECDSA: 256, 384
}

// Site is a central site.
type Site struct {
	Name           string         `json:"name"`
	Pools          []Pool         `json:"pools,omitempty"`
	Directors      []Pool         `json:"directors,omitempty"`
	EdgePools      []EdgePool     `json:"edge_pools,omitempty"`
	ReverseProxies []ReverseProxy `json:"reverse_proxies,omitempty"`
	// WAC lists Office Web Apps server FQDNs found in a Topology Builder document.
	WAC []string `json:"wac,omitempty"`
	// Operators are the CA user groups that operate the site's servers
	// (the default of its pools, directors, edge pools and proxies).
	Operators []string `json:"operators,omitempty"`
	// Pos is where the site is defined.
	Pos Pos `json:"-"`
}

// Pool is a Front End pool, a Standard Edition server (one server whose FQDN
// is the pool FQDN) or a Director pool.
type Pool struct {
	FQDN        string   `json:"fqdn"`
	Servers     []string `json:"servers"`
	WebInternal string   `json:"web_internal,omitempty"` // defaults to FQDN
	WebExternal string   `json:"web_external,omitempty"`
	// Standard is true for a Standard Edition server.
	Standard bool `json:"standard,omitempty"`
	// Operators are the CA user groups that operate the pool (the site's
	// unless the pool names its own).
	Operators []string `json:"operators,omitempty"`
	Pos       Pos      `json:"-"`
}

// Load-balancing modes of an edge pool.
const (
	LoadBalancingNone     = "none"
	LoadBalancingDNS      = "dns"
	LoadBalancingHardware = "hardware"
)

// Issuers of a certificate.
const (
	IssuerPublic   = "public"
	IssuerInternal = "internal"
)

// Certificate modes of a reverse proxy (R59).
const (
	ProxyCertShared  = "shared"
	ProxyCertPerPool = "per-pool"
)

// EdgePool is a set of Edge Servers behind one internal FQDN or load balancer.
type EdgePool struct {
	FQDN                  string   `json:"fqdn"` // internal interface FQDN or its VIP FQDN
	Servers               []string `json:"servers"`
	LoadBalancing         string   `json:"load_balancing"` // none | dns | hardware
	Access                string   `json:"access"`         // Access Edge external FQDN (or VIP)
	WebConf               string   `json:"webconf"`        // Web Conferencing Edge external FQDN (or VIP)
	AV                    string   `json:"av"`             // A/V Edge external FQDN (or VIP)
	SeparateAVCertificate bool     `json:"separate_av_certificate"`
	ExternalIssuer        string   `json:"external_issuer"` // public (default) | internal
	// Operators are the CA user groups that operate the edge pool (the
	// site's unless the edge pool names its own).
	Operators []string `json:"operators,omitempty"`
	Pos       Pos      `json:"-"`
}

// ReverseProxy is a reverse HTTP proxy server or farm.
type ReverseProxy struct {
	Name    string   `json:"name"`
	Servers []string `json:"servers"`
	// Publishes lists pool and director FQDNs; empty means every pool and director of the site.
	Publishes       []string `json:"publishes,omitempty"`
	Certificate     string   `json:"certificate"` // shared (default) | per-pool
	CombineWithEdge string   `json:"combine_with_edge,omitempty"`
	Issuer          string   `json:"issuer"` // public (default) | internal
	// Operators are the CA user groups that operate the proxy (the site's
	// unless the proxy names its own).
	Operators []string `json:"operators,omitempty"`
	Pos       Pos      `json:"-"`
}

// Pos is a place in a source file.
type Pos struct {
	File string
	Line int
	Col  int
}
