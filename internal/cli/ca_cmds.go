package cli

import "github.com/spf13/cobra"

// caCommands returns `edgecert ca` with its children, including those of
// serve_cmds.go. (Placeholder: replaced by the owner of this file.)
func caCommands(env *Env) []*cobra.Command {
	ca := &cobra.Command{Use: "ca", Short: "The internal certification authority"}
	ca.AddCommand(caServeCommands(env)...)
	return []*cobra.Command{ca}
}
