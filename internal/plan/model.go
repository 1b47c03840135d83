// Package plan computes, from a [topology.Topology], every certificate the
// deployment needs: subject, SANs, key usage, EKU, key, issuer, template,
// friendly name and the servers it is installed on, following the rules of
// docs/rules.md, generated from the rule table (ruletable.go; section M
// decides where the documents disagree).
//
// Planning is pure and deterministic: the same topology gives the same plan,
// byte for byte, in every output form.
package plan

// Certificate kinds (the "kind" field of the plan JSON).
const (
	KindEdgeInternal         = "edge-internal"
	KindEdgeExternal         = "edge-external"
	KindEdgeAV               = "edge-av"
	KindReverseProxy         = "reverse-proxy"
	KindEdgeExternalAndProxy = "edge-external+reverse-proxy"
	KindDefault              = "default"
	KindWebInternal          = "web-internal"
	KindWebExternal          = "web-external"
	KindOAuth                = "oauth"
)

// Usages: the -Type values of the Lync certificate cmdlets.
const (
	UsageInternal                 = "Internal"
	UsageAccessEdgeExternal       = "AccessEdgeExternal"
	UsageDataEdgeExternal         = "DataEdgeExternal"
	UsageAudioVideoAuthentication = "AudioVideoAuthentication"
	UsageXMPPServer               = "XMPPServer"
	UsageWebServicesExternal      = "WebServicesExternal"
	UsageDefault                  = "Default"
	UsageWebServicesInternal      = "WebServicesInternal"
	UsageOAuthTokenIssuer         = "OAuthTokenIssuer"
)

// AllUsages lists every usage name, in the order of the contract.
var AllUsages = []string{
	UsageInternal, UsageAccessEdgeExternal, UsageDataEdgeExternal,
	UsageAudioVideoAuthentication, UsageXMPPServer, UsageWebServicesExternal,
	UsageDefault, UsageWebServicesInternal, UsageOAuthTokenIssuer,
}

// Plan is the whole set of certificates of a topology.
type Plan struct {
	Version      int           `json:"version"`
	Certificates []Certificate `json:"certificates"`
	Warnings     []string      `json:"warnings"`
}

// Certificate is one certificate to obtain, install and assign.
type Certificate struct {
	ID               string   `json:"id"`
	Kind             string   `json:"kind"`
	Usages           []string `json:"usages"`
	Site             string   `json:"site"`
	Subject          Subject  `json:"subject"`
	SANs             []string `json:"sans"` // subject name first (M1, M5)
	KeyUsage         []string `json:"key_usage"`
	KeyUsageCritical bool     `json:"key_usage_critical"`
	EKU              []string `json:"eku"`          // serverAuth, clientAuth
	EKUCritical      bool     `json:"eku_critical"` // always false (R56)
	Key              Key      `json:"key"`
	Issuer           string   `json:"issuer"` // internal | public
	Template         string   `json:"template"`
	FriendlyName     string   `json:"friendly_name"`
	Servers          []string `json:"servers"`
	RequestOn        string   `json:"request_on"`
	Rules            []string `json:"rules"`
	// Names explains, for the subject and each SAN, the rule that put it there.
	Names []NameSource `json:"names"`
	// Endpoints are the TLS endpoints (host:port) where this certificate is
	// served, for live verification.
	Endpoints []string `json:"endpoints,omitempty"`
}

// Subject is the subject distinguished name of a request.
type Subject struct {
	CommonName         string `json:"common_name"`
	Organization       string `json:"organization,omitempty"`
	OrganizationalUnit string `json:"organizational_unit,omitempty"`
	Locality           string `json:"locality,omitempty"`
	State              string `json:"state,omitempty"`
	Country            string `json:"country,omitempty"`
}

// Key is the planned key.
type Key struct {
	Algorithm  string `json:"algorithm"` // RSA | ECDSA
	Bits       int    `json:"bits"`
	Exportable bool   `json:"exportable"`
}

// NameSource says why a name is in a certificate.
type NameSource struct {
	Name  string   `json:"name"`
	Rules []string `json:"rules"`
	Why   string   `json:"why"`
}
