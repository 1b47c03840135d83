package windows

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"edgecert/internal/textenc"
)

// Limits of a snapshot file: far above what a server's stores hold (a
// Trusted Root store has a few hundred certificates of about 2 KB).
const (
	MaxSnapshotBytes = 32 << 20
	MaxCertificates  = 20000
)

// ErrInvalid is wrapped by every error about a snapshot's content.
var ErrInvalid = errors.New("invalid snapshot")

// Snapshot is what one server holds, as Collect-EdgecertSnapshot.ps1 saw it.
type Snapshot struct {
	File     string // where it was read from, for messages
	Version  int
	Computer string // the server's FQDN, lower case
	Root     []Cert // Cert:\LocalMachine\Root
	CA       []Cert // Cert:\LocalMachine\CA
	My       []Cert // Cert:\LocalMachine\My
	// Assignments are Get-CsCertificate's answer; HasAssignments is false
	// when the snapshot has no CsCertificate property (a server without
	// the Lync / Skype for Business module, such as a reverse proxy).
	Assignments    []Assignment
	HasAssignments bool
}

// Cert is one certificate of a store.
type Cert struct {
	Thumbprint    string // SHA-1 of Raw, upper-case hex
	FriendlyName  string
	HasPrivateKey bool
	// Exportable is whether the private key may be exported; nil when
	// the snapshot does not say (older collections, keys it could not open).
	Exportable *bool
	Raw        []byte
	// Cert is Raw parsed; nil when Go cannot parse it (ParseErr says why).
	Cert     *x509.Certificate
	ParseErr error
}

// Assignment is one Get-CsCertificate entry: the certificate assigned to a
// usage, and with a staged roll (Set-CsCertificate -Roll -EffectiveDate)
// the one it replaces until EffectiveDate.
type Assignment struct {
	Use                string
	Thumbprint         string
	EffectiveDate      time.Time // zero: none
	PreviousThumbprint string
}

// Current returns the thumbprint in effect at now.
func (a Assignment) Current(now time.Time) string {
	if !a.EffectiveDate.IsZero() && now.Before(a.EffectiveDate) && a.PreviousThumbprint != "" {
		return a.PreviousThumbprint
	}
	return a.Thumbprint
}

// ReadFile reads and parses a snapshot file, refusing one over MaxSnapshotBytes.
func ReadFile(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSnapshotBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxSnapshotBytes {
		return nil, fmt.Errorf("%s: file too large (a snapshot is at most %d MiB): %w", path, MaxSnapshotBytes>>20, ErrInvalid)
	}
	return Parse(data, path)
}

// rawSnapshot is the JSON form; every field is decoded leniently below.
type rawSnapshot struct {
	Version       json.RawMessage `json:"version"`
	Computer      string          `json:"computer"`
	Root          json.RawMessage `json:"Root"`
	CA            json.RawMessage `json:"CA"`
	My            json.RawMessage `json:"My"`
	CsCertificate json.RawMessage `json:"CsCertificate"`
}

