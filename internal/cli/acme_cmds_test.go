package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"edgecert/internal/apply"
	"edgecert/internal/plan"
	"edgecert/internal/store"
)

// --on-change runs once per server of each changed certificate, with the
// certificate and server in its environment, and reports a failing run
// without stopping the others.
func TestRunOnChange(t *testing.T) {
	dir := t.TempDir()
	ws, err := apply.OpenWorkspace(filepath.Join(dir, "ws"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{Certificates: []plan.Certificate{
		{ID: "edge-external/lsedge.contoso.net", Servers: []string{"edge01.contoso.net", "edge02.contoso.net"}, RequestOn: "edge01.contoso.net"},
		{ID: "reverse-proxy/rp", Servers: []string{"rp01.contoso.net"}, RequestOn: "rp01.contoso.net"},
	}}
	log := filepath.Join(dir, "log")
	var errw bytes.Buffer
	env := &Env{Streams: Streams{Out: &bytes.Buffer{}, Err: &errw}}
	cmd := `echo "$EDGECERT_CERTIFICATE $EDGECERT_SERVER" >> ` + log + `; [ "$EDGECERT_SERVER" != edge02.contoso.net ]`
	err = runOnChange(context.Background(), env, cmd, p, ws, []string{"edge-external/lsedge.contoso.net"})
	if err == nil || !strings.Contains(err.Error(), "--on-change for edge-external/lsedge.contoso.net on edge02.contoso.net") {
		t.Errorf("got %v, want the failing server named", err)
	}
	b, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(lines)
	want := []string{"edge-external/lsedge.contoso.net edge01.contoso.net", "edge-external/lsedge.contoso.net edge02.contoso.net"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("ran for %q, want %q (the unchanged certificate's servers not at all)", lines, want)
	}
}
