package cli

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"edgecert/internal/acmeserver"
	"edgecert/internal/enroll"
)

// acmeServeOptions are the --acme-* flags of ca serve.
type acmeServeOptions struct {
	baseURL, resolver string
	httpPort, tlsPort int
	attempts          int
	timeout           time.Duration
	unbound           []string
}

func (o *acmeServeOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.baseURL, "acme-url", "", "HTTPS base URL ACME clients reach the CA at (default: the listener's address)")
	f.StringVar(&o.resolver, "acme-resolver", "", "DNS server (host:port) the ACME validations ask (default: the system's resolver)")
	f.IntVar(&o.httpPort, "acme-http-port", 80, "port the CA validates http-01 on")
	f.IntVar(&o.tlsPort, "acme-tls-port", 443, "port the CA validates tls-alpn-01 on")
	f.IntVar(&o.attempts, "acme-attempts", 3, "attempts of one challenge validation at most")
	f.DurationVar(&o.timeout, "acme-timeout", 10*time.Second, "deadline of one validation attempt")
	f.StringArrayVar(&o.unbound, "acme-unbound", nil, "TEMPLATE=CIDR[,CIDR...]: open a template to ACME accounts without External Account Binding from these networks, acting as the CA user acme-unbound (repeatable; the weaker choice, docs/acme.md)")
}

// config checks the flags and returns the ACME configuration.
func (o *acmeServeOptions) config() (*enroll.ACMEConfig, error) {
	c := &enroll.ACMEConfig{BaseURL: strings.TrimSuffix(o.baseURL, "/"), Validation: acmeserver.ValidationOptions{
		Resolver: o.resolver, HTTPPort: o.httpPort, TLSPort: o.tlsPort, Attempts: o.attempts, Timeout: o.timeout,
	}}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, invalidInput(fmt.Errorf("--acme-url %q: not an https:// URL without query", o.baseURL))
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"--acme-http-port", o.httpPort}, {"--acme-tls-port", o.tlsPort}} {
		if p.v < 1 || p.v > 65535 {
			return nil, invalidInput(fmt.Errorf("%s %d: not a port (1-65535)", p.name, p.v))
		}
	}
	if o.attempts < 1 || o.attempts > 10 {
		return nil, invalidInput(fmt.Errorf("--acme-attempts %d: between 1 and 10", o.attempts))
	}
	if o.timeout <= 0 || o.timeout > time.Minute {
		return nil, invalidInput(fmt.Errorf("--acme-timeout %s: more than 0 and at most 1m", o.timeout))
	}
	if o.resolver != "" {
		if _, err := netip.ParseAddrPort(o.resolver); err != nil {
			return nil, invalidInput(fmt.Errorf("--acme-resolver %q: an address and port, e.g. 10.0.0.53:53", o.resolver))
		}
	}
	for _, u := range o.unbound {
		t, nets, ok := strings.Cut(u, "=")
		if !ok || t == "" || nets == "" {
			return nil, invalidInput(fmt.Errorf("--acme-unbound %q: TEMPLATE=CIDR[,CIDR...]", u))
		}
		if c.Unbound == nil {
			c.Unbound = map[string][]netip.Prefix{}
		}
		for _, n := range strings.Split(nets, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(n))
			if err != nil {
				return nil, invalidInput(fmt.Errorf("--acme-unbound %q: %q is not a network such as 10.0.0.0/24", u, n))
			}
			c.Unbound[t] = append(c.Unbound[t], p.Masked())
		}
	}
	return c, nil
}
