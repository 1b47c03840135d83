package acme

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// waitPropagation polls until every server that answers for the record
// returns its value: the configured resolvers, else the rfc2136 server and
// the zone's name servers.
func (c *Client) waitPropagation(ctx context.Context, r *record) error {
	start := time.Now()
	defer func() {
		c.statMu.Lock()
		c.dnsWaitTime += time.Since(start)
		c.statMu.Unlock()
	}()
	servers := c.o.Config.Resolvers
	if len(servers) == 0 {
		servers = authoritative(ctx, r)
	}
	if len(servers) == 0 {
		return fmt.Errorf("%s: no server to check the TXT record %s at; set acme.resolvers", r.Name, r.FQDN)
	}
	deadline := time.Now().Add(c.o.PropagationTimeout)
	wait := 50 * time.Millisecond
	for {
		var missing []string
		for _, s := range servers {
			if !hasTXT(ctx, s, r.FQDN, r.Value) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: the TXT record %s is not visible at %s after %s", r.Name, r.FQDN, strings.Join(missing, ", "), c.o.PropagationTimeout)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// authoritative returns the servers that answer for the record's zone.
func authoritative(ctx context.Context, r *record) []string {
	var out []string
	zone := ""
	if r.RFC2136 != nil {
		out = append(out, r.RFC2136.Server)
		zone = r.RFC2136.Zone
	}
	if zone == "" {
		// The closest enclosing domain with name servers.
		labels := dns.SplitDomainName(r.FQDN)
		for i := 1; i < len(labels)-1 && zone == ""; i++ {
			cand := strings.Join(labels[i:], ".")
			if ns, err := net.DefaultResolver.LookupNS(ctx, cand); err == nil && len(ns) > 0 {
				zone = cand
			}
		}
	}
	if zone != "" {
		if ns, err := net.DefaultResolver.LookupNS(ctx, strings.TrimSuffix(zone, ".")); err == nil {
			for _, n := range ns {
				out = append(out, net.JoinHostPort(strings.TrimSuffix(n.Host, "."), "53"))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// hasTXT asks server for the TXT records of fqdn.
func hasTXT(ctx context.Context, server, fqdn, value string) bool {
	m := new(dns.Msg)
	m.SetQuestion(fqdn, dns.TypeTXT)
	m.RecursionDesired = true
	cl := &dns.Client{Timeout: 3 * time.Second}
	in, _, err := cl.ExchangeContext(ctx, m, server)
	if err != nil || in == nil {
		return false
	}
	if in.Truncated {
		cl.Net = "tcp"
		if in, _, err = cl.ExchangeContext(ctx, m, server); err != nil || in == nil {
			return false
		}
	}
	for _, rr := range in.Answer {
		if t, ok := rr.(*dns.TXT); ok && strings.Join(t.Txt, "") == value {
			return true
		}
	}
	return false
}
