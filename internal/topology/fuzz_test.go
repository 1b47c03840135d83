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
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if !e.IsDir() && has(e.Name()) {
			data, _ := os.ReadFile("testdata/" + e.Name())
			f.Add(data)
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
	again, err := topology.Parse("fuzz", data)
	if err != nil || !reflect.DeepEqual(again.Sites, topo.Sites) {
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

func FuzzParseXML(f *testing.F) {
	addSeeds(f, ".tbxml", ".xml")
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := topology.ParseXML("fuzz", data, nil, "")
		if err == nil && !topology.IsXML(data) {
			t.Fatalf("a document that is not XML was accepted")
		}
		checkResult(t, data, topo, err)
	})
}
