package topology

// FindPool returns the Front End pool or Director whose FQDN is fqdn (lower
// case), with its site, or nil.
func (t *Topology) FindPool(fqdn string) (*Pool, *Site) {
	for i := range t.Sites {
		s := &t.Sites[i]
		for j := range s.Pools {
			if s.Pools[j].FQDN == fqdn {
				return &s.Pools[j], s
			}
		}
		for j := range s.Directors {
			if s.Directors[j].FQDN == fqdn {
				return &s.Directors[j], s
			}
		}
	}
	return nil, nil
}

// FindEdgePool returns the edge pool whose FQDN is fqdn, with its site, or nil.
func (t *Topology) FindEdgePool(fqdn string) (*EdgePool, *Site) {
	for i := range t.Sites {
		s := &t.Sites[i]
		for j := range s.EdgePools {
			if s.EdgePools[j].FQDN == fqdn {
				return &s.EdgePools[j], s
			}
		}
	}
	return nil, nil
}

// IsDirector reports whether fqdn is a Director pool of the topology.
func (t *Topology) IsDirector(fqdn string) bool {
	for _, s := range t.Sites {
		for _, d := range s.Directors {
			if d.FQDN == fqdn {
				return true
			}
		}
	}
	return false
}
