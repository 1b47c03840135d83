package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"edgecert/internal/atomicfile"
)

// Template is a certificate template: what a certificate issued under it
// looks like, which requests it accepts, and who may enroll. It is stored as
// templates/<Name>.yaml in the CA directory.
type Template struct {
	Name        string   `yaml:"name"`
	DisplayName string   `yaml:"display_name"`
	Validity    Duration `yaml:"validity"`
	// EKU names: serverAuth, clientAuth, codeSigning, emailProtection,
	// timeStamping, ocspSigning.
	EKU         []string `yaml:"eku"`
	EKUCritical bool     `yaml:"eku_critical"`
	// KeyUsage names: digitalSignature, contentCommitment, keyEncipherment,
	// dataEncipherment, keyAgreement, certSign, crlSign. keyEncipherment is
	// dropped for non-RSA keys.
	KeyUsage         []string `yaml:"key_usage"`
	KeyUsageCritical bool     `yaml:"key_usage_critical"`
	CA               bool     `yaml:"ca,omitempty"`
	PathLen          int      `yaml:"path_len,omitempty"`
	OCSPNoCheck      bool     `yaml:"ocsp_no_check,omitempty"`
	// SubjectFromRequest and SANsFromRequest copy the request's subject and
	// subject alternative names; otherwise the certificate carries the
	// request's first DNS name as CN only.
	SubjectFromRequest bool `yaml:"subject_from_request"`
	SANsFromRequest    bool `yaml:"sans_from_request"`
	// Allowed keys: RSA of at least MinRSABits, ECDSA on one of Curves.
	KeyTypes   []string `yaml:"key_types"` // rsa, ecdsa
	MinRSABits int      `yaml:"min_rsa_bits"`
	MaxRSABits int      `yaml:"max_rsa_bits,omitempty"`
	Curves     []string `yaml:"curves,omitempty"` // P-256, P-384
	// AllowedDNS are name patterns: "contoso.com" (exactly), "*.contoso.com"
	// (any name under it, and the wildcard itself). Empty: any name.
	AllowedDNS       []string `yaml:"allowed_dns,omitempty"`
	AllowWildcardSAN bool     `yaml:"allow_wildcard_san"`
	AllowIP          bool     `yaml:"allow_ip_sans"`
	Approval         bool     `yaml:"approval"`
	EnrollGroups     []string `yaml:"enroll_groups"`
	EnrollUsers      []string `yaml:"enroll_users,omitempty"`
	// LintSources are the zlint sources that must pass: RFC5280 always;
	// CABF_BR for publicly-trusted-style templates.
	LintSources     []string `yaml:"lint_sources"`
	PubliclyTrusted bool     `yaml:"publicly_trusted,omitempty"`
}

// builtinTemplates are the templates a new CA ships.
func builtinTemplates() []*Template {
	leafKeys := func(t *Template) *Template {
		t.KeyTypes, t.MinRSABits, t.MaxRSABits, t.Curves = []string{"rsa", "ecdsa"}, 2048, 4096, []string{"P-256", "P-384"}
		t.SubjectFromRequest, t.SANsFromRequest = true, true
		t.LintSources = []string{"RFC5280"}
		t.KeyUsageCritical = true
		return t
	}
	day := 24 * time.Hour
	return []*Template{
		leafKeys(&Template{Name: "WebServer", DisplayName: "Web Server", Validity: Duration(2 * 365 * day),
			EKU: []string{"serverAuth"}, KeyUsage: []string{"digitalSignature", "keyEncipherment"}, AllowWildcardSAN: true, AllowIP: true}),
		leafKeys(&Template{Name: "WebServerClientAuth", DisplayName: "Web Server and Client Authentication", Validity: Duration(2 * 365 * day),
			EKU: []string{"serverAuth", "clientAuth"}, KeyUsage: []string{"digitalSignature", "keyEncipherment"}, AllowWildcardSAN: true, AllowIP: true}),
		leafKeys(&Template{Name: "SubCA", DisplayName: "Subordinate Certification Authority", Validity: Duration(5 * 365 * day),
			KeyUsage: []string{"digitalSignature", "certSign", "crlSign"}, CA: true, PathLen: 0, Approval: true}),
		leafKeys(&Template{Name: "OCSPSigning", DisplayName: "OCSP Response Signing", Validity: Duration(90 * day),
			EKU: []string{"ocspSigning"}, KeyUsage: []string{"digitalSignature"}, OCSPNoCheck: true}),
	}
}

