package verify

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"edgecert/internal/plan"
)

// ErrUnknownEndpoint is wrapped when an endpoint override names nothing in the plan.
var ErrUnknownEndpoint = errors.New("endpoint override matches no certificate, endpoint or name of the plan")

// Target is one TLS endpoint to probe.
type Target struct {
	Certificate string         // plan id
	Endpoint    string         // the planned host:port (or the override's name)
	Addr        string         // where to connect
	Names       []string       // SNI names to try: every planned name except wildcards
	Roots       *x509.CertPool // trust anchors for the served chain
	// Stored are the certificates the servers' stores hold and assign for
	// this plan id; empty: unknown. A probe that fails tells from them
	// whether the listener or the certificate is wrong.
	Stored []*x509.Certificate
}

// RootsFunc returns the trust anchors for the certificate with plan id.
type RootsFunc func(certID string) (*x509.CertPool, error)

// Targets builds the probe list from the plan's endpoints and overrides
// (NAME=ADDR, NAME being a certificate id, an endpoint host[:port] or a
// planned name). Certificates with neither endpoints nor an override are
// not probed.
func Targets(p *plan.Plan, overrides map[string]string, roots RootsFunc) ([]Target, error) {
	used := map[string]bool{}
	var out []Target
	for i := range p.Certificates {
		c := &p.Certificates[i]
		pool, err := roots(c.ID)
		if err != nil {
			return nil, err
		}
		names := sniNames(c)
		add := func(endpoint, addr string) {
			out = append(out, Target{Certificate: c.ID, Endpoint: endpoint, Addr: addr, Names: names, Roots: pool})
		}
		if addr, ok := overrides[c.ID]; ok {
			used[c.ID] = true
			add(c.ID, addr)
			continue
		}
		covered := false
		for _, ep := range c.Endpoints {
			host := ep
			if h, _, err := net.SplitHostPort(ep); err == nil {
				host = h
			}
			addr := ep
			for _, k := range []string{ep, host} {
				if a, ok := overrides[k]; ok {
					addr, used[k], covered = a, true, true
					break
				}
			}
			add(ep, addr)
		}
		if covered {
			continue
		}
		for _, n := range c.SANs {
			if a, ok := overrides[strings.ToLower(n)]; ok && !used[strings.ToLower(n)] {
				used[strings.ToLower(n)] = true
				add(n, a)
				break
			}
		}
	}
	for k := range overrides {
		if !used[k] {
			return nil, fmt.Errorf("verify: --endpoint %s: %w", k, ErrUnknownEndpoint)
		}
	}
	return out, nil
}

func sniNames(c *plan.Certificate) []string {
	var names []string
	for _, n := range c.SANs {
		if !strings.HasPrefix(n, "*.") {
			names = append(names, strings.ToLower(n))
		}
	}
	return names
}

// Live connects to every target with SNI for each of its names and checks
// the served chain, names and expiry.
func Live(ctx context.Context, p *plan.Plan, targets []Target, opts Options) *Report {
	opts.defaults()
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	byID := map[string]*plan.Certificate{}
	for i := range p.Certificates {
		byID[p.Certificates[i].ID] = &p.Certificates[i]
	}
	var jobs []func() []Finding
	for _, t := range targets {
		c := byID[t.Certificate]
		if c == nil || !opts.selected(c.ID) {
			continue
		}
		var once, connFail sync.Once
		for _, name := range t.Names {
			jobs = append(jobs, func() []Finding {
				return probe(ctx, c, t, name, &once, &connFail, &opts)
			})
		}
	}
	results := runBounded(jobs, opts.Concurrency)
	r := &Report{Checked: len(jobs)}
	for _, fs := range results {
		r.Findings = append(r.Findings, fs...)
	}
	r.sort()
	return r
}

