package cli

import "github.com/spf13/cobra"

// storeCommands returns the store command group. (Placeholder: replaced by the owner of this group.)
func storeCommands(env *Env) []*cobra.Command { return nil }
