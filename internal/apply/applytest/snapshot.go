package applytest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf16"

	"edgecert/internal/store"
)

// PSCert is a certificate as Collect-EdgecertSnapshot.ps1 writes it.
type PSCert struct {
	Thumbprint           string `json:"Thumbprint"`
	FriendlyName         string `json:"FriendlyName,omitempty"`
	HasPrivateKey        *bool  `json:"HasPrivateKey,omitempty"`
	PrivateKeyExportable *bool  `json:"PrivateKeyExportable,omitempty"`
	RawData              string `json:"RawData"`
}

// PSAssignment is one Get-CsCertificate entry as the script writes it.
type PSAssignment struct {
	Use                string  `json:"Use"`
	Thumbprint         string  `json:"Thumbprint"`
	EffectiveDate      *string `json:"EffectiveDate"`
	PreviousThumbprint string  `json:"PreviousThumbprint"`
}

// PSSnapshot is a server's snapshot (shared/spec/cli.md), for tests to
// build from a workspace store and to plant faults in.
type PSSnapshot struct {
	Version       int            `json:"version"`
	Computer      string         `json:"computer"`
	Root          []PSCert       `json:"Root"`
	CA            []PSCert       `json:"CA"`
	My            []PSCert       `json:"My"`
	CsCertificate []PSAssignment `json:"CsCertificate"`
}

// Snapshot makes, from a server's workspace store, the snapshot the
// Windows server would give after importing the same certificates and
// assigning the same usages.
func (e *Env) Snapshot(t testing.TB, server string) *PSSnapshot {
	t.Helper()
	st := e.Store(t, server)
	s := &PSSnapshot{Version: 1, Computer: strings.ToUpper(server)} // Windows may report upper case
	for _, loc := range []struct {
		l   store.Location
		dst *[]PSCert
	}{{store.Root, &s.Root}, {store.CA, &s.CA}, {store.My, &s.My}} {
		entries, err := st.List(loc.l)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			_, cert, err := st.Certificate(en.Thumbprint)
			if err != nil {
				t.Fatal(err)
			}
			c := PSCert{Thumbprint: en.Thumbprint, FriendlyName: en.FriendlyName, RawData: base64.StdEncoding.EncodeToString(cert.Raw)}
			if loc.l == store.My {
				hk, ex := en.HasKey, en.Exportable
				c.HasPrivateKey, c.PrivateKeyExportable = &hk, &ex
			}
			*loc.dst = append(*loc.dst, c)
		}
	}
	as, err := st.Assignments()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		s.CsCertificate = append(s.CsCertificate, PSAssignment{Use: a.Usage, Thumbprint: a.Thumbprint})
	}
	return s
}

// Snapshots returns the snapshot of every server of the plan.
func (e *Env) Snapshots(t testing.TB) map[string]*PSSnapshot {
	t.Helper()
	out := map[string]*PSSnapshot{}
	for _, c := range e.Plan.Certificates {
		for _, srv := range c.Servers {
			if out[srv] == nil {
				out[srv] = e.Snapshot(t, srv)
			}
		}
	}
	return out
}

// WindowsFile encodes a snapshot as Windows PowerShell's Out-File does:
// UTF-16LE with a byte order mark.
func WindowsFile(t testing.TB, s *PSSnapshot) []byte {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	out := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(string(b))) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}