// probe does one handshake with SNI name; names and expiry of the served
// leaf are checked once per target.
func probe(ctx context.Context, c *plan.Certificate, t Target, name string, once, connFail *sync.Once, opts *Options) []Finding {
	// The SERVER column says where the probe went: the planned endpoint,
	// or the address probed when an override named the certificate.
	server := t.Endpoint
	if t.Endpoint == c.ID {
		server = t.Addr
	}
	f := Finding{Certificate: c.ID, Server: server, Endpoint: t.Addr, Usage: strings.Join(c.Usages, ",")}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The chain is verified below, against the plan's trust anchors and
	// name. Classic key exchanges only: the probe needs no post-quantum
	// secrecy, and the hybrid one costs several times the CPU per handshake.
	d := tls.Dialer{Config: &tls.Config{ServerName: name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}}}
	conn, err := d.DialContext(dctx, "tcp", t.Addr)
	if err != nil {
		var out []Finding
		connFail.Do(func() { // one finding per endpoint, not per name
			out = []Finding{f.fail(CheckLiveConnect, "R61", fmt.Sprintf("TLS connection with SNI %s failed: %v", name, err),
				"check that the listener is up and bound to the planned certificate, or point --endpoint at it")}
		})
		return out
	}
	state := conn.(*tls.Conn).ConnectionState()
	conn.Close()
	if len(state.PeerCertificates) == 0 {
		return []Finding{f.fail(CheckLiveChain, "R61", "the server sent no certificate", "bind the planned certificate to the listener")}
	}
	leaf := state.PeerCertificates[0]
	var out []Finding
	inter := x509.NewCertPool()
	for _, ic := range state.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: t.Roots, Intermediates: inter, DNSName: name,
		CurrentTime: opts.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		var he x509.HostnameError
		if errors.As(err, &he) {
			out = append(out, f.fail(CheckLiveNames, nameRule(c, name),
				fmt.Sprintf("the certificate served for SNI %s does not cover that name", name),
				"bind the planned certificate (with every planned name) to this listener"))
		} else {
			out = append(out, f.fail(CheckLiveChain, "R61", fmt.Sprintf("the chain served for SNI %s does not verify: %v", name, err),
				"serve the whole chain (certificate plus intermediates) and use a certificate from the planned CA"))
		}
	}
	once.Do(func() {
		out = append(out, checkNames(c, f, leaf.Subject.CommonName, leaf.DNSNames, CheckLiveNames, CheckLiveNames+"-extra")...)
		for i := range out {
			if out[i].Check == CheckLiveNames+"-extra" {
				out[i].Check = CheckExtraNames
			}
		}
		out = append(out, checkValidity(f, leaf, opts.Now(), opts.WarnDays, CheckLiveExpiry, CheckLiveExpiry)...)
	})
	if hasSeverity(out, SeverityError) && len(t.Stored) > 0 {
		servedFix(out, leaf, t)
	}
	if !hasSeverity(out, SeverityError) {
		out = append(out, f.pass(CheckLive, "R61", "serves the planned certificate for SNI "+name))
	}
	return out
}

// servedFix makes the fixes of a failed probe say which side is wrong:
// when the listener serves another certificate than the one stored and
// assigned for it, that one is to be bound, not renewed; when it serves
// the stored one, the stored one is to be renewed.
func servedFix(out []Finding, leaf *x509.Certificate, t Target) {
	for _, s := range t.Stored {
		if s.Equal(leaf) {
			for i := range out {
				if out[i].Severity == SeverityError && out[i].Check == CheckLiveNames {
					out[i].Fix = "the listener serves the stored certificate, which lacks planned names: run edgecert renew " + fixTopologyArgs + " --within 100000d --certificate " + t.Certificate
				}
			}
			return
		}
	}
	stored := make([]string, len(t.Stored))
	for i, s := range t.Stored {
		stored[i] = sha1Hex(s)
	}
	for i := range out {
		if out[i].Severity == SeverityError {
			out[i].Message += fmt.Sprintf(" (it serves %s, SHA-1 %s)", leaf.Subject.CommonName, sha1Hex(leaf))
			out[i].Fix = fmt.Sprintf("the listener at %s serves another certificate than the stored and assigned one (SHA-1 %s), which is fine: bind that one to the listener (for the reverse proxy: edgecert proxy nginx); no new certificate is needed",
				t.Addr, strings.Join(stored, ", "))
		}
	}
}

func sha1Hex(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// SortTargets orders targets by endpoint, for stable output.
func SortTargets(ts []Target) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Endpoint < ts[j].Endpoint })
}
