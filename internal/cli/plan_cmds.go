package cli

import "github.com/spf13/cobra"

// planCommands returns the plan command group. (Placeholder: replaced by the owner of this group.)
func planCommands(env *Env) []*cobra.Command { return nil }
