package topology

import "strings"

// services links each service of interest to the cluster it is installed
// on.
func (m *xmapper) services(topo *xnode) {
	svcs := topo.child("Services")
	if svcs == nil {
		return
	}
	for _, s := range svcs.children("Service") {
		role := s.attr("RoleName")
		if id := s.child("ServiceId"); role == "" && id != nil {
			role = id.attr("RoleName")
		}
		switch role {
		case "EdgeServer", "Registrar", "WebServices", "WacService":
		default:
			continue
		}
		cl := m.installedOn(s)
		if cl == nil {
			m.c.addf(s.p, "xml-reference", "check the document: every service must be installed on a cluster it defines", "service %s is installed on a cluster the document does not define", role)
			continue
		}
		switch role {
		case "EdgeServer":
			cl.edge = s
		case "Registrar":
			cl.registrar = s
		case "WebServices":
			cl.web = s
		case "WacService":
			cl.wac = s
		}
	}
}

func (m *xmapper) installedOn(s *xnode) *xcluster {
	if id := s.attr("InstalledOn"); id != "" {
		return m.byKey[strings.ToLower(id)]
	}
	if on := s.child("InstalledOn"); on != nil {
		if id := on.child("ClusterId"); id != nil {
			return m.byKey[clusterIDKey(id)]
		}
	}
	return nil
}

// assemble turns the clusters into pools, Directors, edge pools and Office
// Web Apps servers of their sites, in document order.
func (m *xmapper) assemble() {
	for _, cl := range m.clusters {
		site := cl.site
		if site == nil {
			if cl.registrar == nil && cl.edge == nil && cl.wac == nil {
				continue
			}
			m.c.addf(cl.n.p, "xml-reference", "check the cluster's ClusterId SiteId", "cluster %s belongs to no central site of the document", cl.fqdn.V)
			continue
		}
		if cl.registrar != nil {
			m.pool(site, cl)
		}
		if cl.edge != nil {
			site.Edges = append(site.Edges, m.edgePool(cl))
		}
		if cl.wac != nil {
			m.wac(site, cl)
		}
	}
}

func (m *xmapper) pool(site *rawSite, cl *xcluster) {
	p := &rawPool{FQDN: cl.fqdn, Servers: cl.machines, P: cl.n.p}
	p.Standard = strings.EqualFold(cl.n.attr("IsSingleMachineOnly"), "true") && len(cl.machines.Items) == 1
	if cl.web != nil {
		if ws := cl.web.child("WebService"); ws != nil {
			if ext := ws.child("ExternalSettings"); ext != nil && ext.attr("Host") != "" {
				p.WebExt = m.val(ext.attr("Host"), ext.p)
			}
			if in := ws.child("InternalSettings"); in != nil && in.attr("Host") != "" {
				p.WebInt = m.val(in.attr("Host"), in.p)
			}
		}
	}
	rs := cl.registrar.child("RegistrarService")
	if rs != nil && strings.EqualFold(rs.attr("IsDirector"), "true") {
		site.Directors = append(site.Directors, p)
		return
	}
	site.Pools = append(site.Pools, p)
}

// edgePool maps an EdgeServer service: the cluster FQDN is the internal
// FQDN; the external ConfiguredFqdn of the AccessEdge, DataEdge and
// MediaRelayEdge ports are the access, webconf and av names.
func (m *xmapper) edgePool(cl *xcluster) *rawEdge {
	e := &rawEdge{FQDN: cl.fqdn, Servers: cl.machines, P: cl.n.p}
	if ports := cl.edge.child("Ports"); ports != nil {
		for _, pt := range ports.children("Port") {
			fqdn := pt.attr("ConfiguredFqdn")
			if fqdn == "" || !strings.EqualFold(pt.attr("InterfaceSide"), "External") {
				continue
			}
			var dst *sval
			switch strings.TrimPrefix(pt.attr("Owner"), "urn:component:") {
			case "AccessEdge":
				dst = &e.Access
			case "DataEdge":
				dst = &e.WebConf
			case "MediaRelayEdge":
				dst = &e.AV
			}
			if dst != nil && !dst.Set {
				*dst = m.val(fqdn, pt.p)
			}
		}
	}
	switch {
	case hardwareLB(cl.n) || hardwareLB(cl.edge):
		e.LB = sval{V: LoadBalancingHardware, P: cl.n.p, Set: true}
	case len(cl.machines.Items) > 1:
		e.LB = sval{V: LoadBalancingDNS, P: cl.n.p, Set: true}
	default:
		e.LB = sval{V: LoadBalancingNone, P: cl.n.p, Set: true}
	}
	return e
}

// hardwareLB reports whether an element (or one of its descendants, the
// ports apart) says the pool is behind a hardware load balancer: an
// attribute such as IsHardwareLoadBalanced="true", or a load balancer type of
// "Hardware".
func hardwareLB(n *xnode) bool {
	for _, a := range n.attrs {
		name, val := strings.ToLower(a.Name.Local), strings.ToLower(a.Value)
		if strings.Contains(name, "hardwareloadbalanc") && val == "true" ||
			strings.Contains(name, "loadbalanc") && strings.Contains(val, "hardware") {
			return true
		}
	}
	for _, k := range n.kids {
		if k.name != "Ports" && k.name != "Machines" && k.name != "Machine" && hardwareLB(k) {
			return true
		}
	}
	return false
}

// wac records an Office Web Apps Server: its host (from the discovery URL,
// else the cluster FQDN) joins the site's WAC list, and the first one found
// becomes office_web_apps unless the overlay names another. An external
// discovery URL, when the document has one, gives the published name.
func (m *xmapper) wac(site *rawSite, cl *xcluster) {
	host, ext := cl.fqdn.V, ""
	pos := cl.n.p
	if w := cl.wac.child("WacService"); w != nil {
		if h := hostOf(w.attr("DiscoveryUrl")); h != "" {
			host, pos = h, w.p
		}
		ext = hostOf(w.attr("ExternalDiscoveryUrl"))
	}
	site.WAC.Items = append(site.WAC.Items, m.val(host, pos))
	site.WAC.Set = true
	if !m.r.OWA.Set {
		if ext != "" {
			host = ext
		}
		m.r.OWA = m.val(host, pos)
	}
}
