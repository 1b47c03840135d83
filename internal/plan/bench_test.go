package plan

import (
	"bytes"
	"fmt"
	"testing"

	"edgecert/internal/topology"
)

// largeTopology generates the benchmark deployment: 100 sites, 1,000 edge
// pools of 4 servers (10 per site), 50 SIP domains with mobility and one
// meet URL each, and 100 reverse proxies (one per site, publishing the
// site's Front End pool of 2 servers).
func largeTopology() *topology.Topology {
	const sites, edgePerSite, edgeServers, domains = 100, 10, 4, 50
	tp := &topology.Topology{
		Organization: topology.Organization{Name: "Contoso Ltd", Country: "US"},
		SimpleURLs:   topology.SimpleURLs{Meet: map[string]string{}, Dialin: "https://dialin.domain00.com"},
		Mobility:     true,
		Key:          topology.KeySpec{Algorithm: "RSA", Bits: 2048},
	}
	for d := 0; d < domains; d++ {
		dom := fmt.Sprintf("domain%02d.com", d)
		tp.SIPDomains = append(tp.SIPDomains, dom)
		tp.SimpleURLs.Meet[dom] = "https://meet." + dom
	}
	for s := 0; s < sites; s++ {
		site := topology.Site{Name: fmt.Sprintf("site%03d", s)}
		pool := fmt.Sprintf("pool%03d.corp.net", s)
		site.Pools = []topology.Pool{{
			FQDN:        pool,
			Servers:     []string{fmt.Sprintf("fe%03da.corp.net", s), fmt.Sprintf("fe%03db.corp.net", s)},
			WebExternal: fmt.Sprintf("webext%03d.domain00.com", s),
		}}
		for e := 0; e < edgePerSite; e++ {
			n := s*edgePerSite + e
			ep := topology.EdgePool{
				FQDN:          fmt.Sprintf("edgepool%04d.corp.net", n),
				LoadBalancing: topology.LoadBalancingDNS,
				Access:        fmt.Sprintf("sip%04d.domain00.com", n),
				WebConf:       fmt.Sprintf("webcon%04d.domain00.com", n),
				AV:            fmt.Sprintf("av%04d.domain00.com", n),
			}
			for k := 0; k < edgeServers; k++ {
				ep.Servers = append(ep.Servers, fmt.Sprintf("edge%04d-%d.corp.net", n, k))
			}
			site.EdgePools = append(site.EdgePools, ep)
		}
		site.ReverseProxies = []topology.ReverseProxy{{
			Name:      fmt.Sprintf("rp%03d", s),
			Servers:   []string{fmt.Sprintf("rp%03da.domain00.com", s), fmt.Sprintf("rp%03db.domain00.com", s)},
			Publishes: []string{pool},
		}}
		tp.Sites = append(tp.Sites, site)
	}
	return tp
}

// BenchmarkPlanLarge plans the generated deployment (target: under 200 ms
// and 200 MB per plan).
func BenchmarkPlanLarge(b *testing.B) {
	tp := largeTopology()
	b.ReportAllocs()
	var certs, n int
	cpu0 := processCPU()
	for b.Loop() {
		p, err := Build(tp)
		if err != nil {
			b.Fatal(err)
		}
		certs = len(p.Certificates)
		n++
	}
	b.ReportMetric(float64(certs), "certificates")
	if cpu := processCPU() - cpu0; cpu > 0 && n > 0 {
		// CPU time of every thread (GC included) per plan.
		b.ReportMetric(float64(cpu)/float64(n)/1e6, "cpu-ms/op")
	}
}

// BenchmarkPlanLargeTable plans the generated deployment and renders it as
// a table with --explain, as `edgecert plan --explain` does.
func BenchmarkPlanLargeTable(b *testing.B) {
	tp := largeTopology()
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		p, err := Build(tp)
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		if err := WriteTable(&buf, p, true, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes-out")
}

func TestLargeTopologyPlans(t *testing.T) {
	p := mustBuild(t, largeTopology())
	// 1,000 × (internal + external) + 100 proxies + 200 servers × 3 + OAuth.
	if want := 2000 + 100 + 600 + 1; len(p.Certificates) != want {
		t.Errorf("%d certificates, want %d", len(p.Certificates), want)
	}
	c := cert(t, p, "edge-external/edgepool0999.corp.net")
	if len(c.SANs) != 52 || len(c.Servers) != 4 {
		t.Errorf("edge external: %d SANs, %d servers", len(c.SANs), len(c.Servers))
	}
}
