package ca

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
)

// refuse builds a policy refusal.
func refuse(t *Template, f string, a ...any) error {
	return fmt.Errorf("template %s: %s: %w", t.Name, fmt.Sprintf(f, a...), ErrBadRequest)
}

// checkRequest applies template t's policy to a parsed request: key type and
// size, every name (subject attributes, DNS and IP SANs; namesFor), and
// requested usages. It returns the names to sign.
func checkRequest(t *Template, req *x509.CertificateRequest) (*certNames, error) {
	if err := checkKey(t, req); err != nil {
		return nil, err
	}
	n, err := namesFor(t, req)
	if err != nil {
		return nil, err
	}
	if err := checkEKUs(t, req); err != nil {
		return nil, err
	}
	return n, nil
}

// checkKey enforces the template's key algorithms and sizes.
func checkKey(t *Template, req *x509.CertificateRequest) error {
	allowed := func(kind string) bool {
		for _, k := range t.KeyTypes {
			if k == kind {
				return true
			}
		}
		return false
	}
	switch k := req.PublicKey.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if !allowed("rsa") {
			return refuse(t, "RSA keys are not allowed")
		}
		if bits < t.MinRSABits {
			return refuse(t, "RSA key of %d bits is too small (at least %d)", bits, t.MinRSABits)
		}
		if max := t.maxRSABits(); bits > max {
			return refuse(t, "RSA key of %d bits is too large (at most %d)", bits, max)
		}
	case *ecdsa.PublicKey:
		if !allowed("ecdsa") {
			return refuse(t, "ECDSA keys are not allowed")
		}
		curve := k.Curve.Params().Name
		for _, c := range t.Curves {
			if c == curve {
				return nil
			}
		}
		return refuse(t, "ECDSA curve %s is not allowed (allowed: %s)", curve, strings.Join(t.Curves, ", "))
	default:
		return refuse(t, "key type %T is not allowed", req.PublicKey)
	}
	return nil
}

// checkDNSName checks a name's syntax, wildcard use and allowed patterns.
func checkDNSName(t *Template, name string, san bool) error {
	if err := dnsSyntax(name); err != nil {
		return refuse(t, "%q is not a valid DNS name: %v", name, err)
	}
	if strings.HasPrefix(name, "*.") && !t.AllowWildcardSAN {
		return refuse(t, "wildcard SAN %q is not allowed", name)
	}
	if !nameAllowed(t.AllowedDNS, name) {
		return refuse(t, "%q is outside the allowed names (%s)", name, strings.Join(t.AllowedDNS, ", "))
	}
	return nil
}

// dnsSyntax checks an LDH host name, with an optional leading "*." label.
func dnsSyntax(name string) error {
	if net.ParseIP(name) != nil {
		return fmt.Errorf("an IP address, not a name")
	}
	n := strings.TrimSuffix(name, ".")
	if n == "" || len(n) > 253 {
		return fmt.Errorf("empty or longer than 253 characters")
	}
	labels := strings.Split(n, ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 2 {
			continue
		}
		if l == "" || len(l) > 63 {
			return fmt.Errorf("label %q is empty or too long", l)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with a hyphen", l)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("label %q has character %q", l, r)
			}
		}
	}
	if len(labels) < 2 {
		return fmt.Errorf("not a fully qualified name")
	}
	return nil
}

// nameAllowed matches name against patterns: "contoso.com" exactly, or
// "*.contoso.com" for any name below contoso.com (the wildcard included).
func nameAllowed(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSuffix(p, "."))
		if p == name {
			return true
		}
		if suffix, ok := strings.CutPrefix(p, "*"); ok && strings.HasSuffix(name, suffix) && len(name) > len(suffix) {
			return true
		}
	}
	return false
}

// checkEKUs refuses a request that asks for usages the template does not grant.
func checkEKUs(t *Template, req *x509.CertificateRequest) error {
	asked, err := requestedEKUs(req)
	if err != nil {
		return err
	}
	for _, oid := range asked {
		ok := false
		for _, e := range t.extKeyUsages() {
			if ekuOIDs[e].Equal(oid) {
				ok = true
			}
		}
		if !ok {
			return refuse(t, "the request asks for extended key usage %s, which this template does not grant (it grants: %s)", ekuName(oid), strings.Join(t.EKU, ", "))
		}
	}
	return nil
}

func ekuName(oid interface{ String() string }) string {
	for name, e := range ekuNames {
		if ekuOIDs[e].String() == oid.String() {
			return name
		}
	}
	return oid.String()
}
