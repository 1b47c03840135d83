package apply_test

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/testtool"
)

const acmeChildDirEnv = "EDGECERT_TEST_ACME_CHILD_DIR"

// TestACMEKillChild is the child of TestKilledACMEOrderFinishes: it runs
// apply on the workspace the parent made, against the parent's pebble.
func TestACMEKillChild(t *testing.T) {
	dir := os.Getenv(acmeChildDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestKilledACMEOrderFinishes")
	}
	b, err := os.ReadFile(filepath.Join(dir, "topology.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e := applytest.New(t, string(b), applytest.Options{Dir: dir, EngineCA: true})
	pca, _, err := apply.OpenACME(context.Background(), e.Topo.ACME, e.Workspace, apply.ACMEOptions{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	o := e.Options()
	o.PublicCA = pca
	if _, err := apply.Run(context.Background(), e.Plan, e.Workspace, o); err != nil {
		t.Fatal(err)
	}
}

// TestKilledACMEOrderFinishes kills apply with SIGKILL while its challenge
// record is published in DNS (the hook that published it signals, then
// waits), then runs apply again: the record is removed, the same key is
// used (one key per certificate), the order is finished.
func TestKilledACMEOrderFinishes(t *testing.T) {
	d := testtool.Named(t, "contoso.test")
	p := testtool.StartPebble(t, testtool.PebbleOptions{DNSServer: d.Addr})
	webroot := t.TempDir()
	marker := filepath.Join(t.TempDir(), "published")
	hook := filepath.Join(t.TempDir(), "dns-hook")
	host, port, _ := net.SplitHostPort(d.Addr)
	script := fmt.Sprintf(`#!/bin/sh
set -e
case "$1" in
present) op="update add $2 60 TXT \"$3\"";;
cleanup) op="update delete $2 TXT \"$3\"";;
esac
printf 'server %s %s\nzone %s\n%%s\nsend\n' "$op" | %s -y hmac-sha256:%s:%s
if [ "$1" = present ] && [ ! -e %s ]; then echo "$2" > %s; sleep 60; fi
`, host, port, d.Zone, testtool.Path(t, "nsupdate"), d.KeyName, d.Secret, marker, marker)
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	topo := fmt.Sprintf(acmeTopology, p.Directory, p.DirectoryCA, p.RootsFile, d.Addr, webroot, d.KeyName, d.SecretFile)
	// The edge's names through the hook instead of the RFC 2136 update.
	topo = strings.Replace(topo, "    - domains: [contoso.test]\n      dns01:\n", "    - domains: [contoso.test]\n      dns01: {hook: "+hook+"}\n    - domains: [unused.test]\n      dns01:\n", 1)
	ae := &acmeEnv{Env: applytest.New(t, topo, applytest.Options{EngineCA: true}), dns: d, pebble: p, webroot: webroot, nginx: testtool.Path(t, "nginx")}
	ae.proxyOut = filepath.Join(ae.Dir, "nginx-rp01")
	ae.proxyNginx(t, testtool.FreePort(t))
	e := ae.Env
	if e.Topo.ACME.Rule("sip.contoso.test").DNS01.Hook != hook {
		t.Fatal("the topology does not send the edge's names to the hook")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestACMEKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), acmeChildDirEnv+"="+e.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatal("the child never published its record")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	b, _ := os.ReadFile(marker)
	record := strings.TrimSpace(string(b))
	if !txtPresent(t, d, record) {
		t.Fatalf("the killed run's record %s is not in DNS: the test kills at the wrong moment", record)
	}
	edge := "edge-external/lsedge.contoso.net"
	key := pendingKey(t, &acmeEnv{Env: e}, edge)
	if st := apply.ACMEState(e.Workspace, edge); st == nil || st.Step != "challenge waiting" {
		t.Errorf("the killed order's state is %+v, want challenge waiting", st)
	}
	// Run again: the record is removed first, the order finished with the same key.
	pca, _, err := apply.OpenACME(context.Background(), e.Topo.ACME, e.Workspace, apply.ACMEOptions{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if txtPresent(t, d, record) {
		t.Errorf("opening the account again left the killed run's record %s in DNS", record)
	}
	o := e.Options()
	o.PublicCA = pca
	res, err := apply.Run(context.Background(), e.Plan, e.Workspace, o)
	if err != nil {
		t.Fatalf("apply after the kill: %v", err)
	}
	if _, failed := res.Failed[edge]; failed || !contains(res.Done, edge) {
		t.Fatalf("%s not done after the kill: %+v", edge, res)
	}
	if got := currentKey(t, &acmeEnv{Env: e}, edge); got != key {
		t.Error("a second key was made for the certificate after the kill")
	}
	c := planCert(t, e.Plan, edge)
	for _, srv := range c.Servers {
		es, err := e.Store(t, srv).List("my")
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]bool{}
		for _, en := range es {
			if strings.HasPrefix(en.FriendlyName, c.FriendlyName) {
				_, cert, _ := e.Store(t, srv).Certificate(en.Thumbprint)
				keys[string(cert.RawSubjectPublicKeyInfo)] = true
			}
		}
		if len(keys) != 1 {
			t.Errorf("%s holds %d keys for %s, want 1", srv, len(keys), edge)
		}
	}
	if txtPresent(t, d, record) {
		t.Errorf("record %s left in DNS", record)
	}
	for _, n := range c.SANs {
		if txtPresent(t, d, "_acme-challenge."+n+".") {
			t.Errorf("a challenge record of %s is left in DNS", n)
		}
	}
}

// txtPresent reports whether BIND serves a TXT record at fqdn.
func txtPresent(t *testing.T, d *testtool.DNS, fqdn string) bool {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(fqdn), dns.TypeTXT)
	in, err := dns.Exchange(m, d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range in.Answer {
		if _, ok := rr.(*dns.TXT); ok {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestKilledACMEApplyAtRandom kills apply (with ACME orders, dns-01 into
// BIND and http-01 through nginx) at random moments, then finishes it: one
// key per certificate on every server, no challenge record left.
func TestKilledACMEApplyAtRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := newACMEEnv(t)
	e.proxyNginx(t, testtool.FreePort(t))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	kills := 0
	for run := 0; run < 8; run++ {
		cmd := exec.Command(exe, "-test.run=^TestACMEKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), acmeChildDirEnv+"="+e.Dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if kills < 5 {
			select {
			case err = <-done:
			case <-time.After(time.Duration(30+mrand.IntN(900)) * time.Millisecond):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
				kills++
				continue
			}
		} else {
			err = <-done
		}
		if err == nil {
			break
		}
		t.Fatalf("child run %d failed (not killed): %v", run, err)
	}
	t.Logf("killed apply %d times", kills)
	res, err := apply.Run(context.Background(), e.Plan, e.Workspace, e.options(t, nil))
	if err != nil || !res.Complete() {
		t.Fatalf("apply after the kills: %v %+v", err, res)
	}
	checkStores(t, e.Env)
	for _, c := range e.Plan.Certificates {
		for _, srv := range c.Servers {
			es, err := e.Store(t, srv).List("my")
			if err != nil {
				t.Fatal(err)
			}
			keys := map[string]bool{}
			for _, en := range es {
				if strings.HasPrefix(en.FriendlyName, c.FriendlyName) {
					_, cert, _ := e.Store(t, srv).Certificate(en.Thumbprint)
					keys[string(cert.RawSubjectPublicKeyInfo)] = true
				}
			}
			if len(keys) != 1 {
				t.Errorf("%s holds %d keys for %s, want 1", srv, len(keys), c.ID)
			}
		}
	}
	e.noChallengeLeft(t)
}