var ekuNames = map[string]x509.ExtKeyUsage{
	"serverAuth": x509.ExtKeyUsageServerAuth, "clientAuth": x509.ExtKeyUsageClientAuth,
	"codeSigning": x509.ExtKeyUsageCodeSigning, "emailProtection": x509.ExtKeyUsageEmailProtection,
	"timeStamping": x509.ExtKeyUsageTimeStamping, "ocspSigning": x509.ExtKeyUsageOCSPSigning,
}

var ekuOIDs = map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
	x509.ExtKeyUsageServerAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 1},
	x509.ExtKeyUsageClientAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 2},
	x509.ExtKeyUsageCodeSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 3},
	x509.ExtKeyUsageEmailProtection: {1, 3, 6, 1, 5, 5, 7, 3, 4},
	x509.ExtKeyUsageTimeStamping:    {1, 3, 6, 1, 5, 5, 7, 3, 8},
	x509.ExtKeyUsageOCSPSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 9},
}

var kuNames = map[string]x509.KeyUsage{
	"digitalSignature": x509.KeyUsageDigitalSignature, "contentCommitment": x509.KeyUsageContentCommitment,
	"keyEncipherment": x509.KeyUsageKeyEncipherment, "dataEncipherment": x509.KeyUsageDataEncipherment,
	"keyAgreement": x509.KeyUsageKeyAgreement, "certSign": x509.KeyUsageCertSign, "crlSign": x509.KeyUsageCRLSign,
}

var knownSources = map[string]bool{"RFC5280": true, "CABF_BR": true, "RFC5480": true, "RFC3279": true, "RFC5891": true, "RFC8813": true, "Community": true}

// validate checks a template's fields.
func (t *Template) validate() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("template %s: %s: %w", t.Name, fmt.Sprintf(f, a...), ErrBadRequest)
	}
	if !validTemplateName(t.Name) {
		return fmt.Errorf("invalid template name %q (letters, digits, - and _): %w", t.Name, ErrBadRequest)
	}
	if t.Validity <= 0 {
		return bad("validity must be positive")
	}
	for _, e := range t.EKU {
		if _, ok := ekuNames[e]; !ok {
			return bad("unknown EKU %q", e)
		}
	}
	for _, k := range t.KeyUsage {
		if _, ok := kuNames[k]; !ok {
			return bad("unknown key usage %q", k)
		}
	}
	for _, k := range t.KeyTypes {
		if k != "rsa" && k != "ecdsa" {
			return bad("unknown key type %q (rsa, ecdsa)", k)
		}
	}
	for _, c := range t.Curves {
		if c != "P-256" && c != "P-384" && c != "P-521" {
			return bad("unknown curve %q", c)
		}
	}
	hasRFC := false
	for _, s := range t.LintSources {
		if !knownSources[s] {
			return bad("unknown lint source %q", s)
		}
		hasRFC = hasRFC || s == "RFC5280"
	}
	if !hasRFC {
		return bad("lint_sources must include RFC5280")
	}
	if t.PubliclyTrusted && !t.hasSource("CABF_BR") {
		return bad("a publicly-trusted template must lint with CABF_BR")
	}
	for _, p := range t.AllowedDNS {
		if strings.Count(p, "*") > 1 || (strings.Contains(p, "*") && !strings.HasPrefix(p, "*.")) {
			return bad("invalid DNS pattern %q (use name or *.domain)", p)
		}
	}
	return nil
}

func (t *Template) hasSource(s string) bool {
	for _, x := range t.LintSources {
		if x == s {
			return true
		}
	}
	return false
}

func validTemplateName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// extKeyUsages and keyUsage convert names.
func (t *Template) extKeyUsages() []x509.ExtKeyUsage {
	var out []x509.ExtKeyUsage
	for _, e := range t.EKU {
		out = append(out, ekuNames[e])
	}
	return out
}

func (t *Template) keyUsage(rsaKey bool) x509.KeyUsage {
	var ku x509.KeyUsage
	for _, k := range t.KeyUsage {
		if k == "keyEncipherment" && !rsaKey {
			continue
		}
		ku |= kuNames[k]
	}
	return ku
}

// info summarises t.
func (t *Template) info() TemplateInfo {
	enroll := append(append([]string{}, t.EnrollGroups...), prefixAll("user:", t.EnrollUsers)...)
	return TemplateInfo{Name: t.Name, DisplayName: t.DisplayName, EKU: append([]string{}, t.EKU...),
		Validity: FormatDuration(time.Duration(t.Validity)), Approval: t.Approval, Enroll: enroll,
		Special: t.CA || containsFold(t.EKU, "ocspSigning")}
}

