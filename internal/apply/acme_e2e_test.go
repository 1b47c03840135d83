package apply_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/plan"
	"edgecert/internal/proxy"
	"edgecert/internal/testtool"
	"edgecert/internal/topology"
	"edgecert/internal/verify"
)

// acmeTopology is an edge pool of three and a reverse proxy farm of two in
// contoso.test; the edge's external names are validated with dns-01
// (RFC 2136 into BIND), the reverse proxy's with http-01 through the nginx
// that proxy nginx configures.
const acmeTopology = `version: 1
organization: {name: Contoso Ltd, country: US}
sip_domains: [contoso.test]
simple_urls:
  meet: {contoso.test: https://meet.contoso.test}
  dialin: https://dialin.contoso.test
sites:
  - name: Redmond
    pools:
      - fqdn: pool01.contoso.net
        servers: [fe01.contoso.net]
        web_external: webext.contoso.test
    edge_pools:
      - fqdn: lsedge.contoso.net
        servers: [edge01.contoso.net, edge02.contoso.net, edge03.contoso.net]
        access: sip.contoso.test
        webconf: webcon.contoso.test
        av: av.contoso.test
    reverse_proxies:
      - name: rp
        servers: [rp01.contoso.net, rp02.contoso.net]
        publishes: [pool01.contoso.net]
acme:
  directory: %[1]s
  contact: [mailto:pki@contoso.test]
  accept_tos: true
  profile: classic
  directory_ca: %[2]s
  trusted_roots: %[3]s
  resolvers: [%[4]s]
  challenges:
    - names: [webext.contoso.test, meet.contoso.test, dialin.contoso.test, lyncdiscover.contoso.test]
      http01: {webroot: %[5]s}
    - domains: [contoso.test]
      dns01:
        rfc2136: {server: %[4]s, zone: contoso.test., tsig_key: %[6]s, tsig_secret_file: %[7]s}
`

type acmeEnv struct {
	*applytest.Env
	dns          *testtool.DNS
	pebble       *testtool.Pebble
	webroot      string
	nginx        string
	proxyOut     string
	nginxRunning bool
}

func newACMEEnv(t *testing.T, refused ...string) *acmeEnv {
	t.Helper()
	d := testtool.Named(t, "contoso.test")
	p := testtool.StartPebble(t, testtool.PebbleOptions{DNSServer: d.Addr, Blocklist: append([]string{"refused.contoso.test"}, refused...)})
	webroot := t.TempDir()
	topo := fmt.Sprintf(acmeTopology, p.Directory, p.DirectoryCA, p.RootsFile, d.Addr, webroot, d.KeyName, d.SecretFile)
	e := &acmeEnv{Env: applytest.New(t, topo, applytest.Options{EngineCA: true}), dns: d, pebble: p, webroot: webroot,
		nginx: testtool.Path(t, "nginx")}
	e.proxyOut = filepath.Join(e.Dir, "nginx-rp01")
	return e
}

