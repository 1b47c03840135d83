package testdns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"edgecert/internal/testtool"
)

// BIND is a BIND 9 server (named) on loopback, authoritative for one zone
// in which every name has the address 127.0.0.1, taking RFC 2136 dynamic
// updates from loopback.
type BIND struct {
	Addr string // host:port, UDP and TCP
	Zone string // with a final dot
}

// StartBIND starts named for zone (e.g. "contoso.test") for the duration
// of t; a missing named fails t under EDGECERT_REQUIRE_TOOLS.
func StartBIND(t testing.TB, zone string) *BIND {
	t.Helper()
	named := "/usr/sbin/named" // Debian's, often outside a user's PATH
	if _, err := os.Stat(named); err != nil {
		named = testtool.Path(t, "named")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	b := &BIND{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Zone: dns.Fqdn(zone)}
	conf := fmt.Sprintf(`options {
  directory "%[1]s";
  pid-file "%[1]s/named.pid";
  listen-on port %[2]d { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
};
zone "%[3]s" {
  type primary;
  file "%[1]s/zone.db";
  allow-update { 127.0.0.1; };
};
`, dir, port, zone)
	zoneData := fmt.Sprintf("$TTL 0\n@ IN SOA ns.%[1]s hostmaster.%[1]s 1 60 60 600 0\n@ IN NS ns.%[1]s\nns IN A 127.0.0.1\n* IN A 127.0.0.1\n", b.Zone)
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zone.db"), []byte(zoneData), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(named, "-g", "-c", filepath.Join(dir, "named.conf"))
	log, _ := os.Create(filepath.Join(dir, "named.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); log.Close() })
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(b.Zone, dns.TypeSOA)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r, _, err := c.Exchange(m, b.Addr); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return b
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "named.log"))
			t.Fatalf("named did not start: %s", out)
		}
	}
}

// Update adds records (zone-file syntax, e.g. `_acme-challenge.a.contoso.test.
// 0 IN TXT "x"`) with an RFC 2136 update, as a DNS provider would.
func (b *BIND) Update(rrs ...string) error {
	m := new(dns.Msg)
	m.SetUpdate(b.Zone)
	var add []dns.RR
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			return err
		}
		add = append(add, rr)
	}
	m.Insert(add)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, b.Addr)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("update refused: %s", dns.RcodeToString[r.Rcode])
	}
	return nil
}
