package cli

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"edgecert/internal/atomicfile"
)

// docsCommands returns the hidden `docs` command that writes the CLI
// reference (docs/cli.md) from the command tree, so that the reference
// cannot drift from the code.
func docsCommands(env *Env) []*cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:    "docs",
		Short:  "Write the CLI reference in Markdown",
		Hidden: true,
		Args:   cobra.NoArgs,
		Example: `  # regenerate the reference kept in the repository
  edgecert docs --out docs/cli.md`,
		RunE: func(c *cobra.Command, _ []string) error {
			var b bytes.Buffer
			writeReference(&b, c.Root())
			if out == "" || out == "-" {
				_, err := env.Out.Write(b.Bytes())
				return err
			}
			return atomicfile.Write(out, b.Bytes(), 0o644)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write (default standard output)")
	return []*cobra.Command{cmd}
}

// writeReference renders every visible command of the tree, depth first.
func writeReference(w io.Writer, root *cobra.Command) {
	fmt.Fprintf(w, "# edgecert command reference\n\n")
	fmt.Fprintf(w, "Generated from the command tree by `edgecert docs --out docs/cli.md`; do not edit by hand.\n\n")
	fmt.Fprintf(w, "Exit codes: 0 done, 1 failure, 2 usage or invalid input (an unknown command too), 3 verification found problems, 4 done as far as possible and waiting on someone else (a public CA's answer, an approval).\n\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		writeCommand(w, c)
		children := c.Commands()
		sort.Slice(children, func(i, j int) bool { return children[i].Name() < children[j].Name() })
		for _, ch := range children {
			walk(ch)
		}
	}
	walk(root)
}

func writeCommand(w io.Writer, c *cobra.Command) {
	fmt.Fprintf(w, "## %s\n\n%s\n\n", c.CommandPath(), c.Short)
	if c.Long != "" && c.Long != c.Short {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(c.Long))
	}
	if c.Runnable() {
		fmt.Fprintf(w, "```\n%s\n```\n\n", c.UseLine())
	}
	if c.Example != "" {
		fmt.Fprintf(w, "Examples:\n\n```sh\n%s\n```\n\n", strings.TrimRight(c.Example, "\n"))
	}
	var flags []string
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + ", " + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
			def = fmt.Sprintf(" (default `%s`)", f.DefValue)
		}
		flags = append(flags, fmt.Sprintf("| `%s` | %s%s |", name, strings.ReplaceAll(f.Usage, "|", "\\|"), def))
	})
	if len(flags) > 0 {
		fmt.Fprintf(w, "| flag | meaning |\n|---|---|\n%s\n\n", strings.Join(flags, "\n"))
	}
}
