package plan

import (
	"strings"

	"edgecert/internal/topology"
)

// riskWarnings adds to d the warnings about what is legal but risky. Each
// warning starts with the rule id and names the certificate.
func (b *builder) riskWarnings(d *draft) {
	c := &d.c
	if w := sharedKeyWarning(c); w != "" {
		d.warnings = append(d.warnings, w)
	}
	if c.Issuer == topology.IssuerPublic && containsString(c.EKU, EKUClientAuth) {
		d.warnings = append(d.warnings, clientAuthWarning(c))
	}
}

// sharedKeyWarning: a certificate installed on several servers must have an
// exportable key (R10), and an edge pool's external certificate must be the
// same on every server (R27); otherwise it cannot be copied to them.
func sharedKeyWarning(c *Certificate) string {
	if len(c.Servers) < 2 || c.Key.Exportable {
		return ""
	}
	rule := "R10"
	if c.Kind == KindEdgeExternal || c.Kind == KindEdgeExternalAndProxy || c.Kind == KindEdgeAV {
		rule = "R27"
	}
	return rule + ": certificate " + c.ID + " must be shared by " + strings.Join(c.Servers, ", ") +
		" but its key would not be exportable, so it cannot be copied to the other servers: request it with an exportable key"
}

// clientAuthWarning: a public-issuer certificate that asks for Client
// Authentication (R23 for public IM with AOL, M6 for the reverse proxy).
func clientAuthWarning(c *Certificate) string {
	rule, why, without, internal := "M6", "the reverse proxy request procedure adds it (R56)",
		"request it with Server Authentication only, which the reverse proxy listener needs (the certificate summary asks only for the server EKU)",
		"issue it from the internal CA (issuer: internal) where clients trust that CA"
	switch c.Kind {
	case KindEdgeExternal, KindEdgeAV:
		rule, why = "R23", "public IM connectivity with AOL is deployed (public_im_aol: true)"
		without = "request it without Client Authentication by turning public_im_aol off, which every other edge role allows"
		internal = "issue it from the internal CA (external_issuer: internal), which federation partners will not trust"
	case KindEdgeExternalAndProxy:
		why = "it is also the reverse proxy certificate, whose request procedure adds it (R56, R60)"
		without = "request it without Client Authentication where the roles allow it (public_im_aol off; separate reverse proxy certificate with Server Authentication only)"
		internal = "issue it from the internal CA (external_issuer/issuer: internal), which federation partners and remote clients will not trust"
	}
	return rule + ": certificate " + c.ID + " asks a public CA for Client Authentication because " + why +
		"; public CAs have been dropping clientAuth from TLS server certificates through 2026 as browser root programs require server-authentication-only hierarchies, so the CA may refuse the request or issue it without clientAuth; choices: " +
		without + ", or " + internal
}
