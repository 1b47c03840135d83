package topology

import (
	"cmp"
	"fmt"
	"slices"
)

// The loaders decode into these positioned values; validation runs on them
// (so that every problem names the place it comes from, whether a YAML file,
// a Topology Builder document or an overlay), and build turns them into a
// Topology.

// sval is a string read from a file, with where it was read.
type sval struct {
	V   string
	P   Pos
	Set bool
	Bad bool // given, but of the wrong type (already reported)
}

// bval is a boolean read from a file.
type bval struct {
	V   bool
	P   Pos
	Set bool
}

// ival is an integer read from a file.
type ival struct {
	V   int
	P   Pos
	Set bool
	Bad bool
}

// slist is a list of strings read from a file.
type slist struct {
	Items []sval
	P     Pos
	Set   bool
	Bad   bool
}

func (l slist) values() []string {
	out := make([]string, len(l.Items))
	for i, it := range l.Items {
		out[i] = it.V
	}
	return out
}

type rawOrg struct {
	Name, Unit, Locality, State, Country sval
}

type rawMeet struct {
	Domain sval
	URL    sval
}

type rawTopo struct {
	P          Pos // where the document starts
	Version    ival
	Org        rawOrg
	SIPDomains slist
	SimpleP    Pos // simple_urls (or SimpleUrlConfiguration)
	Meet       []rawMeet
	MeetP      Pos
	Dialin     sval
	Admin      sval
	Mobility   bval
	AOL        bval
	XMPP       slist
	OWA        sval
	KeyP       Pos
	KeyAlg     sval
	KeyBits    ival
	Sites      []*rawSite
	// EdgeSettings are an overlay's per-edge-pool settings, keyed by FQDN.
	EdgeSettings []*rawEdge

	// XML is set for a Topology Builder document; NoMeet and NoDialin when
	// it has no Meet, or no Dialin, simple URL (Topology Builder's defaults
	// apply).
	XML, NoMeet, NoDialin bool

	// ACME is the acme: block (nil: none).
	ACME *rawACME
}

type rawSite struct {
	Name      sval
	P         Pos
	Pools     []*rawPool
	Directors []*rawPool
	Edges     []*rawEdge
	RPs       []*rawRP
	WAC       slist
	Operators slist
}

type rawPool struct {
	FQDN     sval
	Servers  slist
	WebInt   sval
	WebExt   sval
	P        Pos
	Standard bool
	// Operators names the CA user groups that operate the pool.
	Operators slist
}

type rawEdge struct {
	FQDN    sval
	Servers slist
	LB      sval
	Access  sval
	WebConf sval
	AV      sval
	SepAV   bval
	Issuer  sval
	P       Pos
	// Operators names the CA user groups that operate the edge pool.
	Operators slist
}

type rawRP struct {
	Name      sval
	Servers   slist
	Publishes slist
	Cert      sval
	Combine   sval
	Issuer    sval
	P         Pos
	// Operators names the CA user groups that operate the proxy.
	Operators slist
}

// collector gathers problems and warnings; files lists the files in report
// order.
type collector struct {
	ps       Problems
	files    []string
	warnings []string
}

// warn records a warning; the text starts with its rule id ("R83: …").
func (c *collector) warn(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

func (c *collector) add(p Pos, rule, msg, fix string) {
	c.ps = append(c.ps, Problem{Pos: p, Rule: rule, Msg: msg, Fix: fix})
}

func (c *collector) addf(p Pos, rule, fix, format string, args ...any) {
	c.add(p, rule, fmt.Sprintf(format, args...), fix)
}

// sorted returns the problems in file order: by file (in the order the
// files were read), line and column; problems at one place keep their order.
func (c *collector) sorted() Problems {
	rank := func(f string) int {
		if i := slices.Index(c.files, f); i >= 0 {
			return i
		}
		return len(c.files)
	}
	ps := slices.Clone(c.ps)
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(rank(a.Pos.File), rank(b.Pos.File)),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
	return ps
}
