package cli

import "github.com/spf13/cobra"

// benchCommands returns the bench command group. (Placeholder: replaced by the owner of this group.)
func benchCommands(env *Env) []*cobra.Command { return nil }
