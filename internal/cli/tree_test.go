package cli

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/spf13/cobra"
)

var updateReference = flag.Bool("update-reference", false, "rewrite docs/cli.md from the command tree")

// TestEveryCommandHasHelpAndExamples: every visible command explains itself
// with a short description, and every runnable one shows an example.
func TestEveryCommandHasHelpAndExamples(t *testing.T) {
	root := NewRootCmd(&Env{})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Short == "" {
				t.Errorf("%s has no short description", c.CommandPath())
			}
			if c.Runnable() && c.Example == "" {
				t.Errorf("%s has no example in its --help", c.CommandPath())
			}
		})
		for _, ch := range c.Commands() {
			walk(ch)
		}
	}
	walk(root)
}

// TestContractCommandsExist: the commands of the CLI contract
// (shared/spec/cli.md) are all in the tree.
func TestContractCommandsExist(t *testing.T) {
	root := NewRootCmd(&Env{})
	for _, path := range [][]string{
		{"plan"}, {"request", "new"}, {"request", "show"}, {"request", "submit"}, {"request", "retrieve"},
		{"store", "import"}, {"store", "list"}, {"store", "show"}, {"store", "export"}, {"store", "export-chain"}, {"store", "delete"},
		{"assign"}, {"ca", "init"}, {"ca", "serve"}, {"ca", "issue"}, {"ca", "template", "list"}, {"ca", "template", "show"},
		{"ca", "template", "set"}, {"ca", "user", "add"}, {"ca", "user", "token"}, {"ca", "user", "remove"}, {"ca", "user", "disable"}, {"ca", "user", "acme-eab"}, {"ca", "chain"}, {"ca", "certs", "list"},
		{"ca", "pending", "list"}, {"ca", "pending", "approve"}, {"ca", "pending", "deny"}, {"ca", "revoke"}, {"ca", "crl"},
		{"ca", "fetch-chain"}, {"apply"}, {"status"}, {"verify"}, {"renew"}, {"proxy", "nginx"}, {"demo"}, {"bench", "issue"},
	} {
		c, rest, err := root.Find(path)
		if err != nil || len(rest) != 0 || c.Name() != path[len(path)-1] {
			t.Errorf("command %v missing from the tree", path)
		}
	}
}

// TestCLIReferenceUpToDate: docs/cli.md is what the command tree generates
// (regenerate with `go test ./internal/cli -run Reference -update-reference`).
func TestCLIReferenceUpToDate(t *testing.T) {
	var b bytes.Buffer
	writeReference(&b, NewRootCmd(&Env{}))
	const path = "../../docs/cli.md"
	if *updateReference {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatalf("docs/cli.md is out of date: run `go run ./cmd/edgecert docs --out docs/cli.md`")
	}
}
