package apply_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/apply/standinca"
	"edgecert/internal/plan"
	"edgecert/internal/store"
	"edgecert/internal/verify"
)

// TestRenewStagesAVAndOAuth renews every certificate of the demo topology
// and checks the new certificates (same names, new key), the assignments
// (A/V and OAuth staged with their lead times, the others switched) and
// that the deployment still verifies.
func TestRenewStagesAVAndOAuth(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "demo.yaml"), applytest.Options{})
	e.ApplyAll(t, e.Options())
	old := map[string]string{}
	for _, c := range e.Plan.Certificates {
		th, err := apply.Current(e.Workspace, &c, c.RequestOn)
		if err != nil || th == "" {
			t.Fatal(c.ID, err)
		}
		old[c.ID] = th
	}
	ctx := context.Background()
	// Nothing is due within 30 days.
	res, err := apply.Renew(ctx, e.Plan, e.Workspace, 30*24*time.Hour, e.Options())
	if err != nil || len(res.Done) != 0 {
		t.Fatalf("renew within 30d of fresh certificates: %v %+v", err, res)
	}
	res, err = apply.Renew(ctx, e.Plan, e.Workspace, 400*24*time.Hour, e.Options())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Waiting) == 0 {
		t.Fatal("renewal of public certificates did not wait for the public CA")
	}
	res = e.ApplyAll(t, e.Options()) // the public CA answers; apply finishes the renewal
	if !res.Complete() {
		t.Fatalf("renewal not complete: %+v", res)
	}
	for _, c := range e.Plan.Certificates {
		checkRenewed(t, e, &c, old[c.ID])
	}
	rep, err := verify.Offline(ctx, e.Plan, e.Workspace.Store, verify.Options{})
	if err != nil || rep.Failed() {
		t.Fatalf("verify after renewal: %v %+v", err, rep)
	}
	checkStoresRenewed(t, e)
}

func checkRenewed(t *testing.T, e *applytest.Env, c *plan.Certificate, oldThumb string) {
	t.Helper()
	th, err := apply.Current(e.Workspace, c, c.RequestOn)
	if err != nil || th == "" || th == oldThumb {
		t.Fatalf("%s: not renewed (%s, %v)", c.ID, th, err)
	}
	for _, srv := range c.Servers {
		st := e.Store(t, srv)
		_, newCert, err := st.Certificate(th)
		if err != nil {
			t.Fatalf("%s on %s: %v", c.ID, srv, err)
		}
		_, oldCert, err := st.Certificate(oldThumb)
		if err != nil {
			t.Fatalf("%s on %s: the previous certificate is gone: %v", c.ID, srv, err)
		}
		if string(newCert.RawSubjectPublicKeyInfo) == string(oldCert.RawSubjectPublicKeyInfo) {
			t.Errorf("%s: the renewal kept the old key", c.ID)
		}
		if strings.Join(newCert.DNSNames, ",") != strings.Join(c.SANs, ",") {
			t.Errorf("%s: renewed names %v, plan %v", c.ID, newCert.DNSNames, c.SANs)
		}
		as, _ := st.Assignments()
		for _, u := range c.Usages {
			a := find(as, u)
			switch u {
			case plan.UsageAudioVideoAuthentication, plan.UsageOAuthTokenIssuer:
				want := oldCert.NotAfter.Add(-apply.LeadTime(c.Usages))
				if a.Thumbprint != oldThumb || a.Staged != th || !a.Effective.Equal(want.UTC()) {
					t.Errorf("%s on %s: %s = %+v, want current %s staged %s effective %s", c.ID, srv, u, a, oldThumb, th, want)
				}
			default:
				if a.Thumbprint != th {
					t.Errorf("%s on %s: %s assigned to %s, want the renewed %s", c.ID, srv, u, a.Thumbprint, th)
				}
			}
		}
	}
}

// checkStoresRenewed: each certificate has exactly two keys (the old and the renewed).
func checkStoresRenewed(t *testing.T, e *applytest.Env) {
	t.Helper()
	for _, c := range e.Plan.Certificates {
		if n := keysOf(t, e, &c); n != 2 {
			t.Errorf("%s: %d keys after one renewal, want 2", c.ID, n)
		}
	}
}

func find(as []store.Assignment, u string) store.Assignment {
	for _, a := range as {
		if a.Usage == u {
			return a
		}
	}
	return store.Assignment{}
}

func TestLeadTime(t *testing.T) {
	cases := []struct {
		name   string
		usages []string
		want   time.Duration
	}{
		{"A/V", []string{plan.UsageAccessEdgeExternal, plan.UsageAudioVideoAuthentication}, 8 * time.Hour},
		{"OAuth", []string{plan.UsageOAuthTokenIssuer}, 24 * time.Hour},
		{"both: the longer", []string{plan.UsageAudioVideoAuthentication, plan.UsageOAuthTokenIssuer}, 24 * time.Hour},
		{"none", []string{plan.UsageInternal}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := apply.LeadTime(tc.usages); got != tc.want {
				t.Fatalf("LeadTime(%v) = %v, want %v", tc.usages, got, tc.want)
			}
		})
	}
}

