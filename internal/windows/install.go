package windows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"edgecert/internal/plan"
)

// ErrInvalid is wrapped by every error about an input the script cannot
// carry safely (a name that is not a DNS name, a thumbprint that is not 40
// hex digits, a file name with a path, a friendly name with a control
// character, an unknown usage).
var ErrInvalid = errors.New("windows: invalid install input")

// Install is what one server's install script imports and assigns.
type Install struct {
	// Server is the FQDN of the computer the script must run on.
	Server string
	// Roots go to Cert:\LocalMachine\Root, Intermediates to
	// Cert:\LocalMachine\CA; each is skipped when its thumbprint is there.
	Roots, Intermediates []CertFile
	// Personal certificates go to Cert:\LocalMachine\My, then are assigned.
	Personal []PFX
}

// CertFile is a certificate file (DER or PEM .cer/.crt) next to the script.
type CertFile struct {
	File       string // a file name next to the script, no directory
	Thumbprint string // SHA-1 of the DER, 40 hex digits
	Subject    string // shown in comments and messages only
}

// PFX is a personal certificate with its key, next to the script, and the
// usages it is assigned.
type PFX struct {
	ID           string // the plan's certificate id, shown in comments
	File         string // a file name next to the script, no directory
	Thumbprint   string
	FriendlyName string
	// Exportable imports the key as exportable (the plan's key.exportable).
	Exportable bool
	// Usages are Set-CsCertificate -Type values (plan.AllUsages).
	Usages []string
	// EffectiveDate, when set, stages AudioVideoAuthentication and
	// OAuthTokenIssuer with -Roll -EffectiveDate (R80–R82); the other
	// usages are assigned at once.
	EffectiveDate time.Time
}

// rolled are the usages that renew stages with -Roll -EffectiveDate.
var rolled = []string{plan.UsageAudioVideoAuthentication, plan.UsageOAuthTokenIssuer}

// PersonalFromPlan lists the certificates p puts on server, in plan order,
// as PFX entries named after their ids. thumbprint gives each issued
// certificate's thumbprint by id. OAuthTokenIssuer is global: only the
// server that requests the OAuth certificate assigns it (once per
// deployment); the others only import it. A reverse proxy is no Lync
// server: its certificates are imported, never assigned.
func PersonalFromPlan(p *plan.Plan, server string, thumbprint func(id string) string) []PFX {
	lync := isLyncServer(p, server)
	var out []PFX
	for _, c := range p.Certificates {
		if !slices.Contains(c.Servers, server) {
			continue
		}
		usages := slices.Clone(c.Usages)
		if server != c.RequestOn {
			usages = slices.DeleteFunc(usages, func(u string) bool { return u == plan.UsageOAuthTokenIssuer })
		}
		if !lync {
			usages = nil
		}
		out = append(out, PFX{
			ID:           c.ID,
			File:         FileName(c.ID) + ".pfx",
			Thumbprint:   thumbprint(c.ID),
			FriendlyName: c.FriendlyName,
			Exportable:   c.Key.Exportable,
			Usages:       usages,
		})
	}
	return out
}

// isLyncServer reports whether server runs Lync Server or Skype for
// Business Server: an Edge Server (it has an edge internal certificate) or
// a Front End, Standard Edition or Director server (a Default certificate).
func isLyncServer(p *plan.Plan, server string) bool {
	return slices.ContainsFunc(p.Certificates, func(c plan.Certificate) bool {
		return (c.Kind == plan.KindEdgeInternal || c.Kind == plan.KindDefault) && slices.Contains(c.Servers, server)
	})
}

// FileName turns a certificate id ("edge-external/lsedge.contoso.net") into
// a file name stem that Windows and the script accept.
func FileName(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// check validates every input the script will carry.
func (in Install) check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if !isDNSName(in.Server) {
		bad("server %q is not a lower-case DNS name", in.Server)
	}
	for _, c := range slices.Concat(in.Roots, in.Intermediates) {
		if !isFileName(c.File, ".cer", ".crt") {
			bad("certificate file %q is not a .cer or .crt file name without a directory", c.File)
		}
		if !isThumbprint(c.Thumbprint) {
			bad("thumbprint %q of %s is not 40 hex digits", c.Thumbprint, c.File)
		}
		if !isText(c.Subject) {
			bad("subject of %s has a control character", c.File)
		}
	}
	for _, p := range in.Personal {
		if !isFileName(p.File, ".pfx") {
			bad("file %q is not a .pfx file name without a directory", p.File)
		}
		if !isThumbprint(p.Thumbprint) {
			bad("thumbprint %q of %s is not 40 hex digits", p.Thumbprint, p.File)
		}
		if !isText(p.FriendlyName) || !isText(p.ID) {
			bad("friendly name or id of %s has a control character", p.File)
		}
		for _, u := range p.Usages {
			if !slices.Contains(plan.AllUsages, u) {
				bad("usage %q of %s is not a Set-CsCertificate -Type value", u, p.File)
			}
		}
	}
	return errors.Join(errs...)
}

func isDNSName(s string) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func isFileName(s string, exts ...string) bool {
	if len(s) > 200 || !slices.ContainsFunc(exts, func(e string) bool { return strings.HasSuffix(strings.ToLower(s), e) && len(s) > len(e) }) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return s[0] != '.'
}

func isThumbprint(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isText rejects control characters (a new line would end a comment or a
// string), text that is not UTF-8 (it could not be written back as it is)
// and overly long text.
func isText(s string) bool {
	if len(s) > 512 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0x2028 || r == 0x2029 || r == 0x85 {
			return false
		}
	}
	return true
}

// quote makes a PowerShell single-quoted string. PowerShell also ends a
// single-quoted string at the typographic single quotes U+2018 to U+201B,
// so each of those is doubled too.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// comment makes text safe inside a '#' comment line (already free of
// control characters): '#>' could not end anything here, but keep it plain.
func comment(s string) string { return strings.ReplaceAll(s, "#>", "# >") }
