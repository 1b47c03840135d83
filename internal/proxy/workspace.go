package proxy

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"edgecert/internal/apply"
	"edgecert/internal/plan"
	"edgecert/internal/store"
	"edgecert/internal/topology"
)

// ErrNotReverseProxy is wrapped when the server is not a reverse proxy of the topology.
var ErrNotReverseProxy = errors.New("not a reverse proxy server of the topology")

// ErrNotInstalled is wrapped when the planned certificate is not in the server's store yet.
var ErrNotInstalled = errors.New("the reverse proxy certificate is not installed yet: run edgecert apply")

// FromWorkspace builds the configuration of reverse proxy server from its
// store in the workspace: every reverse proxy certificate the plan puts on
// it (with its chain and key) and the publishing rules each covers; the
// upstream trust is the store's root location (the internal CA root, R51).
func FromWorkspace(t *topology.Topology, p *plan.Plan, ws *apply.Workspace, server string, up Upstreams) (*Config, error) {
	site, rp := FindReverseProxy(t, server)
	if rp == nil {
		return nil, fmt.Errorf("proxy: %s: %w", server, ErrNotReverseProxy)
	}
	st, ok, err := ws.ExistingStore(server)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	if ok {
		cfg.UpstreamTrust = roots(st)
	}
	for i := range p.Certificates {
		c := &p.Certificates[i]
		if (c.Kind != plan.KindReverseProxy && c.Kind != plan.KindEdgeExternalAndProxy) || !hasServer(c, server) {
			continue
		}
		rules := Rules(t, site, rp, c, up)
		http01 := false
		for i := range rules {
			rules[i].ACMEWebroot = acmeWebroot(t, rules[i].Hosts)
			http01 = http01 || rules[i].ACMEWebroot != ""
		}
		var l *Listener
		err := fmt.Errorf("proxy: no store for %s: %w", server, ErrNotInstalled)
		if ok {
			l, err = listener(ws, st, c, server)
		}
		if errors.Is(err, ErrNotInstalled) && http01 {
			// The certificate waits for its http-01 validation, which
			// needs port 80 first.
			l, err = &Listener{Name: listenerName(c)}, nil
		}
		if err != nil {
			return nil, err
		}
		l.Rules = rules
		cfg.Listeners = append(cfg.Listeners, *l)
	}
	if len(cfg.Listeners) == 0 {
		return nil, fmt.Errorf("proxy: the plan has no reverse proxy certificate for %s", server)
	}
	return cfg, nil
}

func hasServer(c *plan.Certificate, server string) bool {
	for _, s := range c.Servers {
		if strings.EqualFold(s, server) {
			return true
		}
	}
	return false
}

func roots(st *store.Store) []*x509.Certificate {
	es, err := st.List(store.Root)
	if err != nil {
		return nil
	}
	var out []*x509.Certificate
	for _, e := range es {
		if _, c, err := st.Certificate(e.Thumbprint); err == nil {
			out = append(out, c)
		}
	}
	return out
}

func listener(ws *apply.Workspace, st *store.Store, c *plan.Certificate, server string) (*Listener, error) {
	thumb, err := apply.Current(ws, c, server)
	if err != nil {
		return nil, err
	}
	if thumb == "" {
		return nil, fmt.Errorf("proxy: %s on %s: %w", c.ID, server, ErrNotInstalled)
	}
	_, cert, err := st.Certificate(thumb)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	chain, err := st.Chain(cert)
	if err != nil {
		return nil, fmt.Errorf("proxy: chain of %s on %s: %w", c.ID, server, err)
	}
	key, err := st.PrivateKey(thumb)
	if err != nil {
		return nil, fmt.Errorf("proxy: key of %s on %s: %w", c.ID, server, err)
	}
	return &Listener{Name: listenerName(c), Cert: cert, Chain: chain[1:], Key: key}, nil
}

func listenerName(c *plan.Certificate) string {
	return strings.NewReplacer("/", "_", "+", "_").Replace(c.ID)
}

// acmeWebroot returns the http-01 webroot of the first of hosts that the
// topology's acme block validates with http-01 ("" for none).
func acmeWebroot(t *topology.Topology, hosts []string) string {
	if t.ACME == nil {
		return ""
	}
	for _, h := range hosts {
		if r := t.ACME.Rule(h); r != nil && r.HTTP01 != nil {
			return r.HTTP01.Webroot
		}
	}
	return ""
}
