package verify_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/apply/standinca"
	"edgecert/internal/plan"
	"edgecert/internal/store"
	"edgecert/internal/verify"
)

const edgeInternal = "edge-internal/lsedge.contoso.net"

// deploy applies the edge pool example (two edge servers), with bend
// changing the internal CA's issuance, and returns the env.
func deploy(t *testing.T, bend func(*x509.CertificateRequest, *standinca.SignOptions)) *applytest.Env {
	t.Helper()
	e := applytest.New(t, applytest.Example(t, "edge-pool-dns.yaml"), applytest.Options{})
	e.Internal.Bend(bend)
	if _, err := e.ApplyAllErr(e.Options()); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return e
}

func offline(t *testing.T, e *applytest.Env, p *plan.Plan, o verify.Options) *verify.Report {
	t.Helper()
	rep, err := verify.Offline(context.Background(), p, e.Workspace.Store, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// clonePlan deep-copies a plan so that a test can change one entry.
func clonePlan(t *testing.T, p *plan.Plan) *plan.Plan {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var out plan.Plan
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func entry(p *plan.Plan, id string) *plan.Certificate {
	for i := range p.Certificates {
		if p.Certificates[i].ID == id {
			return &p.Certificates[i]
		}
	}
	return nil
}

// mustFind asserts that rep has an error of check c (on server, if given)
// that names a rule and a fix.
func mustFind(t *testing.T, rep *verify.Report, c verify.Check, server string) {
	t.Helper()
	if !rep.Failed() {
		t.Fatalf("the report passed; want a %s failure", c)
	}
	for _, f := range rep.Findings {
		if f.Severity == verify.SeverityError && f.Check == c && (server == "" || f.Server == server) {
			if f.Rule == "" || f.Fix == "" || f.Message == "" || f.Server == "" {
				t.Fatalf("finding without rule, fix, message or server: %+v", f)
			}
			return
		}
	}
	t.Fatalf("no %s failure on %q in %+v", c, server, rep.Findings)
}

func TestCleanDeploymentPasses(t *testing.T) {
	e := deploy(t, nil)
	rep := offline(t, e, e.Plan, verify.Options{RequireRevocation: true})
	if rep.Failed() || rep.Warnings() != 0 {
		t.Fatalf("clean deployment: %+v", rep.Findings)
	}
}

func TestVerifyFailures(t *testing.T) {
	cases := []struct {
		name   string
		check  verify.Check
		server string
		run    func(t *testing.T) *verify.Report
	}{
		{"missing SAN", verify.CheckNames, "edge01.contoso.net", func(t *testing.T) *verify.Report {
			e := deploy(t, nil)
			p := clonePlan(t, e.Plan)
			c := entry(p, edgeInternal)
			c.SANs = append(c.SANs, "LSEDGE-VIP.contoso.net")
			return offline(t, e, p, verify.Options{})
		}},
		{"wrong EKU", verify.CheckEKU, "edge02.contoso.net", func(t *testing.T) *verify.Report {
			e := deploy(t, func(_ *x509.CertificateRequest, o *standinca.SignOptions) {
				o.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			})
			return offline(t, e, e.Plan, verify.Options{})
		}},
		{"unexportable key on a pool", verify.CheckExportable, "edge01.contoso.net", func(t *testing.T) *verify.Report {
			e := applytest.New(t, applytest.Example(t, "edge-pool-dns.yaml"), applytest.Options{})
			p := clonePlan(t, e.Plan)
			entry(p, edgeInternal).Key.Exportable = false
			opts := e.Options()
			opts.Certificates = []string{edgeInternal}
			if _, err := apply.Run(context.Background(), p, e.Workspace, opts); err == nil {
				t.Fatal("apply copied a non-exportable key to a pool member")
			}
			// The administrator assigned it on the first server anyway.
			thumb, err := apply.Current(e.Workspace, entry(p, edgeInternal), "edge01.contoso.net")
			if err != nil || thumb == "" {
				t.Fatalf("no certificate on the first server: %v", err)
			}
			if err := e.Store(t, "edge01.contoso.net").Assign(plan.UsageInternal, thumb); err != nil {
				t.Fatal(err)
			}
			rep := offline(t, e, e.Plan, verify.Options{Certificates: []string{edgeInternal}})
			mustFind(t, rep, verify.CheckAssigned, "edge02.contoso.net")
			return rep
		}},
		{"missing chain", verify.CheckChain, "edge02.contoso.net", func(t *testing.T) *verify.Report {
			e := deploy(t, nil)
			st := e.Store(t, "edge02.contoso.net")
			roots, err := st.List(store.Root)
			if err != nil || len(roots) == 0 {
				t.Fatalf("roots: %v %v", roots, err)
			}
			for _, r := range roots {
				if err := st.Delete(r.Thumbprint); err != nil {
					t.Fatal(err)
				}
			}
			return offline(t, e, e.Plan, verify.Options{})
		}},
		{"expired", verify.CheckValidity, "edge01.contoso.net", func(t *testing.T) *verify.Report {
			e := deploy(t, nil)
			return offline(t, e, e.Plan, verify.Options{Now: applytest.Now(3 * 365 * 24 * time.Hour), SkipRevocation: true})
		}},
		{"revoked", verify.CheckRevocation, "edge02.contoso.net", func(t *testing.T) *verify.Report {
			e := deploy(t, nil)
			for _, c := range e.Internal.Issued {
				e.Internal.Revoke(c)
			}
			return offline(t, e, e.Plan, verify.Options{})
		}},
		{"pool members with different certificates", verify.CheckPool, "", func(t *testing.T) *verify.Report {
			e := deploy(t, nil)
			other := deploy(t, nil)
			thumb, err := apply.Current(other.Workspace, entry(other.Plan, edgeInternal), "edge01.contoso.net")
			if err != nil || thumb == "" {
				t.Fatalf("other deployment: %q %v", thumb, err)
			}
			pfx, err := other.Store(t, "edge01.contoso.net").Export(thumb, store.ExportOptions{Format: "pfx", Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			member := e.Store(t, "edge02.contoso.net")
			if _, err := member.Import(pfx, store.ImportOptions{Password: "pw", FriendlyName: "stray"}); err != nil {
				t.Fatal(err)
			}
			if err := member.Assign(plan.UsageInternal, thumb); err != nil {
				t.Fatal(err)
			}
			return offline(t, e, e.Plan, verify.Options{})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := tc.run(t)
			mustFind(t, rep, tc.check, tc.server)
		})
	}
}

func TestExtraNamesAreWarnings(t *testing.T) {
	e := deploy(t, nil)
	p := clonePlan(t, e.Plan)
	c := entry(p, "edge-external/lsedge.contoso.net")
	c.SANs = c.SANs[:len(c.SANs)-1]
	rep := offline(t, e, p, verify.Options{})
	if rep.Failed() {
		t.Fatalf("an extra name failed verification: %+v", rep.Findings)
	}
	if !rep.Has(verify.SeverityWarning, verify.CheckExtraNames, "edge01.contoso.net") {
		t.Fatalf("no extra-names warning: %+v", rep.Findings)
	}
}

func TestNamesCompareCaseInsensitively(t *testing.T) {
	e := deploy(t, nil)
	p := clonePlan(t, e.Plan)
	c := entry(p, "edge-external/lsedge.contoso.net")
	for i := range c.SANs {
		c.SANs[i] = upper(c.SANs[i])
	}
	if rep := offline(t, e, p, verify.Options{}); rep.Failed() {
		t.Fatalf("upper-case planned names failed: %+v", rep.Findings)
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'a' && ch <= 'z' {
			b[i] = ch - 32
		}
	}
	return string(b)
}

func TestUnreachableCRL(t *testing.T) {
	e := deploy(t, nil)
	e.CRL.Close()
	rep := offline(t, e, e.Plan, verify.Options{})
	if rep.Failed() || !rep.Has(verify.SeverityWarning, verify.CheckRevocation, "") {
		t.Fatalf("unreachable CRL should warn: %+v", rep.Findings)
	}
	rep = offline(t, e, e.Plan, verify.Options{RequireRevocation: true})
	mustFind(t, rep, verify.CheckRevocation, "")
}
