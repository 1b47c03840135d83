// Package testdns is a small authoritative DNS server on loopback for the
// tests of ACME validations (tests only): every name has the address
// 127.0.0.1; TXT and CNAME records are set by the test.
package testdns

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is the DNS server; Addr is its UDP address (host:port).
type Server struct {
	Addr  string
	mu    sync.Mutex
	txt   map[string][]string // fqdn (lower case, final dot) -> values
	cname map[string]string
}

// Start starts a server for the duration of t.
func Start(t testing.TB) *Server {
	t.Helper()
	d := &Server{txt: map[string][]string{}, cname: map[string]string{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.Addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: d}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return d
}

// SetTXT sets the TXT records of name, one record per value.
func (d *Server) SetTXT(name string, values ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txt[dns.Fqdn(strings.ToLower(name))] = values
}

// SetCNAME makes name an alias of target.
func (d *Server) SetCNAME(name, target string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cname[dns.Fqdn(strings.ToLower(name))] = dns.Fqdn(target)
}

// ServeDNS answers A (127.0.0.1), TXT and CNAME questions, following
// CNAMEs as a recursive resolver would.
func (d *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, q := range r.Question {
		name := strings.ToLower(q.Name)
		hdr := func(t uint16, n string) dns.RR_Header {
			return dns.RR_Header{Name: n, Rrtype: t, Class: dns.ClassINET, Ttl: 0}
		}
		for i := 0; i < 8; i++ { // follow CNAMEs as a recursive resolver would
			target, ok := d.cname[name]
			if !ok || q.Qtype == dns.TypeCNAME {
				break
			}
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(dns.TypeCNAME, name), Target: target})
			name = target
		}
		switch q.Qtype {
		case dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA, name), A: net.IPv4(127, 0, 0, 1)})
		case dns.TypeTXT:
			for _, v := range d.txt[name] { // one record each
				m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT, name), Txt: []string{v}})
			}
		case dns.TypeCNAME:
			if target, ok := d.cname[name]; ok {
				m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(dns.TypeCNAME, name), Target: target})
			}
		}
	}
	w.WriteMsg(m)
}
