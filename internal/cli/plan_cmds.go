package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"edgecert/internal/plan"
	"edgecert/internal/topology"
)

// planOptions are the flags of `edgecert plan`.
type planOptions struct {
	topology string
	overlay  string
	output   string
	explain  bool
}

// planCommands returns the plan command group.
func planCommands(env *Env) []*cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan -t TOPOLOGY [--overlay YAML] [-o table|json|yaml] [--explain]",
		Short: "Print every certificate a topology needs, with the rules behind each name",
		Long: `plan reads a topology (the YAML format, or a Topology Builder document with an
optional YAML overlay) and prints one entry per certificate to obtain: the edge
internal and external interfaces, the reverse proxy, and the Front End,
Standard Edition and Director servers, with subject, SANs, key usage, EKU,
key, issuer, template, friendly name and the servers it is installed on.

Every decision follows a rule of the Lync Server 2013 certificate documents;
--explain prints, for each name, the rule that put it there. Warnings flag
what is legal but risky, and, first, what the loader filled in: a Topology
Builder document without meet or dial-in simple URLs gets Topology Builder's
defaults (https://meet.<SIP domain>, https://dialin.<default SIP domain>);
the overlay's simple_urls set others. The output is the same, byte for byte,
on every run.

An invalid topology prints every problem on standard error, one per line,
and exits with status 2.`,
		Example: `  # the certificates of the single consolidated edge example
  edgecert plan -t examples/single-edge.yaml

  # why each name is in each certificate
  edgecert plan -t examples/reverse-proxy.yaml --explain

  # a Topology Builder document and the overlay that completes it, as JSON
  edgecert plan -t examples/contoso-sfb.tbxml --overlay examples/contoso-overlay.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runPlan(env, &o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.topology, "topology", "t", "", "topology file: YAML, .tbxml or Get-CsTopology -AsXml output (required)")
	f.StringVar(&o.overlay, "overlay", "", "YAML overlay adding what a Topology Builder document lacks")
	f.BoolVar(&o.explain, "explain", false, "print, for each name of each certificate, the rule that put it there")
	addOutputFlag(cmd, &o.output)
	_ = cmd.MarkFlagRequired("topology")
	return []*cobra.Command{cmd}
}

// runPlan loads the topology, plans it and prints the plan.
func runPlan(env *Env, o *planOptions) error {
	if err := checkFormat(o.output); err != nil {
		return err
	}
	p, err := loadPlan(env.Err, o.topology, o.overlay)
	if err != nil {
		return err
	}
	return render(env.Out, o.output, p, func(w io.Writer, width int) error {
		return plan.WriteTable(w, p, o.explain, width)
	})
}

// loadPlan loads a topology and plans it. Topology problems are printed on
// stderr, one per line, and returned as invalid input (exit 2).
func loadPlan(stderr io.Writer, path, overlay string) (*plan.Plan, error) {
	p, _, err := loadPlanNoting(stderr, path, overlay)
	return p, err
}

// loadPlanNoting is loadPlan that also returns the loader's warnings (what
// it filled in, such as Topology Builder's default simple URLs), for the
// commands that do not print the plan and so must print them themselves.
func loadPlanNoting(stderr io.Writer, path, overlay string) (*plan.Plan, []string, error) {
	t, err := topology.Load(path, overlay)
	if err == nil {
		var p *plan.Plan
		if p, err = plan.Build(t); err == nil {
			return p, t.Warnings, nil
		}
	}
	var ps topology.Problems
	if errors.As(err, &ps) {
		for _, pr := range ps {
			fmt.Fprintln(stderr, pr.String())
		}
		return nil, nil, invalidInput(fmt.Errorf("%w: %d problem(s) in %s: %w", topology.ErrInvalid, len(ps), path, errSilent))
	}
	return nil, nil, invalidInput(err)
}

// noteWarnings prints the loader's warnings on stderr, one per line.
func noteWarnings(stderr io.Writer, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
}
