package topology_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"edgecert/internal/topology"
)

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	overlay := filepath.Join(dir, "extra.yaml")
	if err := os.WriteFile(overlay, []byte("organization: {name: Fabrikam}\nedge_pools: [{fqdn: lsedge.contoso.net, separate_av_certificate: true}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Load("../../examples/edge-pool-dns.yaml", overlay)
	if err != nil {
		t.Fatal(err)
	}
	if topo.Organization.Name != "Fabrikam" || !topo.Sites[0].EdgePools[0].SeparateAVCertificate || topo.Overlay != overlay {
		t.Errorf("overlay on a YAML topology not applied: %+v", topo)
	}
	topo, err = topology.Load("../../examples/contoso-sfb.tbxml", "")
	if err != nil || topo.Sites[0].EdgePools[0].FQDN != "edgepool.contoso.com" {
		t.Fatalf("Load of the sample: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := topology.Load(filepath.Join(t.TempDir(), "none.yaml"), "")
	if err == nil || errors.Is(err, topology.ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file gives %v, want a not-exist error that is not ErrInvalid", err)
	}
	_, err = topology.Load("../../examples/demo.yaml", filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing overlay gives %v", err)
	}
}

func TestProblemString(t *testing.T) {
	p := topology.Problem{Pos: topology.Pos{File: "t.yaml", Line: 3, Col: 7}, Rule: "R84", Msg: "simple URL carries a port", Fix: "remove the port"}
	if got, want := p.String(), "t.yaml:3:7: [R84] simple URL carries a port; remove the port"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
