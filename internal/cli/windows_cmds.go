package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"edgecert/internal/atomicfile"
	"edgecert/internal/plan"
	"edgecert/internal/verify"
	"edgecert/internal/windows"
)

// windowsCommands returns export, the hand-off to the Windows servers.
func windowsCommands(env *Env) []*cobra.Command {
	export := &cobra.Command{
		Use:   "export",
		Short: "Files for the Windows servers themselves",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	export.AddCommand(newSnapshotScriptCmd(env))
	return []*cobra.Command{export}
}

func newSnapshotScriptCmd(env *Env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "snapshot-script",
		Short: "Write Collect-EdgecertSnapshot.ps1, which records what a Windows server holds",
		Long: `snapshot-script writes Collect-EdgecertSnapshot.ps1. Run it on each Lync
Server or Skype for Business server (Windows PowerShell 4.0 or 5.1, elevated):
it only reads, and writes one JSON file with the server's FQDN, the
certificates of its LocalMachine Root, CA (intermediate) and My (personal)
stores with whether each private key is present and exportable, and the
Get-CsCertificate assignments. Bring the files back and check them against
the plan with edgecert verify --snapshot.`,
		Example: `  edgecert export snapshot-script --out Collect-EdgecertSnapshot.ps1
  # on each server, in an elevated Lync Server Management Shell:
  #   .\Collect-EdgecertSnapshot.ps1 -OutFile C:\Temp\edge01.snapshot.json
  edgecert verify -t examples/edge-pool-dns.yaml --snapshot edge01.snapshot.json --snapshot edge02.snapshot.json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if out == "" {
				return invalidInput(errors.New("--out FILE is required"))
			}
			if fi, err := os.Stat(out); err == nil && fi.IsDir() {
				out = filepath.Join(out, windows.CollectScriptName)
			}
			if err := atomicfile.Write(out, windows.CollectScript(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file (or existing folder) to write the script to")
	return cmd
}

// readSnapshots reads the snapshot files and maps them to the plan's
// servers; a snapshot of a computer that is not a server of the plan, or
// two of one computer, is invalid input.
func readSnapshots(p *plan.Plan, files []string) (map[string]*windows.Snapshot, error) {
	servers := map[string]bool{}
	for _, c := range p.Certificates {
		for _, s := range c.Servers {
			servers[strings.ToLower(s)] = true
		}
	}
	out := map[string]*windows.Snapshot{}
	for _, f := range files {
		s, err := windows.ReadFile(f)
		if err != nil {
			return nil, invalidInput(fmt.Errorf("--snapshot %w", err))
		}
		if !servers[s.Computer] {
			known := make([]string, 0, len(servers))
			for k := range servers {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, invalidInput(fmt.Errorf("--snapshot %s: computer %s is not a server of the topology (its servers: %s)", f, s.Computer, strings.Join(known, ", ")))
		}
		if prev := out[s.Computer]; prev != nil {
			return nil, invalidInput(fmt.Errorf("--snapshot %s: %s has a snapshot already (%s)", f, s.Computer, prev.File))
		}
		out[s.Computer] = s
	}
	return out, nil
}

// runVerifySnapshots is verify --snapshot: the checks of verify against
// what the real servers hold.
func runVerifySnapshots(ctx context.Context, env *Env, o *verifyOptions) error {
	if o.live || o.tf.workspace != "" {
		return invalidInput(errors.New("--snapshot checks the servers' own files: give it without --workspace and --live"))
	}
	p, err := o.tf.plan(env)
	if err != nil {
		return err
	}
	for _, id := range o.certificates {
		if !planHas(p, id) {
			return invalidInput(fmt.Errorf("--certificate %s: no such certificate in the plan (see edgecert plan)", id))
		}
	}
	snaps, err := readSnapshots(p, o.snapshots)
	if err != nil {
		return err
	}
	vo := verify.Options{Now: env.Now, RequireRevocation: o.requireRevocation, SkipRevocation: o.skipRevocation,
		WarnDays: o.warnDays, Certificates: o.certificates}
	rep, err := verify.Snapshots(ctx, p, snaps, vo)
	if err != nil {
		return err
	}
	if err := render(env.Out, o.output, rep, func(w io.Writer) error { return verify.WriteTable(w, rep) }); err != nil {
		return err
	}
	if rep.Failed() {
		return fmt.Errorf("%w: %d errors", errVerifyFailed, rep.Errors())
	}
	return nil
}
