package verify_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"text/template"
	"time"
	"unicode/utf16"

	"edgecert/internal/apply/applytest"
	"edgecert/internal/apply/standinca"
	"edgecert/internal/plan"
	"edgecert/internal/verify"
	"edgecert/internal/windows"
)

func parseSnapshots(t *testing.T, e *applytest.Env, snaps map[string]*applytest.PSSnapshot) map[string]*windows.Snapshot {
	t.Helper()
	out := map[string]*windows.Snapshot{}
	for srv, s := range snaps {
		parsed, err := windows.Parse(applytest.WindowsFile(t, s), srv+".snapshot.json")
		if err != nil {
			t.Fatalf("%s: %v", srv, err)
		}
		out[parsed.Computer] = parsed
	}
	return out
}

func bool_(b bool) *bool { return &b }

// TestSnapshotsFaults builds the snapshots of a deployed edge pool from its
// stores, checks that they pass like the stores do, then plants each
// fault of a real server in one snapshot and checks that it fails, naming
// the server.
func TestSnapshotsFaults(t *testing.T) {
	// The internal CA is the real engine: a root and an issuing CA, so that
	// a server can miss the intermediate.
	e := applytest.New(t, applytest.Example(t, "edge-pool-dns.yaml"), applytest.Options{EngineCA: true})
	if _, err := e.ApplyAllErr(e.Options()); err != nil {
		t.Fatalf("apply: %v", err)
	}
	internal := e.Cert(t, "edge-internal")
	external := e.Cert(t, "edge-external")
	opts := verify.Options{SkipRevocation: true}

	clean := e.Snapshots(t)
	rep, err := verify.Snapshots(context.Background(), e.Plan, parseSnapshots(t, e, clean), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() {
		t.Fatalf("clean snapshots fail: %+v", rep.Findings)
	}
	storeRep := offline(t, e, e.Plan, opts)
	if rep.Checked != storeRep.Checked {
		t.Fatalf("snapshots checked %d usages, the stores %d", rep.Checked, storeRep.Checked)
	}

	member := internal.Servers[1]
	tests := []struct {
		name   string
		plant  func(snaps map[string]*applytest.PSSnapshot)
		now    func() time.Time
		check  verify.Check
		server string
	}{
		{
			name: "wrong certificate on one pool member",
			plant: func(s map[string]*applytest.PSSnapshot) {
				// The member's Internal usage points at the external certificate.
				snap := s[member]
				var ext string
				for _, a := range snap.CsCertificate {
					if a.Use == plan.UsageAccessEdgeExternal {
						ext = a.Thumbprint
					}
				}
				for i := range snap.CsCertificate {
					if snap.CsCertificate[i].Use == plan.UsageInternal {
						snap.CsCertificate[i].Thumbprint = ext
					}
				}
			},
			check: verify.CheckNames, server: member,
		},
		{
			name:  "missing intermediate",
			plant: func(s map[string]*applytest.PSSnapshot) { s[member].CA = nil },
			check: verify.CheckChain, server: member,
		},
		{
			name: "non-exportable key on a shared certificate",
			plant: func(s map[string]*applytest.PSSnapshot) {
				snap := s[internal.RequestOn]
				for i := range snap.My {
					snap.My[i].PrivateKeyExportable = bool_(false)
				}
			},
			check: verify.CheckExportable, server: internal.RequestOn,
		},
		{
			name: "private key missing",
			plant: func(s map[string]*applytest.PSSnapshot) {
				for i := range s[member].My {
					s[member].My[i].HasPrivateKey = bool_(false)
				}
			},
			check: verify.CheckKey, server: member,
		},
		{
			name:  "expired",
			plant: func(map[string]*applytest.PSSnapshot) {},
			now:   func() time.Time { return time.Now().AddDate(5, 0, 0) },
			check: verify.CheckValidity, server: external.Servers[0],
		},
		{
			name: "assigned certificate not in My",
			plant: func(s map[string]*applytest.PSSnapshot) {
				for i := range s[member].CsCertificate {
					s[member].CsCertificate[i].Thumbprint = strings.Repeat("AB", 20)
				}
			},
			check: verify.CheckAssigned, server: member,
		},
		{
			name:  "no assignments for a usage",
			plant: func(s map[string]*applytest.PSSnapshot) { s[member].CsCertificate = s[member].CsCertificate[:0] },
			check: verify.CheckAssigned, server: member,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snaps := e.Snapshots(t)
			tc.plant(snaps)
			o := opts
			o.Now = tc.now
			rep, err := verify.Snapshots(context.Background(), e.Plan, parseSnapshots(t, e, snaps), o)
			if err != nil {
				t.Fatal(err)
			}
			mustFind(t, rep, tc.check, tc.server)
		})
	}

	t.Run("pool members hold different certificates", func(t *testing.T) {
		snaps := e.Snapshots(t)
		// The member has another certificate with the same names, its own.
		other := e.Snapshot(t, internal.RequestOn)
		var extra applytest.PSCert
		for _, c := range other.My {
			extra = c
		}
		extra.RawData = swapFor(t, e, internal)
		raw, _ := base64.StdEncoding.DecodeString(extra.RawData)
		extra.Thumbprint = thumbprintOf(raw)
		snaps[member].My = append(snaps[member].My, extra)
		for i := range snaps[member].CsCertificate {
			if snaps[member].CsCertificate[i].Use == plan.UsageInternal {
				snaps[member].CsCertificate[i].Thumbprint = extra.Thumbprint
			}
		}
		rep, err := verify.Snapshots(context.Background(), e.Plan, parseSnapshots(t, e, snaps), opts)
		if err != nil {
			t.Fatal(err)
		}
		mustFind(t, rep, verify.CheckPool, "")
	})

	t.Run("a server without a snapshot is a warning", func(t *testing.T) {
		snaps := e.Snapshots(t)
		delete(snaps, member)
		rep, err := verify.Snapshots(context.Background(), e.Plan, parseSnapshots(t, e, snaps), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed() || !rep.Has(verify.SeverityWarning, verify.CheckSnapshot, member) {
			t.Fatalf("want only a snapshot warning for %s: %+v", member, rep.Findings)
		}
	})

	t.Run("a staged roll is checked at its effective date", func(t *testing.T) {
		snaps := e.Snapshots(t)
		snap := snaps[member]
		future := fmt.Sprintf("/Date(%d)/", time.Now().Add(8*time.Hour).UnixMilli())
		for i := range snap.CsCertificate {
			if snap.CsCertificate[i].Use == plan.UsageInternal {
				// A roll to an unknown certificate that is not yet effective:
				// the current one is still the previous, which is fine.
				snap.CsCertificate[i].PreviousThumbprint = snap.CsCertificate[i].Thumbprint
				snap.CsCertificate[i].Thumbprint = strings.Repeat("CD", 20)
				snap.CsCertificate[i].EffectiveDate = &future
			}
		}
		rep, err := verify.Snapshots(context.Background(), e.Plan, parseSnapshots(t, e, snaps), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed() {
			t.Fatalf("a roll not yet effective fails: %+v", rep.Findings)
		}
	})
}

// swapFor issues, from the stand-in public CA (whose root every server
// trusts), another certificate with the
// plan's names, and returns its DER in Base64.
func swapFor(t *testing.T, e *applytest.Env, c *plan.Certificate) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	req, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: c.Subject.CommonName}, DNSNames: c.SANs}, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := e.Public.Sign(req, standinca.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(cert.Raw)
}

