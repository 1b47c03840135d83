package windows

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"edgecert/internal/plan"
)

// Bundle is what one server is handed: the certificates to trust, the
// personal certificates (.pfx) to import, and the usages to assign.
type Bundle struct {
	Server        string
	Roots         []File // into Cert:\LocalMachine\Root
	Intermediates []File // into Cert:\LocalMachine\CA
	Certificates  []Personal
	// Lync is true when the server is a Lync / Skype for Business server
	// (some usage is assigned with Set-CsCertificate); a reverse proxy is
	// only given its certificates.
	Lync bool
}

// File is a CA certificate of the bundle.
type File struct {
	Name       string // relative path in the bundle, with forward slashes
	Thumbprint string
	Subject    string
}

// Personal is a .pfx of the bundle and what to do with it.
type Personal struct {
	ID           string // plan id
	Name         string // file name of the .pfx in the bundle
	Thumbprint   string
	FriendlyName string
	Exportable   bool // import with an exportable key (the plan shares it)
	Assign       []SetCall
}

// SetCall is one Set-CsCertificate call: Types share the certificate;
// a roll (R80–R82) takes effect at Effective; Global is the deployment-wide
// OAuthTokenIssuer (-Identity Global).
type SetCall struct {
	Types     []string
	Roll      bool
	Effective time.Time
	Global    bool
}

// ErrBundle is wrapped by errors about a bundle's content.
var ErrBundle = errors.New("invalid bundle")

// Validate checks what the script generator relies on: no control
// characters in any text, thumbprints in hex, known usages, a roll with
// its effective date.
func (b *Bundle) Validate() error {
	if b.Server == "" {
		return fmt.Errorf("no server: %w", ErrBundle)
	}
	texts := []string{b.Server}
	for _, f := range append(append([]File(nil), b.Roots...), b.Intermediates...) {
		texts = append(texts, f.Name, f.Subject)
		if !isThumbprint(f.Thumbprint) {
			return fmt.Errorf("%s: thumbprint %q: %w", f.Name, f.Thumbprint, ErrBundle)
		}
	}
	for _, p := range b.Certificates {
		texts = append(texts, p.ID, p.Name, p.FriendlyName)
		if !isThumbprint(p.Thumbprint) {
			return fmt.Errorf("%s: thumbprint %q: %w", p.ID, p.Thumbprint, ErrBundle)
		}
		for _, a := range p.Assign {
			if len(a.Types) == 0 {
				return fmt.Errorf("%s: an assignment without a usage: %w", p.ID, ErrBundle)
			}
			for _, t := range a.Types {
				if !knownUsage(t) {
					return fmt.Errorf("%s: unknown usage %q: %w", p.ID, t, ErrBundle)
				}
			}
			if a.Roll && a.Effective.IsZero() {
				return fmt.Errorf("%s: a roll needs an effective date (R80): %w", p.ID, ErrBundle)
			}
		}
	}
	for _, t := range texts {
		for _, r := range t {
			if r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) {
				return fmt.Errorf("%q holds a control character: %w", t, ErrBundle)
			}
		}
	}
	return nil
}

func isThumbprint(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789ABCDEF", r) {
			return false
		}
	}
	return true
}

func knownUsage(u string) bool {
	for _, k := range plan.AllUsages {
		if k == u {
			return true
		}
	}
	return false
}

// lyncUsage reports whether a usage is assigned with Set-CsCertificate on
// this kind of certificate: a reverse proxy's listener is not.
func lyncUsage(c *plan.Certificate, u string) bool {
	return !(u == plan.UsageWebServicesExternal && (c.Kind == plan.KindReverseProxy || c.Kind == plan.KindEdgeExternalAndProxy))
}

// Current is what a server's store says of one usage: the certificate in
// effect and, for a staged roll, the one that takes over at Effective.
type Current struct {
	Thumbprint string
	Staged     string
	Effective  time.Time
}

// Assignments groups the usages of c on server into Set-CsCertificate
// calls for the certificate with thumbprint t, given what the store holds
// for each usage. Usages of a reverse proxy listener and, on every server
// but the first, the global OAuthTokenIssuer are left out.
func Assignments(c *plan.Certificate, server, t string, current map[string]Current) []SetCall {
	var plain []string
	var out []SetCall
	for _, u := range c.Usages {
		if !lyncUsage(c, u) {
			continue
		}
		cur := current[u]
		global := u == plan.UsageOAuthTokenIssuer
		if global && !strings.EqualFold(server, c.RequestOn) {
			continue // one assignment per deployment; CMS replicates it
		}
		switch {
		case cur.Staged == t:
			out = append(out, SetCall{Types: []string{u}, Roll: true, Effective: cur.Effective.UTC(), Global: global})
		case cur.Thumbprint == t && global:
			out = append(out, SetCall{Types: []string{u}, Global: true})
		case cur.Thumbprint == t:
			plain = append(plain, u)
		}
	}
	if len(plain) > 0 {
		sort.Strings(plain)
		out = append([]SetCall{{Types: plain}}, out...)
	}
	return out
}

// PlanBundle builds the bundle of server: every certificate the plan puts
// on it, as the server's store holds it (current maps a usage to what is
// assigned, staged rolls included), with the given roots and
// intermediates. A planned certificate with nothing assigned yet is an
// error: apply has not finished it.
func PlanBundle(p *plan.Plan, server string, current map[string]Current, roots, intermediates []File) (*Bundle, error) {
	b := &Bundle{Server: strings.ToLower(server), Roots: roots, Intermediates: intermediates}
	seen := map[string]bool{}
	for i := range p.Certificates {
		c := &p.Certificates[i]
		if !hasServer(c, server) {
			continue
		}
		var thumbs []string
		for _, u := range c.Usages {
			cur := current[u]
			for _, t := range []string{cur.Thumbprint, cur.Staged} {
				if t != "" && !contains(thumbs, t) {
					thumbs = append(thumbs, t)
				}
			}
		}
		if len(thumbs) == 0 {
			return nil, fmt.Errorf("%s has no certificate assigned on %s yet (run edgecert apply first): %w", c.ID, server, ErrBundle)
		}
		for _, t := range thumbs {
			if seen[t] {
				continue // a certificate shared by two plan entries is imported once
			}
			seen[t] = true
			name := fileName(c.ID)
			if len(thumbs) > 1 {
				name += "-" + t[:8]
			}
			calls := Assignments(c, server, t, current)
			if len(calls) > 0 {
				b.Lync = true
			}
			b.Certificates = append(b.Certificates, Personal{ID: c.ID, Name: name + ".pfx", Thumbprint: t,
				FriendlyName: c.FriendlyName, Exportable: c.Key.Exportable, Assign: calls})
		}
	}
	if len(b.Certificates) == 0 {
		return nil, fmt.Errorf("the plan puts no certificate on %s (see edgecert plan): %w", server, ErrBundle)
	}
	return b, b.Validate()
}

func hasServer(c *plan.Certificate, server string) bool {
	for _, s := range c.Servers {
		if strings.EqualFold(s, server) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fileName turns a plan id (kind/name) into a file name.
func fileName(id string) string {
	return strings.NewReplacer("/", "_", "+", "-", "\\", "_", ":", "_").Replace(id)
}