// TestServerMode runs apply on two edge servers as separate machines that
// share only an exchange folder.
func TestServerMode(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "edge-pool-dns.yaml"), applytest.Options{})
	ex := filepath.Join(e.Dir, "share")
	s1, s2 := filepath.Join(e.Dir, "machine1"), filepath.Join(e.Dir, "machine2")
	ctx := context.Background()
	opts := e.Options()
	opts.TransferPassword = "transfer-secret-1"

	ws2, err := apply.OpenServer("edge02.contoso.net", s2, ex, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	member := opts
	member.Issuer = nil
	res, err := apply.Run(ctx, e.Plan, ws2, member)
	if err != nil || len(res.Waiting) == 0 {
		t.Fatalf("member before the first server: %v %+v", err, res)
	}

	ws1, err := apply.OpenServer("edge01.contoso.net", s1, ex, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Run(ctx, e.Plan, ws1, opts); err != nil {
		t.Fatal(err)
	}
	answerOutbox(t, e, ws1, opts)
	if res, err := apply.Run(ctx, e.Plan, ws1, opts); err != nil || !res.Complete() {
		t.Fatalf("first server: %v %+v", err, res)
	}
	if _, err := os.Stat(filepath.Join(ex, "pfx")); err != nil {
		t.Fatal("no PFX in the exchange folder")
	}
	noPassword := member
	noPassword.TransferPassword = ""
	if _, err := apply.Run(ctx, e.Plan, ws2, noPassword); err == nil {
		t.Fatal("a member imported the PFX without the transfer password")
	}
	// A PFX in the shared folder is read up to what a .pfx can be: one
	// that never ends (here /dev/zero) is refused, not read until memory
	// runs out.
	pfxs, _ := filepath.Glob(filepath.Join(ex, "pfx", "*.pfx"))
	if len(pfxs) == 0 {
		t.Fatal("no .pfx file in the exchange folder")
	}
	if err := os.Rename(pfxs[0], pfxs[0]+".saved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", pfxs[0]); err != nil {
		t.Fatal(err)
	}
	if res, err := apply.Run(ctx, e.Plan, ws2, member); (err == nil || !strings.Contains(err.Error(), "file too large")) && (res == nil || !strings.Contains(fmt.Sprint(res), "file too large")) {
		t.Fatalf("an endless .pfx in the exchange folder: %v %+v", err, res)
	}
	if err := os.Remove(pfxs[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(pfxs[0]+".saved", pfxs[0]); err != nil {
		t.Fatal(err)
	}
	if res, err := apply.Run(ctx, e.Plan, ws2, member); err != nil || !res.Complete() {
		t.Fatalf("member: %v %+v", err, res)
	}
	both := func(server string) (*store.Store, bool, error) {
		if server == "edge01.contoso.net" {
			return ws1.Store(server)
		}
		return ws2.Store(server)
	}
	var edgeOnly []string
	for _, c := range e.Plan.Certificates {
		if strings.HasPrefix(c.ID, "edge-") {
			edgeOnly = append(edgeOnly, c.ID)
		}
	}
	rep, err := verify.Offline(ctx, e.Plan, both, verify.Options{Certificates: edgeOnly})
	if err != nil || rep.Failed() {
		t.Fatalf("verify across both machines: %v %+v", err, rep.Findings)
	}
}

func answerOutbox(t *testing.T, e *applytest.Env, ws *apply.Workspace, opts apply.Options) {
	t.Helper()
	reqs, _ := filepath.Glob(filepath.Join(ws.Dir, "outbox", "*.csr"))
	if len(reqs) == 0 {
		t.Fatal("nothing in the outbox")
	}
	var files []apply.Response
	for _, r := range reqs {
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := e.Public.Sign(b, standinca.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		der, err := e.Public.Response(leaf)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, apply.Response{Name: r, Data: der})
	}
	if _, err := apply.ImportResponses(context.Background(), e.Plan, ws, files, opts); err != nil {
		t.Fatal(err)
	}
}

// TestRenewAfterPlanChange: a name added to the topology makes renew
// re-request that certificate only, whatever its expiry.
func TestRenewAfterPlanChange(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "single-edge.yaml"), applytest.Options{})
	e.ApplyAll(t, e.Options())
	ext := e.Cert(t, plan.KindEdgeExternal)
	ext.SANs = append(ext.SANs, "sip.northwind.com")
	rep, err := verify.Offline(context.Background(), e.Plan, e.Workspace.Store, verify.Options{})
	if err != nil || !rep.Has(verify.SeverityError, verify.CheckNames, "") {
		t.Fatalf("the changed plan verified: %v %+v", err, rep)
	}
	if _, err := apply.Renew(context.Background(), e.Plan, e.Workspace, 0, e.Options()); err != nil {
		t.Fatal(err)
	}
	res := e.ApplyAll(t, e.Options())
	if !res.Complete() || res.Report.Errors() != 0 {
		t.Fatalf("after renewal: %+v %+v", res, res.Report.Findings)
	}
	if n := keysOf(t, e, e.Cert(t, plan.KindEdgeInternal)); n != 1 {
		t.Fatalf("the unchanged certificate was renewed too (%d keys)", n)
	}
}
