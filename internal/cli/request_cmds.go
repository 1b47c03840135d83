package cli

import "github.com/spf13/cobra"

// requestCommands returns the request command group. (Placeholder: replaced by the owner of this group.)
func requestCommands(env *Env) []*cobra.Command { return nil }
