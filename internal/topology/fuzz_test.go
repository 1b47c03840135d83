package topology_test

import (
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"

	"edgecert/examples"
	"edgecert/internal/topology"
)

// addSeeds adds every example and testdata file with one of the suffixes.
func addSeeds(f *testing.F, suffixes ...string) {
	has := func(name string) bool {
		for _, s := range suffixes {
			if strings.HasSuffix(name, s) {
				return true
			}
		}
		return false
	}
	_ = fs.WalkDir(examples.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && has(p) {
			data, _ := examples.FS.ReadFile(p)
			f.Add(data)
		}
		return nil
	})
	for _, dir := range []string{"testdata", "testdata/real"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !e.IsDir() && has(e.Name()) {
				data, _ := os.ReadFile(dir + "/" + e.Name())
				f.Add(data)
			}
		}
	}
}

// checkSimpleURLs holds for every accepted topology: every SIP domain has a
// meet URL and there is a dial-in URL (the document's, the overlay's or
// Topology Builder's default), and every warning is an R83 default that
// names a URL the topology has.
func checkSimpleURLs(t *testing.T, topo *topology.Topology) {
	for _, d := range topo.SIPDomains {
		if topo.SimpleURLs.Meet[d] == "" {
			t.Fatalf("SIP domain %s has no meet URL: %+v", d, topo.SimpleURLs)
		}
	}
	if topo.SimpleURLs.Dialin == "" {
		t.Fatalf("no dial-in URL: %+v", topo.SimpleURLs)
	}
	for _, w := range topo.Warnings {
		named := strings.Contains(w, topo.SimpleURLs.Dialin+";")
		for _, u := range topo.SimpleURLs.Meet {
			named = named || strings.Contains(w, u+";")
		}
		if !strings.HasPrefix(w, "R83: ") || !named {
			t.Fatalf("warning %q is not an R83 default naming a URL of %+v", w, topo.SimpleURLs)
		}
	}
}

// checkResult holds for every input: either a topology in lower case, or
// problems that match ErrInvalid and each have a position, a rule and a
// message; and the same input gives the same result again.
func checkResult(t *testing.T, data []byte, topo *topology.Topology, err error) {
	if err != nil {
		var ps topology.Problems
		if !errors.Is(err, topology.ErrInvalid) || !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error is not a non-empty Problems: %v", err)
		}
		for _, p := range ps {
			if p.Pos.File == "" || p.Pos.Line < 1 || p.Rule == "" || p.Msg == "" {
				t.Fatalf("problem without position, rule or message: %#v", p)
			}
		}
		return
	}
	for _, s := range topo.Sites {
		for _, e := range s.EdgePools {
			if e.FQDN != strings.ToLower(e.FQDN) || e.Access != strings.ToLower(e.Access) {
				t.Fatalf("edge pool names not in lower case: %+v", e)
			}
			if e.LoadBalancing == "" || e.ExternalIssuer == "" {
				t.Fatalf("defaults not filled in: %+v", e)
			}
		}
	}
	checkSimpleURLs(t, topo)
	again, err := topology.Parse("fuzz", data)
	if err != nil || !reflect.DeepEqual(again.Sites, topo.Sites) || !reflect.DeepEqual(again.Warnings, topo.Warnings) {
		t.Fatalf("a second parse differs: %v", err)
	}
}

func FuzzParseYAML(f *testing.F) {
	addSeeds(f, ".yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := topology.ParseYAML("fuzz", data)
		checkResult(t, data, topo, err)
	})
}

// smallNoURLs is a small Get-CsTopology -AsXml document without simple
// URLs: a Standard Edition server whose external web FQDN is its own.
const smallNoURLs = `<Topology><InternalDomains DefaultDomain="a.com"><InternalDomain Name="b.org"/></InternalDomains>` +
	`<Sites><CentralSite SiteId="1"><Name>S</Name></CentralSite></Sites>` +
	`<Clusters><Cluster Fqdn="se.a.com" IsSingleMachineOnly="true"><ClusterId SiteId="1" Number="1"/><Machine/></Cluster></Clusters>` +
	`<Services><Service><ServiceId RoleName="Registrar"/><InstalledOn><ClusterId SiteId="1" Number="1"/></InstalledOn></Service>` +
	`<Service><ServiceId RoleName="WebServices"/><InstalledOn><ClusterId SiteId="1" Number="1"/></InstalledOn>` +
	`<WebService><ExternalSettings Host="se.a.com"/></WebService></Service></Services></Topology>`

func FuzzParseXML(f *testing.F) {
	addSeeds(f, ".tbxml", ".xml")
	f.Add([]byte(smallNoURLs))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := topology.ParseXML("fuzz", data, nil, "")
		if err == nil && !topology.IsXML(data) {
			t.Fatalf("a document that is not XML was accepted")
		}
		checkResult(t, data, topo, err)
	})
}

// FuzzParseXMLWithOverlay reads a Topology Builder document with an
// overlay, so that Topology Builder's simple URL defaults meet the
// overlay's simple_urls (merged per SIP domain) and every other overlay key.
func FuzzParseXMLWithOverlay(f *testing.F) {
	doc, _ := os.ReadFile("testdata/real/rlevchenko-defaulttopology.xml")
	asxml, _ := os.ReadFile("testdata/asxml.xml")
	contoso, _ := examples.FS.ReadFile("contoso-sfb.tbxml")
	overlay, _ := examples.FS.ReadFile("contoso-overlay.yaml")
	f.Add(doc, []byte("simple_urls:\n  meet: {tenant.rlevchenko.com: https://lync.tenant.rlevchenko.com/meet}\n"))
	f.Add(doc, []byte("simple_urls: {dialin: https://dialin.tenant.rlevchenko.com, admin: https://admin.tenant.rlevchenko.com}\n"))
	f.Add(asxml, []byte("simple_urls: {meet: {litware.com: https://meet.litware.com}}\nmobility: true\n"))
	f.Add(contoso, overlay)
	// Small documents first reach the defaults and the merge in a short run.
	f.Add([]byte(smallNoURLs), []byte("simple_urls: {meet: {b.org: https://lync.b.org/meet}}\n"))
	f.Add([]byte(smallNoURLs), []byte("simple_urls: {dialin: https://dialin.a.com, admin: https://admin.a.com}\nmobility: true\n"))
	f.Fuzz(func(t *testing.T, data, ov []byte) {
		topo, err := topology.ParseXML("fuzz", data, ov, "overlay")
		if err != nil {
			var ps topology.Problems
			if !errors.Is(err, topology.ErrInvalid) || !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error is not a non-empty Problems: %v", err)
			}
			for _, p := range ps {
				if p.Pos.File == "" || p.Pos.Line < 1 || p.Rule == "" || p.Msg == "" {
					t.Fatalf("problem without position, rule or message: %#v", p)
				}
			}
			return
		}
		checkSimpleURLs(t, topo)
		again, err := topology.ParseXML("fuzz", data, ov, "overlay")
		if err != nil || !reflect.DeepEqual(again, topo) {
			t.Fatalf("a second parse differs: %v", err)
		}
	})
}