// proxyNginx writes rp01's nginx configuration, listening for http-01 on
// pebble's validation port, and (re)starts nginx with it.
func (e *acmeEnv) proxyNginx(t *testing.T, tlsPort int) {
	t.Helper()
	cfg, err := proxy.FromWorkspace(e.Topo, e.Plan, e.Workspace, "rp01.contoso.net", proxy.Upstreams{
		HTTPS: map[string]string{"pool01.contoso.net": "127.0.0.1:9"}, HTTP: map[string]string{"pool01.contoso.net": "127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir, cfg.Listen, cfg.HTTPListen = e.proxyOut, fmt.Sprintf("127.0.0.1:%d", tlsPort), fmt.Sprintf("127.0.0.1:%d", e.pebble.HTTPPort)
	files, err := proxy.WriteNginx(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", e.proxyOut, "-c", files.Config}
	if os.Geteuid() == 0 {
		// Workers would run as nobody, who cannot read the test's
		// private temporary directories.
		args = append(args, "-g", "user root;")
	}
	if out, err := exec.Command(e.nginx, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	if e.nginxRunning {
		if out, err := exec.Command(e.nginx, append(args, "-s", "reload")...).CombinedOutput(); err != nil {
			t.Fatalf("nginx reload: %v\n%s", err, out)
		}
		time.Sleep(300 * time.Millisecond)
		return
	}
	global := "daemon off;"
	if os.Geteuid() == 0 {
		global += " user root;"
	}
	cmd := exec.Command(e.nginx, "-p", e.proxyOut, "-c", files.Config, "-g", global)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	e.nginxRunning = true
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.pebble.HTTPPort), 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		if i > 100 {
			log, _ := os.ReadFile(filepath.Join(e.proxyOut, "logs", "error.log"))
			t.Fatalf("nginx did not start: %s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *acmeEnv) options(t *testing.T, events *[]apply.Event) apply.Options {
	t.Helper()
	pca, _, err := apply.OpenACME(context.Background(), e.Topo.ACME, e.Workspace, apply.ACMEOptions{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	o := e.Options()
	o.PublicCA = pca
	if events != nil {
		o.Progress = func(ev apply.Event) { *events = append(*events, ev) }
	}
	return o
}

// noChallengeLeft fails when BIND or the webroot still holds a challenge.
func (e *acmeEnv) noChallengeLeft(t *testing.T) {
	t.Helper()
	for _, c := range e.Plan.Certificates {
		if c.Issuer != topology.IssuerPublic {
			continue
		}
		for _, n := range c.SANs {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn("_acme-challenge."+n), dns.TypeTXT)
			in, err := dns.Exchange(m, e.dns.Addr)
			if err != nil {
				t.Fatal(err)
			}
			for _, rr := range in.Answer {
				if _, ok := rr.(*dns.TXT); ok {
					t.Errorf("challenge record left in DNS: %s", rr)
				}
			}
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.webroot, ".well-known", "acme-challenge")); len(ents) > 0 {
		t.Errorf("%d http-01 files left in the webroot", len(ents))
	}
}

// TestApplyACMEEndToEnd: apply gets every public certificate of an edge
// pool of three and a reverse proxy farm of two from pebble (dns-01 into
// BIND, http-01 through nginx configured by proxy nginx), shares each
// across its pool, verifies; a second run changes nothing.
func TestApplyACMEEndToEnd(t *testing.T) {
	e := newACMEEnv(t)
	tlsPort := testtool.FreePort(t)
	e.proxyNginx(t, tlsPort) // port 80 only: the reverse proxy certificate does not exist yet
	var events []apply.Event
	start := time.Now()
	pca, client, err := apply.OpenACME(context.Background(), e.Topo.ACME, e.Workspace, apply.ACMEOptions{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	o := e.Options()
	o.PublicCA, o.Progress = pca, func(ev apply.Event) { events = append(events, ev) }
	res, err := apply.Run(context.Background(), e.Plan, e.Workspace, o)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	total := time.Since(start)
	rt, dnsWait := client.Timing()
	// docs/BENCHMARKS.md, "apply against an ACME CA" (the certificates are
	// ordered in parallel, so the ACME and DNS times overlap the rest).
	t.Logf("apply against pebble: %s; ACME round trips %s, DNS propagation wait %s (summed over the parallel orders)", total, rt, dnsWait)
	if !res.Complete() {
		t.Fatalf("not complete: waiting %v failed %v report %+v", res.Waiting, res.Failed, res.Report)
	}
	if res.Report == nil || res.Report.Errors() != 0 {
		t.Fatalf("verify: %+v", res.Report)
	}
	checkStores(t, e.Env)
	// What the ACME CA leaves out (clientAuth, keyEncipherment) is an error
	// for a verification that does not know the certificates come from it,
	// and a warning for one that does (apply; verify with an acme block).
	for _, tc := range []struct {
		publicACME bool
		errors     bool
	}{{false, true}, {true, false}} {
		rep, err := verify.Offline(context.Background(), e.Plan, e.Workspace.Store, verify.Options{SkipRevocation: true, PublicACME: tc.publicACME})
		if err != nil {
			t.Fatal(err)
		}
		if (rep.Errors() > 0) != tc.errors {
			t.Errorf("verify with PublicACME %v: %d errors %+v", tc.publicACME, rep.Errors(), rep.Findings)
		}
	}
	pubs := 0
	for _, c := range e.Plan.Certificates {
		if c.Issuer != topology.IssuerPublic {
			continue
		}
		pubs++
		thumb, _ := apply.Current(e.Workspace, &c, c.RequestOn)
		_, cert, err := e.Store(t, c.RequestOn).Certificate(thumb)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(cert.Issuer.CommonName, "Pebble") {
			t.Errorf("%s issued by %q, want pebble", c.ID, cert.Issuer.CommonName)
		}
		names := append([]string{}, cert.DNSNames...)
		want := append([]string{}, c.SANs...)
		sort.Strings(names)
		sort.Strings(want)
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("%s: names %v, want exactly the plan's %v", c.ID, names, want)
		}
		if st := apply.ACMEState(e.Workspace, c.ID); st == nil || st.Step != "valid" {
			t.Errorf("%s: ACME state %+v, want valid", c.ID, st)
		}
	}
	rep, err := apply.Status(e.Plan, e.Workspace)
	if err != nil || !rep.Complete {
		t.Fatalf("status: %v %+v", err, rep)
	}
	acmeRows := 0
	for _, row := range rep.Rows {
		if row.ACME != nil {
			acmeRows++
			if row.ACME.Step != "valid" || row.Role != "request" {
				t.Errorf("status row %+v: ACME step %+v", row, row.ACME)
			}
		}
	}
	if acmeRows != pubs {
		t.Errorf("status shows the ACME step of %d certificates, want %d", acmeRows, pubs)
	}
	if pubs < 2 {
		t.Fatalf("the plan has %d public certificates, want the edge's and the proxy's", pubs)
	}
	e.noChallengeLeft(t)
	warned := false
	for _, ev := range events {
		if ev.Status == apply.EventWarning && strings.Contains(ev.Message, "clientAuth") {
			warned = true
		}
	}
	if needsClientAuth(e.Plan) && !warned {
		t.Error("no warning about the clientAuth the public CA will not include")
	}
	// The reverse proxy now serves its certificate over TLS as well.
	e.proxyNginx(t, tlsPort)
	// A second run changes nothing and orders nothing.
	before := snapshotThumbprints(t, e.Env)
	events = nil
	res, err = apply.Run(context.Background(), e.Plan, e.Workspace, e.options(t, &events))
	if err != nil || !res.Complete() {
		t.Fatalf("rerun: %v %+v", err, res)
	}
	if after := snapshotThumbprints(t, e.Env); after != before {
		t.Errorf("a second run changed the stores:\n%s\n---\n%s", before, after)
	}
	for _, ev := range events {
		if ev.Step == apply.StepIssue && ev.Status != apply.EventSkipped {
			t.Errorf("a second run ordered: %+v", ev)
		}
	}
}

func needsClientAuth(p *plan.Plan) bool {
	for _, c := range p.Certificates {
		if c.Issuer == topology.IssuerPublic {
			for _, e := range c.EKU {
				if e == plan.EKUClientAuth {
					return true
				}
			}
		}
	}
	return false
}

// snapshotDir returns every file under dir with its mode and content, and
// every directory with its mode, to show that a failed run left the
// workspace as it was (the run lock apply.lock aside, which every run
// takes).
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, "apply.lock") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String()
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		out[strings.TrimPrefix(p, dir)] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameSnapshot fails the test with the paths that differ.
func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	var diff []string
	for p, v := range before {
		if w, ok := after[p]; !ok {
			diff = append(diff, "removed "+p)
		} else if w != v {
			diff = append(diff, "changed "+p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diff = append(diff, "added "+p)
		}
	}
	if len(diff) > 0 {
		sort.Strings(diff)
		t.Errorf("%s changed the workspace:\n%s", what, strings.Join(diff, "\n"))
	}
}

// allBut runs apply for every certificate of the plan but id, so that a
// run that fails id has nothing else left to change.
func (e *acmeEnv) allBut(t *testing.T, id string) {
	t.Helper()
	o := e.options(t, nil)
	for _, c := range e.Plan.Certificates {
		if c.ID != id {
			o.Certificates = append(o.Certificates, c.ID)
		}
	}
	if res, err := apply.Run(context.Background(), e.Plan, e.Workspace, o); err != nil || !res.Complete() {
		t.Fatalf("apply of the others: %v %+v", err, res)
	}
}

// TestApplyACMEFailures: each failure is a clear error naming its cause,
// fails only its certificate, leaves no challenge record and the whole
// workspace byte for byte as it was (the key and request the run made are
// discarded: the CA issued nothing for them), and a run after the fix
// finishes.
func TestApplyACMEFailures(t *testing.T) {
	e := newACMEEnv(t)
	e.proxyNginx(t, testtool.FreePort(t))
	ctx := context.Background()
	t.Run("unreachable directory changes nothing", func(t *testing.T) {
		before := snapshotDir(t, e.Workspace.Dir)
		cfg := *e.Topo.ACME
		cfg.Directory = fmt.Sprintf("https://127.0.0.1:%d/dir", testtool.FreePort(t))
		_, _, err := apply.OpenACME(ctx, &cfg, e.Workspace, apply.ACMEOptions{Rand: rand.Reader})
		if err == nil || !strings.Contains(err.Error(), cfg.Directory) {
			t.Fatalf("got %v, want an error naming the directory", err)
		}
		sameSnapshot(t, "an unreachable directory", before, snapshotDir(t, e.Workspace.Dir))
	})
	edge := "edge-external/lsedge.contoso.net"
	e.allBut(t, edge)
	t.Run("hook exits non-zero", func(t *testing.T) {
		hook := filepath.Join(t.TempDir(), "dns-hook")
		if err := os.WriteFile(hook, []byte("#!/bin/sh\necho \"no API token for the DNS host\" >&2\nexit 7\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		rule := e.Topo.ACME.Challenges[1].DNS01
		e.Topo.ACME.Challenges[1].DNS01 = &topology.DNS01{Hook: hook}
		o := e.options(t, nil)
		before := snapshotDir(t, e.Workspace.Dir)
		res, err := apply.Run(ctx, e.Plan, e.Workspace, o)
		e.Topo.ACME.Challenges[1].DNS01 = rule
		if err == nil || !strings.Contains(err.Error(), "exit status 7: no API token for the DNS host") {
			t.Fatalf("got %v, want the hook's failure in its words", err)
		}
		if _, failed := res.Failed[edge]; !failed || !contains(res.Done, "reverse-proxy/rp") {
			t.Errorf("want the edge's certificate failed, the others done: %+v", res)
		}
		sameSnapshot(t, "a hook that exits non-zero", before, snapshotDir(t, e.Workspace.Dir))
		e.noChallengeLeft(t)
	})
	t.Run("wrong TSIG secret", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "wrong.key")
		if err := os.WriteFile(wrong, []byte("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		good := e.Topo.ACME.Challenges[1].DNS01.RFC2136.TSIGSecretFile
		e.Topo.ACME.Challenges[1].DNS01.RFC2136.TSIGSecretFile = wrong
		o := e.options(t, nil)
		before := snapshotDir(t, e.Workspace.Dir)
		res, err := apply.Run(ctx, e.Plan, e.Workspace, o)
		e.Topo.ACME.Challenges[1].DNS01.RFC2136.TSIGSecretFile = good
		if err == nil || !strings.Contains(err.Error(), "publish the rfc2136 challenge") || !strings.Contains(err.Error(), "bad authentication") {
			t.Fatalf("got %v, want the refused DNS update", err)
		}
		if _, failed := res.Failed[edge]; !failed {
			t.Errorf("%s did not fail: %+v", edge, res.Failed)
		}
		if len(res.Done) == 0 {
			t.Error("the other certificates did not go on")
		}
		sameSnapshot(t, "a wrong TSIG secret", before, snapshotDir(t, e.Workspace.Dir))
		if st := apply.ACMEState(e.Workspace, edge); st != nil {
			t.Errorf("state %+v left by a failed order", st)
		}
		if ps, err := e.Store(t, planCert(t, e.Plan, edge).RequestOn).Pending(); err != nil || len(ps) != 0 {
			t.Errorf("pending requests left: %d, %v", len(ps), err)
		}
		e.noChallengeLeft(t)
		// Fixed: the certificate is issued, for the one key made then.
		res, err = apply.Run(ctx, e.Plan, e.Workspace, e.options(t, nil))
		if err != nil || !res.Complete() {
			t.Fatalf("after the fix: %v %+v", err, res)
		}
		e.noChallengeLeft(t)
	})
}

func pendingKey(t *testing.T, e *acmeEnv, id string) string {
	t.Helper()
	c := planCert(t, e.Plan, id)
	ps, err := e.Store(t, c.RequestOn).Pending()
	if err != nil || len(ps) == 0 {
		t.Fatalf("no pending request for %s: %v", id, err)
	}
	for _, p := range ps {
		if strings.HasPrefix(p.FriendlyName, c.FriendlyName) {
			req, err := x509.ParseCertificateRequest(p.DER)
			if err != nil {
				t.Fatal(err)
			}
			return string(req.RawSubjectPublicKeyInfo)
		}
	}
	t.Fatalf("no pending request for %s", id)
	return ""
}

func currentKey(t *testing.T, e *acmeEnv, id string) string {
	t.Helper()
	c := planCert(t, e.Plan, id)
	thumb, _ := apply.Current(e.Workspace, c, c.RequestOn)
	_, cert, err := e.Store(t, c.RequestOn).Certificate(thumb)
	if err != nil {
		t.Fatal(err)
	}
	return string(cert.RawSubjectPublicKeyInfo)
}

func planCert(t *testing.T, p *plan.Plan, id string) *plan.Certificate {
	t.Helper()
	for i := range p.Certificates {
		if p.Certificates[i].ID == id {
			return &p.Certificates[i]
		}
	}
	t.Fatalf("no %s in the plan", id)
	return nil
}

// TestRenewACME: renew asks the CA for its renewal window (ARI) once and
// caches it with its Retry-After, so a run with nothing near makes no
// network call and exits with nothing done; with the clock past the chosen
// time it renews the public certificates through the CA (the internal ones
// stay), stages the A/V roll, and writes the metrics file.
func TestRenewACME(t *testing.T) {
	e := newACMEEnv(t)
	e.proxyNginx(t, testtool.FreePort(t))
	ctx := context.Background()
	if res, err := apply.Run(ctx, e.Plan, e.Workspace, e.options(t, nil)); err != nil || !res.Complete() {
		t.Fatalf("apply: %v %+v", err, res)
	}
	old := map[string]string{}
	for _, c := range e.Plan.Certificates {
		old[c.ID], _ = apply.Current(e.Workspace, &c, c.RequestOn)
	}
	renewOpts := func(t *testing.T, cfg *topology.ACME, now time.Time, events *[]apply.Event) apply.Options {
		pca, err := apply.OpenACMELazy(cfg, e.Workspace, apply.ACMEOptions{Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		o := e.Options()
		o.PublicCA, o.Now, o.Rand = pca, func() time.Time { return now }, rand.Reader
		o.Verify.SkipRevocation = true
		if events != nil {
			o.Progress = func(ev apply.Event) { *events = append(*events, ev) }
		}
		return o
	}
	// 1. Nothing due: the CA's window is asked for once and reported.
	var events []apply.Event
	res, err := apply.Renew(ctx, e.Plan, e.Workspace, 30*24*time.Hour, renewOpts(t, e.Topo.ACME, time.Now(), &events))
	if err != nil || len(res.Done) != 0 {
		t.Fatalf("renew of fresh certificates: %v %+v", err, res)
	}
	for _, c := range e.Plan.Certificates {
		if c.Issuer != topology.IssuerPublic {
			continue
		}
		d := res.Renewals[c.ID]
		if d == nil || d.Source != "ari" || d.Due || d.At.Before(d.WindowStart) || d.At.After(d.WindowEnd) {
			t.Errorf("%s: renewal %+v, want a time in the CA's ARI window, not due", c.ID, d)
		}
	}
	reported := false
	for _, ev := range events {
		reported = reported || strings.Contains(ev.Message, "in the CA's window")
	}
	if !reported {
		t.Errorf("renew did not report the ARI window: %+v", events)
	}
	metrics := filepath.Join(t.TempDir(), "edgecert.prom")
	if err := apply.WriteMetrics(metrics, e.Plan, e.Workspace, res, time.Now()); err != nil {
		t.Fatal(err)
	}
	m, _ := os.ReadFile(metrics)
	for _, want := range []string{`edgecert_certificate_expiry_timestamp_seconds{certificate="reverse-proxy/rp",issuer="public"}`,
		`edgecert_certificate_renewal_timestamp_seconds{certificate="edge-external/lsedge.contoso.net",source="ari"}`,
		`edgecert_certificate_renewal_status{certificate="edge-internal/lsedge.contoso.net",status="ok"} 1`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
	// 2. Again, with the CA unreachable: the cached window answers, no
	// network call is made.
	down := *e.Topo.ACME
	down.Directory = fmt.Sprintf("https://127.0.0.1:%d/dir", testtool.FreePort(t))
	start := time.Now()
	res, err = apply.Renew(ctx, e.Plan, e.Workspace, 30*24*time.Hour, renewOpts(t, &down, time.Now(), nil))
	if err != nil || len(res.Done) != 0 {
		t.Fatalf("renew with nothing near asked the CA: %v %+v", err, res)
	}
	t.Logf("renew with nothing due: %s", time.Since(start))
	// 3. Past the chosen time: the public certificates are renewed through
	// the CA, the internal ones stay.
	later := time.Now().Add(80 * 24 * time.Hour)
	res, err = apply.Renew(ctx, e.Plan, e.Workspace, 30*24*time.Hour, renewOpts(t, e.Topo.ACME, later, nil))
	if err != nil {
		t.Fatalf("renew 80 days later: %v", err)
	}
	for _, c := range e.Plan.Certificates {
		now, _ := apply.Current(e.Workspace, &c, c.RequestOn)
		switch {
		case c.Issuer == topology.IssuerPublic && (now == old[c.ID] || !contains(res.Done, c.ID)):
			t.Errorf("%s was not renewed: %+v", c.ID, res)
		case c.Issuer != topology.IssuerPublic && now != old[c.ID]:
			t.Errorf("internal %s was renewed by the ACME rule", c.ID)
		}
	}
	e.noChallengeLeft(t)
	// The A/V usage is staged with its effective date, the old
	// certificate kept until then (R80-R82).
	edge := planCert(t, e.Plan, "edge-external/lsedge.contoso.net")
	as, err := e.Store(t, edge.RequestOn).Assignments()
	if err != nil {
		t.Fatal(err)
	}
	staged := false
	for _, a := range as {
		if a.Usage == plan.UsageAudioVideoAuthentication && a.Staged != "" && !a.Effective.IsZero() {
			staged = true
		}
	}
	if !staged {
		t.Errorf("the A/V roll was not staged: %+v", as)
	}
}

// TestApplyACMERefusedName: a name the CA refuses fails its certificate
// with the CA's problem and the others go on.
func TestApplyACMERefusedName(t *testing.T) {
	e := newACMEEnv(t, "webcon.contoso.test")
	e.proxyNginx(t, testtool.FreePort(t))
	ctx := context.Background()
	edge := "edge-external/lsedge.contoso.net"
	e.allBut(t, edge)
	o := e.options(t, nil)
	before := snapshotDir(t, e.Workspace.Dir)
	res, err := apply.Run(ctx, e.Plan, e.Workspace, o)
	if err == nil || !strings.Contains(err.Error(), "urn:ietf:params:acme:error:rejectedIdentifier") {
		t.Fatalf("got %v, want the CA's rejectedIdentifier", err)
	}
	if _, failed := res.Failed[edge]; !failed || !contains(res.Done, "reverse-proxy/rp") {
		t.Errorf("want %s failed and the reverse proxy done: %+v", edge, res)
	}
	sameSnapshot(t, "a refused name", before, snapshotDir(t, e.Workspace.Dir))
	e.noChallengeLeft(t)
	// A request an earlier run made (here for the outbox) is the
	// workspace's: a refused order keeps it, and its key.
	outbox := e.Options()
	outbox.Certificates = []string{edge}
	if _, err := apply.Run(ctx, e.Plan, e.Workspace, outbox); err != nil {
		t.Fatal(err)
	}
	key := pendingKey(t, e, edge)
	o = e.options(t, nil)
	before = snapshotDir(t, e.Workspace.Dir)
	if _, err := apply.Run(ctx, e.Plan, e.Workspace, o); err == nil {
		t.Fatal("the refused name was issued")
	}
	sameSnapshot(t, "a refused name with an earlier run's request", before, snapshotDir(t, e.Workspace.Dir))
	if pendingKey(t, e, edge) != key {
		t.Error("the earlier run's request was replaced")
	}
	// All the certificates in one run: the others are done, the refused
	// one leaves no key, request or order state behind.
	e2 := newACMEEnv(t, "webcon.contoso.test")
	e2.proxyNginx(t, testtool.FreePort(t))
	res, err = apply.Run(ctx, e2.Plan, e2.Workspace, e2.options(t, nil))
	if err == nil || !contains(res.Done, "reverse-proxy/rp") {
		t.Fatalf("got %v %+v, want the edge refused and the reverse proxy done", err, res)
	}
	if st := apply.ACMEState(e2.Workspace, edge); st != nil {
		t.Errorf("state %+v left by a refused order", st)
	}
	if ps, err := e2.Store(t, planCert(t, e2.Plan, edge).RequestOn).Pending(); err != nil || len(ps) != 0 {
		t.Errorf("pending requests left: %d, %v", len(ps), err)
	}
}
