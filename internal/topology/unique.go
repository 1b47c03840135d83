package topology

import "fmt"

// group is one pool of servers (Front End pool, Director, edge pool or
// reverse proxy) as the uniqueness checks see it.
type group struct {
	what    string // "pool pool01.contoso.net", "reverse proxy rp1", …
	fqdn    sval   // the pool FQDN (unset for a reverse proxy)
	servers slist
	ext     []sval // external names: access/webconf/av, or web_external
	webInt  sval
	edge    bool
}

type claim struct {
	group int
	what  string
	p     Pos
}

func (c claim) String() string { return fmt.Sprintf("%s (line %d)", c.what, c.p.Line) }

func (v *validator) groups() []group {
	var gs []group
	for _, s := range v.r.Sites {
		for _, p := range s.Pools {
			gs = append(gs, group{what: "pool " + p.FQDN.V, fqdn: p.FQDN, servers: p.Servers, ext: optional(p.WebExt), webInt: p.WebInt})
		}
		for _, p := range s.Directors {
			gs = append(gs, group{what: "director " + p.FQDN.V, fqdn: p.FQDN, servers: p.Servers, ext: optional(p.WebExt), webInt: p.WebInt})
		}
		for _, e := range s.Edges {
			gs = append(gs, group{what: "edge pool " + e.FQDN.V, fqdn: e.FQDN, servers: e.Servers, ext: optional(e.Access, e.WebConf, e.AV), edge: true})
		}
		for _, p := range s.RPs {
			gs = append(gs, group{what: "reverse proxy " + p.Name.V, servers: p.Servers})
		}
	}
	return gs
}

func optional(vals ...sval) []sval {
	var out []sval
	for _, s := range vals {
		if s.Set && s.V != "" {
			out = append(out, s)
		}
	}
	return out
}

// uniqueness reports duplicate FQDNs and servers listed in two pools.
func (v *validator) uniqueness() {
	gs := v.groups()
	ids := make(map[string]claim, len(gs))
	for i, g := range gs {
		if !g.fqdn.Set || g.fqdn.V == "" {
			continue
		}
		if c, dup := ids[g.fqdn.V]; dup {
			v.add(g.fqdn.P, "duplicate-fqdn", "give each pool its own FQDN", "%s is already the FQDN of %s", g.fqdn.V, c)
			continue
		}
		ids[g.fqdn.V] = claim{i, g.what, g.fqdn.P}
	}
	servers := v.uniqueServers(gs, ids)
	v.uniqueExternal(gs, ids, servers)
}

func (v *validator) uniqueServers(gs []group, ids map[string]claim) map[string]claim {
	servers := make(map[string]claim, 4*len(gs))
	for i, g := range gs {
		for _, s := range g.servers.Items {
			if c, dup := servers[s.V]; dup {
				if c.group == i {
					v.add(s.P, "duplicate-fqdn", "list each server once", "server %s is listed twice in %s", s.V, g.what)
				} else {
					v.add(s.P, "server-in-two-pools", "list each server in one pool only", "server %s of %s is also a server of %s", s.V, g.what, c)
				}
				continue
			}
			servers[s.V] = claim{i, g.what, s.P}
			c, isPool := ids[s.V]
			switch {
			case isPool && c.group != i:
				v.add(s.P, "duplicate-fqdn", "give the server its own FQDN", "server %s of %s has the FQDN of %s", s.V, g.what, c)
			case isPool && len(g.servers.Items) > 1:
				v.add(s.P, "duplicate-fqdn", "only a single-server pool may share its FQDN with its server", "server %s has the FQDN of its own pool, which has %d servers", s.V, len(g.servers.Items))
			}
		}
	}
	return servers
}

// uniqueExternal checks the external names (edge access/webconf/av, which
// one edge pool may share between its services, and web_external) and the
// internal web FQDNs.
func (v *validator) uniqueExternal(gs []group, ids, servers map[string]claim) {
	ext := make(map[string]claim, 3*len(gs))
	webInt := map[string]claim{}
	for i, g := range gs {
		for _, n := range g.ext {
			c, isPool := ids[n.V]
			v.notClaimed(n, i, g, ext, servers, isPool)
			if isPool && (c.group != i || g.edge) {
				v.add(n.P, "duplicate-fqdn", "use an external name of its own", "external name %s is the FQDN of %s", n.V, c)
			}
			if _, ok := ext[n.V]; !ok {
				ext[n.V] = claim{i, g.what, n.P}
			}
		}
		if n := g.webInt; n.Set && n.V != "" {
			c, isPool := ids[n.V]
			v.notClaimed(n, i, g, webInt, servers, isPool)
			if isPool && c.group != i {
				v.add(n.P, "duplicate-fqdn", "use an internal web name of its own", "web_internal %s is the FQDN of %s", n.V, c)
			}
			if _, ok := webInt[n.V]; !ok {
				webInt[n.V] = claim{i, g.what, n.P}
			}
		}
	}
}

// notClaimed reports n when another group already uses it in seen, or when
// it is a server's FQDN. A name that is also a pool FQDN (isPool) is left to
// the pool FQDN check: a Standard Edition server has its pool's FQDN, and
// Topology Builder proposes that FQDN as its web FQDNs, which is legal; any
// other pool's FQDN is reported there once.
func (v *validator) notClaimed(n sval, i int, g group, seen, servers map[string]claim, isPool bool) {
	if c, dup := seen[n.V]; dup && c.group != i {
		v.add(n.P, "duplicate-fqdn", "give each pool its own name (R71: a Director's external web FQDN differs from the pool's)", "%s of %s is already used by %s", n.V, g.what, c)
	}
	if c, isServer := servers[n.V]; isServer && !isPool {
		v.add(n.P, "duplicate-fqdn", "use a name of its own", "%s of %s is the FQDN of a server of %s", n.V, g.what, c.what)
	}
}
