package ca

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// preauthTopo: the pool inherits the site's operators, the edge pool has
// its own; its external certificate is public.
const preauthTopo = `version: 1
organization: {name: Contoso Ltd, country: US}
sip_domains: [contoso.com]
simple_urls:
  meet: {contoso.com: https://meet.contoso.com}
  dialin: https://dialin.contoso.com
sites:
  - name: Redmond
    operators: [lync-ops]
    pools:
      - fqdn: pool01.contoso.net
        servers: [fe01.contoso.net]
    edge_pools:
      - fqdn: lsedge.contoso.net
        servers: [edge01.contoso.net]
        access: sip.contoso.com
        webconf: webcon.contoso.com
        av: av.contoso.com
        operators: [edge-ops]
`

// TestACMEPreauthorized: off by default; once a template names a topology,
// a name of an internal certificate is pre-authorized for the groups that
// operate its servers only, never a public certificate's name or another
// group's; the grant is audited.
func TestACMEPreauthorized(t *testing.T) {
	e, dir := newCA(t, "", "p256")
	ctx := context.Background()
	ops := &Principal{Name: "dave", Groups: []string{"users", "lync-ops"}}
	edge := &Principal{Name: "erin", Groups: []string{"edge-ops"}}
	names := []string{"pool01.contoso.net", "FE01.contoso.net", "lsedge.contoso.net", "webcon.contoso.com", "other.contoso.net"}

	pre, err := e.ACMEPreauthorized(ctx, ops, "WebServer", names)
	if err != nil || slices.Contains(pre, true) {
		t.Fatalf("off by default: %v %v", pre, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "topo.yaml"), []byte(preauthTopo), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SetTemplate(dir, "WebServer", TemplateChange{ACMEPreauthorize: &ACMEPreauth{Topology: "topo.yaml"}}); err != nil {
		t.Fatal(err)
	}
	e.loadTemplates(true)
	for _, c := range []struct {
		name string
		p    *Principal
		want []bool
	}{
		{"the pool's operators (inherited from the site)", ops, []bool{true, true, false, false, false}},
		{"the edge pool's operators: its internal name, not its public ones", edge, []bool{false, false, true, false, false}},
		{"another group", &Principal{Name: "alice", Groups: []string{"users"}}, []bool{false, false, false, false, false}},
	} {
		pre, err := e.ACMEPreauthorized(ctx, c.p, "WebServer", names)
		if err != nil || !slices.Equal(pre, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, pre, err, c.want)
		}
	}
	audit, _ := e.AuditLog(ctx, 100)
	var got []string
	for _, a := range audit {
		if a.Action == "acme-preauthorize" {
			got = append(got, a.Actor+": "+a.Subject)
		}
	}
	if len(got) != 2 || !strings.Contains(strings.Join(got, "\n"), "dave: pool01.contoso.net (operators lync-ops), FE01.contoso.net (operators lync-ops)") {
		t.Errorf("audit: %q", got)
	}
}

// TestACMEPreauthorizeBadTopology: a topology that does not load is
// refused when set (the template file stays as it was) and, written by
// hand, makes the template a listed problem.
func TestACMEPreauthorizeBadTopology(t *testing.T) {
	_, dir := newCA(t, "", "p256")
	path := templatePath(dir, "WebServer")
	before, _ := os.ReadFile(path)
	for _, c := range []struct{ name, topo, want string }{
		{"missing file", "", "none.yaml"},
		{"invalid topology", "version: 1\nsites: 3\n", "bad.yaml:2:8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := "none.yaml"
			if c.topo != "" {
				file = "bad.yaml"
				os.WriteFile(filepath.Join(dir, file), []byte(c.topo), 0o600)
			}
			_, err := SetTemplate(dir, "WebServer", TemplateChange{ACMEPreauthorize: &ACMEPreauth{Topology: file}})
			if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want a bad request naming %s", err, c.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Fatal("the template file changed")
			}
			os.WriteFile(path, append(slices.Clone(before), []byte("acme_preauthorize: {topology: "+file+"}\n")...), 0o600)
			defer os.WriteFile(path, before, 0o600)
			_, problems, err := ListTemplates(dir)
			if err != nil || len(problems) != 1 || !strings.Contains(problems[0].Error(), c.want) {
				t.Fatalf("problems %v, %v", problems, err)
			}
		})
	}
}
