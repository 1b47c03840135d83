package cli

import "github.com/spf13/cobra"

// caServeCommands returns the web-facing children of `edgecert ca`
// (serve, fetch-chain). (Placeholder: replaced by the owner of this file.)
func caServeCommands(env *Env) []*cobra.Command { return nil }
