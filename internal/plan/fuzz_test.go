package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// FuzzPlan feeds topology documents (seeded with every example) through the
// loader and, when they load, through the planner, and checks the plan's
// invariants: no panic, the subject first among SANs (M5), no duplicate SAN
// (M1), no wildcard on an edge certificate (R22), an exportable key on every
// shared certificate (R10), unique friendly names per server (R9), warnings
// that start with a rule id, and the same output on a second run.
func FuzzPlan(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil && !strings.Contains(file, "overlay") {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tp, err := topology.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		p, err := Build(tp)
		if err != nil {
			return
		}
		checkInvariants(t, p)
		again, err := Build(tp)
		if err != nil || !bytes.Equal(renderJSON(t, p), renderJSON(t, again)) {
			t.Fatalf("second plan differs (err %v)", err)
		}
	})
}

func checkInvariants(t *testing.T, p *Plan) {
	t.Helper()
	for _, c := range p.Certificates {
		if len(c.SANs) == 0 || c.SANs[0] != c.Subject.CommonName || isWildcard(c.Subject.CommonName) {
			t.Errorf("%s: subject %q, SANs %v", c.ID, c.Subject.CommonName, c.SANs)
		}
		seen := map[string]bool{}
		for _, s := range c.SANs {
			if seen[strings.ToLower(s)] {
				t.Errorf("%s: duplicate SAN %s", c.ID, s)
			}
			seen[strings.ToLower(s)] = true
		}
		if strings.HasPrefix(c.Kind, "edge") && slices.ContainsFunc(c.SANs, isWildcard) {
			t.Errorf("%s: wildcard on an edge certificate", c.ID)
		}
		if len(c.Servers) > 1 && !c.Key.Exportable {
			t.Errorf("%s: shared but not exportable", c.ID)
		}
	}
	checkFriendlyNames(t, p)
	for _, w := range p.Warnings {
		if w == "" || (w[0] != 'R' && w[0] != 'M') || !strings.Contains(w, ": ") {
			t.Errorf("warning without a rule id: %q", w)
		}
	}
}

func TestInvariantsOnExamples(t *testing.T) {
	for _, ex := range goldenExamples(t) {
		checkInvariants(t, loadExample(t, ex))
	}
}