// Parse parses a snapshot; name is used in error messages.
func Parse(data []byte, name string) (*Snapshot, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: %s: %w", name, fmt.Sprintf(format, a...), ErrInvalid)
	}
	if len(data) > MaxSnapshotBytes {
		return nil, bad("file too large (a snapshot is at most %d MiB)", MaxSnapshotBytes>>20)
	}
	text, err := textenc.ToUTF8(data)
	if err != nil {
		return nil, bad("%v", err)
	}
	var raw rawSnapshot
	if err := json.Unmarshal(text, &raw); err != nil {
		return nil, bad("not a snapshot JSON object: %v", jsonErr(err))
	}
	s := &Snapshot{File: name, Version: 1, Computer: strings.TrimSuffix(strings.ToLower(strings.TrimSpace(raw.Computer)), ".")}
	if len(raw.Version) > 0 && string(raw.Version) != "null" {
		v, err := strconv.Atoi(strings.Trim(string(raw.Version), `"`))
		if err != nil || v < 1 {
			return nil, bad("version %s is not a positive number", raw.Version)
		}
		if v > 1 {
			return nil, bad("version %d is newer than this edgecert reads (1)", v)
		}
		s.Version = v
	}
	if s.Computer == "" {
		return nil, bad(`no "computer": the server's FQDN is needed to match it to the topology`)
	}
	count := 0
	for _, loc := range []struct {
		name string
		raw  json.RawMessage
		dst  *[]Cert
	}{{"Root", raw.Root, &s.Root}, {"CA", raw.CA, &s.CA}, {"My", raw.My, &s.My}} {
		items, err := list(loc.raw)
		if err != nil {
			return nil, bad("%s: %v", loc.name, err)
		}
		count += len(items)
		if count > MaxCertificates {
			return nil, bad("more than %d certificates", MaxCertificates)
		}
		for i, it := range items {
			c, err := parseCert(it)
			if err != nil {
				return nil, bad("%s[%d]: %v", loc.name, i, err)
			}
			*loc.dst = append(*loc.dst, c)
		}
	}
	if len(raw.CsCertificate) > 0 && string(raw.CsCertificate) != "null" {
		s.HasAssignments = true
		items, err := list(raw.CsCertificate)
		if err != nil {
			return nil, bad("CsCertificate: %v", err)
		}
		for i, it := range items {
			a, err := parseAssignment(it)
			if err != nil {
				return nil, bad("CsCertificate[%d]: %v", i, err)
			}
			s.Assignments = append(s.Assignments, a)
		}
	}
	return s, nil
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	return err.Error()
}

// list decodes a JSON array of objects, a lone object (what ConvertTo-Json
// writes for a list of one) or null.
func list(raw json.RawMessage) ([]map[string]json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if t[0] == '{' {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(t, &one); err != nil {
			return nil, err
		}
		return []map[string]json.RawMessage{one}, nil
	}
	var many []map[string]json.RawMessage
	if err := json.Unmarshal(t, &many); err != nil {
		return nil, fmt.Errorf("want a list of objects: %v", err)
	}
	return many, nil
}

// field returns the first of the names present, case-insensitively (as
// PowerShell's property names are).
func field(obj map[string]json.RawMessage, names ...string) (json.RawMessage, bool) {
	for _, n := range names {
		for k, v := range obj {
			if strings.EqualFold(k, n) && string(bytes.TrimSpace(v)) != "null" {
				return v, true
			}
		}
	}
	return nil, false
}

func str(obj map[string]json.RawMessage, names ...string) (string, error) {
	v, ok := field(obj, names...)
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%s is not a string (%s)", names[0], clip(v))
	}
	return s, nil
}

// boolean reads true/false, or the strings "True"/"False" that some
// PowerShell objects carry; nil when absent.
func boolean(obj map[string]json.RawMessage, name string) (*bool, error) {
	v, ok := field(obj, name)
	if !ok {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return &b, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		if b, err := strconv.ParseBool(s); err == nil {
			return &b, nil
		}
	}
	return nil, fmt.Errorf("%s is not true or false (%s)", name, clip(v))
}

