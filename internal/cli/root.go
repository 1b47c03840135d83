// Package cli is edgecert's command tree: one file per command group, each
// with an options struct and a run function, and the single place where
// errors become exit codes (0 done, 1 failure, 2 usage or invalid input,
// 3 verification found problems, 4 done as far as possible and waiting on
// someone else).
//
// It is the only package that imports cobra.
package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"edgecert/internal/caclient"
)

// Exit codes of the contract (shared/spec/cli.md).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	ExitVerify  = 3
	ExitWaiting = 4 // done as far as possible, waiting on someone else
)

// Streams are the process's standard streams, injected so that commands can
// be run in tests without a subprocess.
type Streams struct {
	In    io.Reader
	Out   io.Writer
	Err   io.Writer
	InTTY bool // standard input is a terminal (prompts allowed)
	TTY   bool // standard output is a terminal (progress, colours)
}

// StdStreams returns the process's own streams.
func StdStreams() Streams {
	return Streams{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		InTTY: term.IsTerminal(int(os.Stdin.Fd())),
		TTY:   term.IsTerminal(int(os.Stdout.Fd())),
	}
}

// Env is what every command receives: streams, clock and randomness.
// Library packages get the clock and randomness passed in from here.
type Env struct {
	Streams
	Now  func() time.Time
	Rand io.Reader
	Ctx  context.Context
}

// exitError carries an exit code chosen by a command for an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// invalidInput marks err as bad input from the user (exit 2).
func invalidInput(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitUsage, err: err}
}

// errVerifyFailed is returned (wrapped) when a check ran and found problems (exit 3).
var errVerifyFailed = errors.New("verification found problems")

// errSilent means the command already reported its failure on stderr.
var errSilent = errors.New("")

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errVerifyFailed):
		return ExitVerify
	case isCobraUsageError(err):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// isCobraUsageError recognises the argument and command errors cobra returns
// without a hook of its own.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "required flag", "unknown flag", "unknown shorthand", "invalid argument", "if any flags in the group", "flag needs an argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// Main runs edgecert with args and returns the exit code.
func Main(args []string, s Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Streams: s, Now: time.Now, Rand: rand.Reader, Ctx: ctx}
	root := NewRootCmd(env)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := unknownSubcommand(root, args)
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	var pin *caclient.PinMismatchError
	switch {
	case errors.As(err, &pin):
		fmt.Fprintf(s.Err, "edgecert: error: %s\n", pinMismatchMessage(pin))
	case err != nil && !errors.Is(err, errSilent) && err.Error() != "":
		fmt.Fprintf(s.Err, "edgecert: error: %s\n", printableLines(err.Error()))
	}
	return ExitCode(err)
}

// unknownSubcommand returns a usage error when args name a command group
// (store, ca, …) followed by a word that is none of its subcommands: cobra
// would print the group's help and succeed, or complain about a flag of
// the subcommand the user meant.
func unknownSubcommand(root *cobra.Command, args []string) error {
	c, rest, _ := root.Find(args) // its error is the root's unknown command, made here in one line
	if c == nil || c.Runnable() || !c.HasSubCommands() {
		return nil
	}
	word := ""
	for _, a := range rest {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			word = a
			break
		}
		if a == "-h" || a == "--help" {
			return nil
		}
	}
	if word == "" {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", word, c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	if s := c.SuggestionsFor(word); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &exitError{code: ExitUsage, err: fmt.Errorf("%s (see '%s --help')", msg, c.CommandPath())}
}

// NewRootCmd builds the whole command tree.
func NewRootCmd(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "edgecert",
		Short: "Certificates for Lync Server 2013 edge deployments, from topology to verified TLS",
		Long: `edgecert takes an edge deployment from a description of its topology to
certificates that are issued, installed, assigned and verified on every server:
the edge internal and external interfaces, the reverse HTTP proxy and the
internal servers, following the Lync Server 2013 certificate rules.`,
		Example: `  # run the whole procedure on the bundled example, in a temporary directory
  edgecert demo

  # print the certificates a topology needs
  edgecert plan -t examples/single-edge.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("edgecert {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: ExitUsage, err: fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	for _, add := range commandGroups {
		root.AddCommand(add(env)...)
	}
	return root
}

// version is the module version and VCS commit the binary was built from
// (its build information), e.g. "(devel) commit 3c6f7e9a1b2c (modified)".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown build)"
	}
	return formatVersion(bi)
}

func formatVersion(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified, at string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			at = s.Value
		}
	}
	if rev == "" {
		return v + " commit unknown (built without version control information)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v += " commit " + rev
	if at != "" {
		v += " of " + at
	}
	if modified == "true" {
		v += " (modified)"
	}
	return v + ", " + bi.GoVersion
}

// commandGroups lists the constructors of every top-level command group.
// Each group lives in its own file.
var commandGroups = []func(*Env) []*cobra.Command{
	planCommands,
	requestCommands,
	storeCommands,
	caCommands,
	applyCommands,
	benchCommands,
	windowsCommands,
	rulesCommands,
	docsCommands,
}