func thumbprintOf(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// TestSnapshotsHandMade verifies snapshots laid out as an administrator
// assembles them by hand with Windows PowerShell 5.1: "Get-ChildItem
// Cert:\LocalMachine\My | Select-Object Thumbprint, FriendlyName,
// HasPrivateKey, @{n='Raw';e={[Convert]::ToBase64String($_.RawData)}} |
// ConvertTo-Json" for each store, and Get-CsCertificate's own properties
// (testdata/ps51-edge.json.tmpl), saved with Out-File (UTF-16LE).
func TestSnapshotsHandMade(t *testing.T) {
	e := deploy(t, nil)
	tmpl := template.Must(template.ParseFiles("testdata/ps51-edge.json.tmpl"))
	snaps := map[string]*windows.Snapshot{}
	for srv, s := range e.Snapshots(t) {
		var b strings.Builder
		if err := tmpl.Execute(&b, s); err != nil {
			t.Fatal(err)
		}
		units := utf16.Encode([]rune(b.String()))
		data := []byte{0xFF, 0xFE}
		for _, u := range units {
			data = append(data, byte(u), byte(u>>8))
		}
		parsed, err := windows.Parse(data, srv+".json")
		if err != nil {
			t.Fatalf("%s: %v\n%s", srv, err, b.String())
		}
		snaps[parsed.Computer] = parsed
	}
	rep, err := verify.Snapshots(context.Background(), e.Plan, snaps, verify.Options{SkipRevocation: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() || rep.Warnings() != 0 {
		t.Fatalf("hand-made snapshots: %+v", rep.Findings)
	}
}
