package apply_test

import (
	"context"
	"strings"
	"testing"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
)

// A dry run with an ACME CA says what it would order (and the clientAuth
// the CA will not include), contacts nothing and writes no outbox.
func TestDryRunACME(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "edge-pool-hlb-publicim.yaml"), applytest.Options{})
	ca := &countingCA{}
	o := e.Options()
	o.PublicCA, o.DryRun = ca, true
	var msgs []string
	o.Progress = func(ev apply.Event) { msgs = append(msgs, string(ev.Status)+" "+ev.Message) }
	if _, err := apply.Run(context.Background(), e.Plan, e.Workspace, o); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(msgs, "\n")
	if !strings.Contains(all, "planned order from the ACME CA: ") || strings.Contains(all, "wait for the public CA") {
		t.Errorf("the dry run does not say it orders from the ACME CA:\n%s", all)
	}
	if !strings.Contains(all, "warning the plan asks for clientAuth") {
		t.Errorf("no clientAuth warning for the public IM edge certificate:\n%s", all)
	}
	if ca.calls.Load() != 0 {
		t.Error("a dry run contacted the CA")
	}
}
