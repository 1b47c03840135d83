package cli

import "github.com/spf13/cobra"

// docsCommands returns the docs command group. (Placeholder: replaced by the owner of this group.)
func docsCommands(env *Env) []*cobra.Command { return nil }
