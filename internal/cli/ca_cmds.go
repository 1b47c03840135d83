package cli

import "github.com/spf13/cobra"

// caCommands returns the ca command group. (Placeholder: replaced by the owner of this group.)
func caCommands(env *Env) []*cobra.Command { return nil }