func prefixAll(p string, s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = p + x
	}
	return out
}

// mayEnroll reports whether p has Enroll permission on t.
func (t *Template) mayEnroll(p *Principal) bool {
	if p == nil {
		return false
	}
	if p.Admin {
		return true
	}
	for _, u := range t.EnrollUsers {
		if u == p.Name {
			return true
		}
	}
	for _, g := range t.EnrollGroups {
		for _, pg := range p.Groups {
			if strings.EqualFold(g, pg) {
				return true
			}
		}
	}
	return false
}

// templatePath is where template name lives.
func templatePath(dir, name string) string {
	return filepath.Join(dir, templatesDir, name+".yaml")
}

// loadTemplates reads every template of a CA directory.
func loadTemplates(dir string) (map[string]*Template, error) {
	entries, err := os.ReadDir(filepath.Join(dir, templatesDir))
	if err != nil {
		return nil, err
	}
	out := map[string]*Template{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		t, err := readTemplate(filepath.Join(dir, templatesDir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[t.Name] = t
	}
	return out, nil
}

func readTemplate(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Template
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", path, err, ErrBadRequest)
	}
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// saveTemplate writes t after validating it.
func saveTemplate(dir string, t *Template) error {
	if err := t.validate(); err != nil {
		return err
	}
	b, err := yaml.Marshal(t)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, templatesDir), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(templatePath(dir, t.Name), b, 0o644)
}

// TemplateChange is what `ca template set` changes; nil fields stay.
type TemplateChange struct {
	Enroll      *[]string // groups
	EnrollUsers *[]string
	Approval    *bool
	Validity    *time.Duration
	AllowedDNS  *[]string
	LintSources *[]string
	// PubliclyTrusted also adds CABF_BR to the lint sources.
	PubliclyTrusted *bool
	// CopyFrom creates the template as a copy of another one.
	CopyFrom string
}

// ListTemplates returns every template of a CA directory (no passphrase needed), by name.
func ListTemplates(dir string) ([]*Template, error) {
	m, err := loadTemplates(dir)
	if err != nil {
		return nil, err
	}
	var out []*Template
	for _, t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// GetTemplate returns one template of a CA directory.
func GetTemplate(dir, name string) (*Template, error) {
	if !validTemplateName(name) {
		return nil, fmt.Errorf("invalid template name %q: %w", name, ErrBadRequest)
	}
	t, err := readTemplate(templatePath(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no template %q in %s: %w", name, dir, ErrNotFound)
	}
	return t, err
}

// SetTemplate changes (or, with CopyFrom, creates) a template. It is an
// administrator's action on the CA directory; the change is validated
// before anything is written.
func SetTemplate(dir, name string, ch TemplateChange) (*Template, error) {
	var t *Template
	var err error
	if ch.CopyFrom != "" {
		if _, err := GetTemplate(dir, name); err == nil {
			return nil, fmt.Errorf("template %s already exists: %w", name, ErrConflict)
		}
		if t, err = GetTemplate(dir, ch.CopyFrom); err != nil {
			return nil, err
		}
		t.Name, t.DisplayName = name, name
	} else if t, err = GetTemplate(dir, name); err != nil {
		return nil, err
	}
	if ch.Enroll != nil {
		t.EnrollGroups = *ch.Enroll
	}
	if ch.EnrollUsers != nil {
		t.EnrollUsers = *ch.EnrollUsers
	}
	if ch.Approval != nil {
		t.Approval = *ch.Approval
	}
	if ch.Validity != nil {
		t.Validity = Duration(*ch.Validity)
	}
	if ch.AllowedDNS != nil {
		t.AllowedDNS = *ch.AllowedDNS
	}
	if ch.LintSources != nil {
		t.LintSources = *ch.LintSources
	}
	if ch.PubliclyTrusted != nil {
		t.PubliclyTrusted = *ch.PubliclyTrusted
		if t.PubliclyTrusted && !t.hasSource("CABF_BR") {
			t.LintSources = append(t.LintSources, "CABF_BR")
		}
	}
	if err := saveTemplate(dir, t); err != nil {
		return nil, err
	}
	return t, nil
}

// Info summarises the template for listings.
func (t *Template) Info() TemplateInfo { return t.info() }

// TemplateYAML is the template as stored.
func TemplateYAML(t *Template) ([]byte, error) { return yaml.Marshal(t) }
