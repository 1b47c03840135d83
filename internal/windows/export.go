package windows

import (
	"crypto/ecdsa"
	"crypto/sha1"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf16"

	"edgecert/internal/certfmt"
	"edgecert/internal/plan"
	"edgecert/internal/store"
)

// Output is one file of a hand-off bundle.
type Output struct {
	Name string // relative path, forward slashes
	Data []byte
	Mode os.FileMode
}

// ExportOptions choose the bundle's protection.
type ExportOptions struct {
	Password string // the .pfx transfer password (required)
	// Profile of the .pfx files: legacy (3DES, SHA-1 MAC) by default, as
	// Windows Server 2012 R2 and 2016, where Lync Server 2013 runs, import
	// nothing newer.
	Profile certfmt.PFXProfile
	Rand    io.Reader
}

// Export builds server's hand-off bundle from its workspace store: a .pfx
// per planned personal certificate (key, chain, friendly name, the key
// provider Windows imports it into), the roots and intermediates as .cer
// files and as one chain.p7b, Install-EdgecertCertificates.ps1 and
// Collect-EdgecertSnapshot.ps1.
func Export(p *plan.Plan, st *store.Store, server string, o ExportOptions) (*Bundle, []Output, error) {
	if o.Password == "" || o.Rand == nil {
		return nil, nil, errors.New("windows: a transfer password and a source of randomness are required for the .pfx files")
	}
	as, err := st.Assignments()
	if err != nil {
		return nil, nil, err
	}
	current := map[string]Current{}
	for _, a := range as {
		current[a.Usage] = Current{Thumbprint: a.Thumbprint, Staged: a.Staged, Effective: a.Effective}
	}
	var out []Output
	cas := map[store.Location][]File{}
	for _, loc := range []store.Location{store.Root, store.CA} {
		entries, err := st.List(loc)
		if err != nil {
			return nil, nil, err
		}
		dir := map[store.Location]string{store.Root: "roots", store.CA: "intermediates"}[loc]
		for _, e := range entries {
			_, cert, err := st.Certificate(e.Thumbprint)
			if err != nil {
				return nil, nil, err
			}
			name := fmt.Sprintf("%s/%s-%s.cer", dir, safeName(cert.Subject.CommonName), e.Thumbprint[:8])
			cas[loc] = append(cas[loc], File{Name: name, Thumbprint: e.Thumbprint, Subject: cert.Subject.String()})
			out = append(out, Output{Name: name, Data: cert.Raw, Mode: 0o644})
		}
	}
	b, err := PlanBundle(p, server, current, cas[store.Root], cas[store.CA])
	if err != nil {
		return nil, nil, err
	}
	for _, pc := range b.Certificates {
		content, err := st.HandoffPFX(pc.Thumbprint)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", pc.ID, err)
		}
		content.FriendlyName = pc.FriendlyName
		content.KeyAttributes = append(content.KeyAttributes, certfmt.BagAttribute{Type: certfmt.OIDMSCSPName, Values: bmpString(provider(content))})
		data, err := certfmt.EncodePFX(o.Rand, content, o.Password, o.Profile, false)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", pc.ID, err)
		}
		out = append(out, Output{Name: pc.Name, Data: data, Mode: 0o600})
	}
	chain, err := st.ExportChain()
	if err != nil {
		return nil, nil, err
	}
	out = append(out, Output{Name: "chain.p7b", Data: chain, Mode: 0o644})
	script, err := InstallScript(b)
	if err != nil {
		return nil, nil, err
	}
	out = append(out, Output{Name: InstallScriptName, Data: script, Mode: 0o644},
		Output{Name: CollectScriptName, Data: CollectScript(), Mode: 0o644})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return b, out, nil
}

// provider is the Windows key provider a .pfx asks for: the SChannel CSP
// for RSA keys, which every Lync Server 2013 service can use, and the
// software key storage provider for ECDSA keys, which no CSP holds.
func provider(p *certfmt.PFX) string {
	if _, ok := p.Key.Public().(*ecdsa.PublicKey); ok {
		return "Microsoft Software Key Storage Provider"
	}
	return "Microsoft RSA SChannel Cryptographic Provider"
}

// bmpString is the DER of s as an ASN.1 BMPString.
func bmpString(s string) []byte {
	u := utf16.Encode([]rune(s))
	raw := make([]byte, 2*len(u))
	for i, c := range u {
		raw[2*i], raw[2*i+1] = byte(c>>8), byte(c)
	}
	der, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagBMPString, Bytes: raw})
	if err != nil {
		panic(err) // a primitive value always marshals
	}
	return der
}

// safeName makes a file name from a certificate's common name.
func safeName(cn string) string {
	var b strings.Builder
	for _, r := range cn {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 || b.Len() > 64 {
		sum := sha1.Sum([]byte(cn))
		return "ca-" + hex.EncodeToString(sum[:4])
	}
	return b.String()
}
