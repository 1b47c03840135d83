package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"edgecert/internal/plan"
	"edgecert/internal/table"
)

// rulesCommands returns the rules command: what a rule id (R33, M6…) in
// plan --explain, verify or a topology problem means.
func rulesCommands(env *Env) []*cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "rules [ID]",
		Short: "Explain the rule ids (R33, M6…) that plan, verify and topology problems cite",
		Long: `rules lists every rule id with its first line, or shows one rule in full
with the documents it comes from. R rules come from the Lync Server 2013
documents, L notes where they disagree, M says how edgecert resolves each
disagreement. docs/rules.md holds the same text.`,
		Example: `  edgecert rules
  edgecert rules R33
  edgecert rules m6 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			if len(args) == 0 {
				rules := plan.Rules()
				return render(env.Out, output, rules, func(w io.Writer, width int) error {
					t := table.Table{Header: []string{"ID", "RULE"}, Width: width}
					for _, r := range rules {
						t.Rows = append(t.Rows, table.Row(r.ID, r.Summary()))
					}
					return t.Write(w)
				})
			}
			r, ok := plan.RuleByID(args[0])
			if !ok {
				return invalidInput(fmt.Errorf("no rule %q: ids are R1-R94, L1-L14 and M1-M12 (edgecert rules lists them)", args[0]))
			}
			return render(env.Out, output, r, func(w io.Writer, width int) error {
				fmt.Fprintf(w, "%s (%s)\n\n", r.ID, r.Section)
				for _, line := range strings.Split(r.Text, "\n") {
					for _, l := range wrapText(line, width) {
						fmt.Fprintln(w, l)
					}
				}
				if r.Sources != "" {
					fmt.Fprintf(w, "\nSources: %s\n", r.Sources)
				}
				return nil
			})
		},
	}
	addOutputFlag(cmd, &output)
	return []*cobra.Command{cmd}
}

// wrapText wraps a paragraph to width (none when width is 0).
func wrapText(s string, width int) []string {
	if width <= 0 {
		return []string{table.Cell(s)}
	}
	return table.Wrap(table.Cell(s), width)
}
