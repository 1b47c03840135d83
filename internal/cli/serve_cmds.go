package cli

import "github.com/spf13/cobra"

// serveCommands returns the serve command group. (Placeholder: replaced by the owner of this group.)
func serveCommands(env *Env) []*cobra.Command { return nil }
