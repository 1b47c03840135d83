package windows

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"
)

//go:embed scripts/*.tmpl
var scriptFS embed.FS

var scripts = template.Must(template.New("").Funcs(template.FuncMap{
	"ps":     psQuote,
	"psbool": psBool,
	"psdate": psDate,
	"join":   strings.Join,
}).ParseFS(scriptFS, "scripts/*.tmpl"))

// Script file names.
const (
	CollectScriptName = "Collect-EdgecertSnapshot.ps1"
	InstallScriptName = "Install-EdgecertCertificates.ps1"
)

// CollectScript returns Collect-EdgecertSnapshot.ps1, the read-only script
// that writes a server's snapshot (Windows PowerShell 4.0 and 5.1).
func CollectScript() []byte {
	b, err := render("collect.ps1.tmpl", nil)
	if err != nil {
		panic(err) // a fixed template without data: a build defect
	}
	return b
}

// InstallScript returns Install-EdgecertCertificates.ps1 for the bundle.
func InstallScript(b *Bundle) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return render("install.ps1.tmpl", b)
}

// utf8BOM starts a script that holds anything but ASCII: Windows
// PowerShell reads a file without one in the ANSI code page.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func render(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := scripts.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("windows: %s: %w", name, err)
	}
	out := bytes.ReplaceAll(buf.Bytes(), []byte("\n"), []byte("\r\n"))
	for _, c := range out {
		if c >= 0x80 {
			return append(append([]byte(nil), utf8BOM...), out...), nil
		}
	}
	return out, nil
}

// psQuote quotes s as a PowerShell single-quoted string: a quote is
// doubled, the typographic single quotes PowerShell also takes as quotes
// included.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201A', '\u201B':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

func psBool(b bool) string {
	if b {
		return "$true"
	}
	return "$false"
}

// psDate is a PowerShell expression for t (UTC), read in the invariant
// culture whatever the server's regional settings; $null when zero.
func psDate(t time.Time) string {
	if t.IsZero() {
		return "$null"
	}
	return "[datetime]::Parse('" + t.UTC().Format("2006-01-02T15:04:05Z") + "', [System.Globalization.CultureInfo]::InvariantCulture)"
}
