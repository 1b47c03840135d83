package cli

import "github.com/spf13/cobra"

// applyCommands returns the apply command group. (Placeholder: replaced by the owner of this group.)
func applyCommands(env *Env) []*cobra.Command { return nil }
