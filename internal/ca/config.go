package ca

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"edgecert/internal/atomicfile"
)

// Files of a CA directory.
const (
	configFile      = "ca.yaml"
	rootCertFile    = "root.crt"
	rootKeyFile     = "root.key"
	rootCRLFile     = "root.crl"
	issuingCertFile = "issuing.crt"
	issuingKeyFile  = "issuing.key"
	issuingCSRFile  = "issuing.csr"
	templatesDir    = "templates"
	defaultDBFile   = "ca.db"
)

// Config is ca.yaml, the CA directory's configuration.
type Config struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	FileName string `yaml:"file_name"`      // issuing CA file-safe name (CRL/AIA)
	RootName string `yaml:"root_file_name"` // root CA file-safe name
	CRLBase  string `yaml:"crl_base_url"`
	AIABase  string `yaml:"aia_base_url"`
	OCSPURL  string `yaml:"ocsp_url,omitempty"`
	DSN      string `yaml:"database,omitempty"` // empty: ca.db in the directory
	RootOnly bool   `yaml:"root_only,omitempty"`
	// Pending is set while an issuing CA waits for its certificate from an
	// external root (ca import-issuing).
	Pending bool `yaml:"pending_issuing_certificate,omitempty"`
	// CRLValidity and DeltaValidity are the nextUpdate distances.
	CRLValidity   Duration `yaml:"crl_validity"`
	DeltaValidity Duration `yaml:"delta_crl_validity"`
	// PKCS11 keeps the CA keys in a token instead of sealed files.
	PKCS11 *PKCS11Config `yaml:"pkcs11,omitempty"`
}

// PKCS11Config names a PKCS#11 token and the labels of the CA keys in it.
// The token PIN is the CA passphrase.
type PKCS11Config struct {
	Module       string `yaml:"module"`
	TokenLabel   string `yaml:"token_label"`
	RootLabel    string `yaml:"root_key_label"`
	IssuingLabel string `yaml:"issuing_key_label"`
}

// Duration is a time.Duration written as "720h", "90d" or "2y" in YAML.
type Duration time.Duration

// ParseDuration accepts Go durations and the day (d) and year (y, 365 days) suffixes.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := regexp.MustCompile(`^(\d+)([dy])$`).FindStringSubmatch(s); m != nil {
		var n int64
		fmt.Sscan(m[1], &n)
		day := 24 * time.Hour
		if m[2] == "y" {
			return time.Duration(n) * 365 * day, nil
		}
		return time.Duration(n) * day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use e.g. 720h, 90d or 2y", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid duration %q: must be positive", s)
	}
	return d, nil
}

// FormatDuration writes d in the largest exact unit (y, d, or Go form).
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d > 0 && d%(365*day) == 0:
		return fmt.Sprintf("%dy", d/(365*day))
	case d > 0 && d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return FormatDuration(time.Duration(d)), nil }

// loadConfig reads dir/ca.yaml.
func loadConfig(dir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a CA directory (no %s; run 'edgecert ca init --dir %s'): %w", dir, configFile, dir, ErrNotFound)
		}
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, configFile), err)
	}
	return &c, nil
}

// saveConfig writes dir/ca.yaml atomically.
func saveConfig(dir string, c *Config) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, configFile), b, fileMode)
}

// dsn returns the database of the CA.
func (c *Config) dsn(dir string) string {
	if c.DSN != "" {
		return c.DSN
	}
	return filepath.Join(dir, defaultDBFile)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileSafe turns a CA common name into a file-safe name for URLs.
func fileSafe(cn string) string {
	s := strings.Trim(unsafeChars.ReplaceAllString(cn, "-"), "-")
	if s == "" {
		s = "ca"
	}
	return s
}
