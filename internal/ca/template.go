package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
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
	MaxRSABits int      `yaml:"max_rsa_bits,omitempty"` // 0: DefaultMaxRSABits; at most LimitRSABits
	Curves     []string `yaml:"curves,omitempty"`       // P-256, P-384
	// AllowedDNS are name patterns: "contoso.com" (exactly), "*.contoso.com"
	// (any name under it, and the wildcard itself). Empty: any name.
	AllowedDNS       []string `yaml:"allowed_dns,omitempty"`
	AllowWildcardSAN bool     `yaml:"allow_wildcard_san"`
	// AllowIP lets requests carry IP address SANs. Once the template
	// restricts names (AllowedDNS) or lists AllowedIPs, an IP SAN must be
	// inside one of AllowedIPs: addresses ("10.0.0.5") or networks
	// ("10.0.0.0/24").
	AllowIP      bool     `yaml:"allow_ip_sans"`
	AllowedIPs   []string `yaml:"allowed_ips,omitempty"`
	Approval     bool     `yaml:"approval"`
	EnrollGroups []string `yaml:"enroll_groups"`
	EnrollUsers  []string `yaml:"enroll_users,omitempty"`
	// LintSources are the zlint sources that must pass: RFC5280 always;
	// CABF_BR for publicly-trusted-style templates.
	LintSources     []string `yaml:"lint_sources"`
	PubliclyTrusted bool     `yaml:"publicly_trusted,omitempty"`
	// ACMEPreauthorize, when it names a topology, pre-authorizes the names
	// of the topology's servers for ACME accounts of their operators
	// (preauth.go). Off by default.
	ACMEPreauthorize ACMEPreauth `yaml:"acme_preauthorize,omitempty"`
}

// RSA key sizes: a template without max_rsa_bits takes keys of at most
// DefaultMaxRSABits; no template takes more than LimitRSABits (the bound
// csr.MaxKeyBytes puts on a key before it is parsed).
const (
	DefaultMaxRSABits = 8192
	LimitRSABits      = 16384
)

// maxRSABits is the largest RSA key t takes.
func (t *Template) maxRSABits() int {
	if t.MaxRSABits == 0 {
		return DefaultMaxRSABits
	}
	return t.MaxRSABits
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
	// No built-in template takes IP address SANs: an administrator turns
	// them on for a template, with the networks it may name.
	return []*Template{
		leafKeys(&Template{Name: "WebServer", DisplayName: "Web Server", Validity: Duration(2 * 365 * day),
			EKU: []string{"serverAuth"}, KeyUsage: []string{"digitalSignature", "keyEncipherment"}, AllowWildcardSAN: true}),
		leafKeys(&Template{Name: "WebServerClientAuth", DisplayName: "Web Server and Client Authentication", Validity: Duration(2 * 365 * day),
			EKU: []string{"serverAuth", "clientAuth"}, KeyUsage: []string{"digitalSignature", "keyEncipherment"}, AllowWildcardSAN: true}),
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
	if t.MaxRSABits < 0 || t.MaxRSABits > LimitRSABits {
		return bad("max_rsa_bits %d is not between 0 (%d) and %d", t.MaxRSABits, DefaultMaxRSABits, LimitRSABits)
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
		if err := checkDNSPattern(p); err != nil {
			return bad("allowed DNS pattern %q %v", p, err)
		}
	}
	for _, p := range t.AllowedIPs {
		if _, _, err := parseIPPattern(p); err != nil {
			return bad("allowed_ips: %v", err)
		}
	}
	if len(t.AllowedIPs) > 0 && !t.AllowIP {
		return bad("allowed_ips is set but allow_ip_sans is false")
	}
	return nil
}

// checkDNSPattern refuses a pattern that can never match a name the
// policy accepts: "contoso.com" and "*.contoso.com" are the forms.
func checkDNSPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("is empty and matches nothing (to allow any name, clear the list)")
	case strings.HasPrefix(p, "."):
		return fmt.Errorf("can never match: a name has no empty label (did you mean %q?)", "*"+p)
	case strings.Contains(p, "*") && (!strings.HasPrefix(p, "*.") || strings.Count(p, "*") > 1):
		return fmt.Errorf("can never match: only a leading \"*.\" is a wildcard (use name or *.domain)")
	case net.ParseIP(p) != nil:
		return fmt.Errorf("is an IP address: list it among the allowed IP addresses")
	}
	rest := strings.TrimPrefix(p, "*.")
	if err := dnsSyntax(rest); err != nil {
		return fmt.Errorf("can never match: %v", err)
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

// TemplateProblem is a template file the CA cannot use: it is skipped,
// and the other templates stay in service.
type TemplateProblem struct {
	File string // the file's name in templates/
	Name string // the template it stands for: the file name without .yaml
	Err  error  // what is wrong, with the file's path (for administrators)
}

func (p TemplateProblem) Error() string { return p.Err.Error() }

// maxTemplateBytes bounds a template file.
const maxTemplateBytes = 64 << 10

// loadTemplates reads every template of a CA directory; a file that is not
// a valid template, or defines another template than its name says, is
// reported in problems and skipped.
func loadTemplates(dir string) (map[string]*Template, []TemplateProblem, error) {
	entries, err := os.ReadDir(filepath.Join(dir, templatesDir))
	if err != nil {
		return nil, nil, err
	}
	out := map[string]*Template{}
	var problems []TemplateProblem
	for _, e := range entries {
		stem, ok := strings.CutSuffix(e.Name(), ".yaml")
		if e.IsDir() || !ok {
			continue
		}
		path := filepath.Join(dir, templatesDir, e.Name())
		t, err := readTemplate(path)
		if err == nil && t.Name != stem {
			err = fmt.Errorf("%s defines template %q: a template's file is named after it (%s.yaml)", path, t.Name, t.Name)
		}
		if err != nil {
			problems = append(problems, TemplateProblem{File: e.Name(), Name: stem, Err: err})
			continue
		}
		out[t.Name] = t
	}
	return out, problems, nil
}

func readTemplate(path string) (*Template, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTemplateBytes {
		return nil, fmt.Errorf("%s: file too large (a template is at most %d bytes): %w", path, maxTemplateBytes, ErrBadRequest)
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
	if err := t.ACMEPreauthorize.load(filepath.Dir(filepath.Dir(path))); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// saveTemplate writes t after validating it.
func saveTemplate(dir string, t *Template) error {
	if err := t.validate(); err != nil {
		return err
	}
	if err := t.ACMEPreauthorize.load(dir); err != nil {
		return err
	}
	b, err := yaml.Marshal(t)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, templatesDir), dirMode); err != nil {
		return err
	}
	return atomicfile.Write(templatePath(dir, t.Name), b, fileMode)
}

// templateNames lists the names of the template files of a CA directory.
func templateNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, templatesDir))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			out = append(out, n)
		}
	}
	return out, nil
}

// ListTemplates returns every template of a CA directory (no passphrase
// needed), by name, and the template files it cannot use.
func ListTemplates(dir string) ([]*Template, []TemplateProblem, error) {
	m, problems, err := loadTemplates(dir)
	if err != nil {
		return nil, nil, err
	}
	var out []*Template
	for _, t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, problems, nil
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

// Info summarises the template for listings.
func (t *Template) Info() TemplateInfo { return t.info() }

// TemplateYAML is the template as stored.
func TemplateYAML(t *Template) ([]byte, error) { return yaml.Marshal(t) }
