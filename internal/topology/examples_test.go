package topology_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"edgecert/examples"
	"edgecert/internal/topology"
)

// TestExamplesLoad loads every example topology of examples/ (the Topology
// Builder sample with its overlay) and expects no problem.
func TestExamplesLoad(t *testing.T) {
	names, err := fs.Glob(examples.FS, "*")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, name := range names {
		if name == "contoso-overlay.yaml" || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".tbxml")) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := fs.ReadFile(examples.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			var overlay []byte
			overlayName := ""
			if path.Ext(name) == ".tbxml" {
				overlayName = "contoso-overlay.yaml"
				if overlay, err = fs.ReadFile(examples.FS, overlayName); err != nil {
					t.Fatal(err)
				}
			}
			topo, err := topology.ParseWithOverlay(name, data, overlayName, overlay)
			if err != nil {
				t.Fatalf("example does not load:\n%v", err)
			}
			if len(topo.Sites) == 0 || len(topo.SIPDomains) == 0 {
				t.Errorf("example loaded empty: %+v", topo)
			}
			head := string(data[:min(len(data), 200)])
			if strings.HasSuffix(name, ".yaml") && !strings.HasPrefix(head, "# ") {
				t.Errorf("example has no comment header naming its scenario")
			}
		})
		seen++
	}
	if seen < 9 {
		t.Errorf("only %d examples found, want at least 9", seen)
	}
}
