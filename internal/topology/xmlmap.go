package topology

import (
	"net/url"
	"strings"
)

// A Topology Builder document (.tbxml) nests PartialTopology in
// NewTopology; Get-CsTopology -AsXml prints a Topology element. Both hold
// InternalDomains, SimpleUrlConfiguration, central sites, clusters of
// machines, and services installed on clusters:
//
//   - in a .tbxml, clusters sit inside their CentralSite and have a UniqueId;
//     a Service names its role in RoleName and its cluster in InstalledOn
//     (the cluster's UniqueId);
//   - in Get-CsTopology output, clusters are listed apart, each with a
//     <ClusterId SiteId Number/>; a Service has <ServiceId RoleName/> and
//     <InstalledOn><ClusterId SiteId Number/></InstalledOn>.

// xcluster is a cluster and the services of interest installed on it.
type xcluster struct {
	n         *xnode
	fqdn      sval
	site      *rawSite
	machines  slist
	registrar *xnode
	edge      *xnode
	web       *xnode
	wac       *xnode
}

type xmapper struct {
	file     string
	c        *collector
	r        *rawTopo
	byKey    map[string]*xcluster
	clusters []*xcluster
	sites    map[string]*rawSite
}

// decodeXML reads a Topology Builder document into the raw model.
func decodeXML(file string, data []byte, c *collector) *rawTopo {
	c.files = append(c.files, file)
	root, prob := parseXML(file, data)
	if prob != nil {
		c.ps = append(c.ps, *prob)
		return nil
	}
	topo := topologyElement(root)
	if topo == nil {
		c.addf(root.p, "syntax", "give a Topology Builder document (.tbxml) or the output of Get-CsTopology -AsXml", "<%s> is not a Topology Builder document", root.name)
		return nil
	}
	r := &rawTopo{P: topo.p, Version: ival{V: 1, P: topo.p, Set: true}, XML: true}
	m := &xmapper{file: file, c: c, r: r, byKey: map[string]*xcluster{}, sites: map[string]*rawSite{}}
	m.domains(topo)
	m.simpleURLs(topo)
	m.readSites(topo)
	m.services(topo)
	m.assemble()
	return r
}

func topologyElement(root *xnode) *xnode {
	switch root.name {
	case "Topology", "PartialTopology":
		return root
	case "TopologyBuilder":
		for _, which := range []string{"NewTopology", "OldTopology"} {
			if t := root.child(which); t != nil {
				if p := t.child("PartialTopology"); p != nil {
					return p
				}
				if p := t.child("Topology"); p != nil {
					return p
				}
			}
		}
	}
	return nil
}

func (m *xmapper) val(s string, p Pos) sval {
	return sval{V: strings.ToLower(strings.TrimSpace(s)), P: p, Set: true}
}

// domains maps InternalDomains to sip_domains, the DefaultDomain first.
func (m *xmapper) domains(topo *xnode) {
	id := topo.child("InternalDomains")
	if id == nil {
		m.r.SIPDomains.P = topo.p
		return
	}
	l := slist{P: id.p}
	def := strings.ToLower(strings.TrimSpace(id.attr("DefaultDomain")))
	if def != "" {
		l.Items = append(l.Items, m.val(def, id.p))
	}
	for _, d := range id.children("InternalDomain") {
		if name := strings.ToLower(strings.TrimSpace(d.attr("Name"))); name != "" && name != def {
			l.Items = append(l.Items, m.val(name, d.p))
		}
	}
	l.Set = len(l.Items) > 0
	m.r.SIPDomains = l
}

// simpleURLs maps SimpleUrlConfiguration: a Meet URL per domain, Dialin and
// Admin; the ActiveUrl of each, else its first SimpleUrlEntry. A document
// with no Meet URL, or no Dialin URL, gets Topology Builder's defaults for
// it later (defaultSimpleURLs), once the overlay has had its say.
func (m *xmapper) simpleURLs(topo *xnode) {
	defer func() { m.r.NoMeet, m.r.NoDialin = len(m.r.Meet) == 0, !m.r.Dialin.Set }()
	cfg := topo.child("SimpleUrlConfiguration")
	if cfg == nil {
		return
	}
	m.r.SimpleP = cfg.p
	seen := map[string]int{}
	for _, su := range cfg.children("SimpleUrl") {
		u := strings.TrimSpace(su.attr("ActiveUrl"))
		if e := su.child("SimpleUrlEntry"); u == "" && e != nil {
			u = strings.TrimSpace(e.attr("Url"))
		}
		v := sval{V: u, P: su.p, Set: u != ""}
		switch strings.ToLower(su.attr("Component")) {
		case "meet":
			dom := m.val(su.attr("Domain"), su.p)
			if line, dup := seen[dom.V]; dup {
				m.c.addf(su.p, "duplicate-key", "keep one Meet simple URL per SIP domain", "the Meet simple URL of %s is already defined on line %d", dom.V, line)
				continue
			}
			seen[dom.V] = su.p.Line
			if m.r.MeetP.Line == 0 {
				m.r.MeetP = su.p
			}
			m.r.Meet = append(m.r.Meet, rawMeet{Domain: dom, URL: v})
		case "dialin":
			if !m.r.Dialin.Set {
				m.r.Dialin = v
			}
		case "admin":
			if !m.r.Admin.Set {
				m.r.Admin = v
			}
		}
	}
}

// readSites reads the central sites and their clusters.
func (m *xmapper) readSites(topo *xnode) {
	for _, container := range []string{"CentralSites", "Sites"} {
		cs := topo.child(container)
		if cs == nil {
			continue
		}
		for _, s := range cs.children("CentralSite") {
			site := &rawSite{P: s.p}
			if n := s.child("Name"); n != nil {
				site.Name = sval{V: strings.TrimSpace(n.text.String()), P: n.p, Set: true}
			}
			m.r.Sites = append(m.r.Sites, site)
			if id := s.attr("SiteId"); id != "" {
				m.sites[id] = site
			}
			if cl := s.child("Clusters"); cl != nil {
				for _, c := range cl.children("Cluster") {
					m.addCluster(c, site)
				}
			}
		}
	}
	if cl := topo.child("Clusters"); cl != nil {
		for _, c := range cl.children("Cluster") {
			var site *rawSite
			if id := c.child("ClusterId"); id != nil {
				site = m.sites[id.attr("SiteId")]
			}
			m.addCluster(c, site)
		}
	}
}

func (m *xmapper) addCluster(n *xnode, site *rawSite) {
	cl := &xcluster{n: n, fqdn: m.val(n.attr("Fqdn"), n.p), site: site, machines: slist{P: n.p, Set: true}}
	var machines []*xnode
	if ms := n.child("Machines"); ms != nil {
		machines = ms.children("Machine")
	}
	for _, mc := range append(machines, n.children("Machine")...) {
		fqdn := mc.attr("Fqdn")
		if fqdn == "" {
			fqdn = cl.fqdn.V // a single machine named after its cluster
		}
		cl.machines.Items = append(cl.machines.Items, m.val(fqdn, mc.p))
	}
	m.clusters = append(m.clusters, cl)
	if id := n.attr("UniqueId"); id != "" {
		m.byKey[strings.ToLower(id)] = cl
	}
	if id := n.child("ClusterId"); id != nil {
		m.byKey[clusterIDKey(id)] = cl
	}
}

func clusterIDKey(id *xnode) string {
	return "site:" + id.attr("SiteId") + "/" + id.attr("Number")
}

// hostOf returns the lower-case host of a URL, or "".
func hostOf(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