func clip(v json.RawMessage) string {
	s := string(v)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

func parseCert(obj map[string]json.RawMessage) (Cert, error) {
	var c Cert
	rawField, ok := field(obj, "RawData", "Raw")
	if !ok {
		return c, errors.New(`no "RawData": the certificate's DER (Base64) is needed`)
	}
	der, err := bytesValue(rawField)
	if err != nil {
		return c, fmt.Errorf("RawData: %v", err)
	}
	if len(der) == 0 {
		return c, errors.New("RawData is empty")
	}
	c.Raw = der
	c.Thumbprint = thumbprint(der)
	given, err := str(obj, "Thumbprint")
	if err != nil {
		return c, err
	}
	if given != "" && !strings.EqualFold(strings.TrimSpace(given), c.Thumbprint) {
		return c, fmt.Errorf("Thumbprint %s does not match the SHA-1 of RawData (%s)", given, c.Thumbprint)
	}
	if c.FriendlyName, err = str(obj, "FriendlyName"); err != nil {
		return c, err
	}
	hk, err := boolean(obj, "HasPrivateKey")
	if err != nil {
		return c, err
	}
	c.HasPrivateKey = hk != nil && *hk
	if c.Exportable, err = boolean(obj, "PrivateKeyExportable"); err != nil {
		return c, err
	}
	c.Cert, c.ParseErr = x509.ParseCertificate(der)
	return c, nil
}

// bytesValue reads a Base64 string or a list of byte values (what
// ConvertTo-Json makes of a byte[]).
func bytesValue(v json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		s = strings.Join(strings.Fields(s), "")
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("not Base64: %v", err)
		}
		return b, nil
	}
	var nums []int
	if err := json.Unmarshal(v, &nums); err != nil {
		return nil, fmt.Errorf("neither a Base64 string nor a list of bytes (%s)", clip(v))
	}
	out := make([]byte, len(nums))
	for i, n := range nums {
		if n < 0 || n > 255 {
			return nil, fmt.Errorf("byte %d is %d", i, n)
		}
		out[i] = byte(n)
	}
	return out, nil
}

func parseAssignment(obj map[string]json.RawMessage) (Assignment, error) {
	var a Assignment
	use, ok := field(obj, "Use")
	if !ok {
		return a, errors.New(`no "Use"`)
	}
	if err := json.Unmarshal(use, &a.Use); err != nil {
		if _, err := strconv.Atoi(string(use)); err == nil {
			return a, fmt.Errorf("Use is the number %s: Windows PowerShell writes enumerations as numbers, write it as text (Select-Object @{n='Use';e={[string]$_.Use}}, as Collect-EdgecertSnapshot.ps1 does)", use)
		}
		return a, fmt.Errorf("Use is not a string (%s)", clip(use))
	}
	var err error
	if a.Thumbprint, err = str(obj, "Thumbprint"); err != nil {
		return a, err
	}
	if a.PreviousThumbprint, err = str(obj, "PreviousThumbprint"); err != nil {
		return a, err
	}
	a.Thumbprint = strings.ToUpper(strings.TrimSpace(a.Thumbprint))
	a.PreviousThumbprint = strings.ToUpper(strings.TrimSpace(a.PreviousThumbprint))
	if v, ok := field(obj, "EffectiveDate"); ok {
		if a.EffectiveDate, err = dateValue(v); err != nil {
			return a, fmt.Errorf("EffectiveDate: %v", err)
		}
	}
	return a, nil
}

// dateValue reads the dates Windows PowerShell and PowerShell 7 write:
// "/Date(1700000000000)/" (5.1, possibly with a zone offset), ISO 8601, or
// an object whose "value" holds one of those (a DateTime with note properties).
func dateValue(v json.RawMessage) (time.Time, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) == nil {
		inner, ok := field(obj, "value")
		if !ok {
			return time.Time{}, fmt.Errorf("an object without a value (%s)", clip(v))
		}
		return dateValue(inner)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return time.Time{}, fmt.Errorf("not a date (%s)", clip(v))
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "/Date(") && strings.HasSuffix(s, ")/") {
		body := s[len("/Date(") : len(s)-2]
		// An offset (+0100) after the milliseconds only says which zone
		// wrote it: the milliseconds are UTC.
		if i := strings.IndexAny(body[1:], "+-"); i >= 0 {
			body = body[:i+1]
		}
		ms, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("bad /Date()/ value %q", s)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date: %q", s)
}

// thumbprint is Windows' thumbprint of a DER certificate: SHA-1, upper-case hex.
func thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}
