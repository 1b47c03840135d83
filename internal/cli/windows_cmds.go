package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
	"edgecert/internal/plan"
	"edgecert/internal/verify"
	"edgecert/internal/windows"
)

// windowsCommands returns export, the hand-off to the Windows servers.
func windowsCommands(env *Env) []*cobra.Command {
	export := &cobra.Command{
		Use:   "export",
		Short: "Files for the Windows servers themselves",
		Long: `export writes what the real Windows servers need: each server's hand-off
bundle (export windows) and the script that records what a server holds
(export snapshot-script), for edgecert verify --snapshot.`,
		Example: `  edgecert export windows -t examples/edge-pool-dns.yaml --workspace ws --server edge01.contoso.net --out bundle-edge01
  edgecert export snapshot-script --out Collect-EdgecertSnapshot.ps1`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	export.AddCommand(newExportWindowsCmd(env), newSnapshotScriptCmd(env))
	return []*cobra.Command{export}
}

type exportWindowsOptions struct {
	tf                  topoFlags
	server, out, pwFile string
	modern, requests    bool
	output              string
}

func newExportWindowsCmd(env *Env) *cobra.Command {
	o := &exportWindowsOptions{}
	cmd := &cobra.Command{
		Use:   "windows",
		Short: "Write one server's hand-off bundle: .pfx files, chain and install script",
		Long: `windows writes, for one server of the plan, everything it needs from the
workspace that apply filled:

  <id>.pfx                           each personal certificate the plan puts on the
                                     server, with its key, chain and friendly name
                                     (legacy 3DES protection, which Windows Server
                                     2012 R2 and 2016 import; --modern-pfx for AES)
  roots/*.cer, intermediates/*.cer   the CA certificates, one per file
  chain.p7b                          the same chain in one file
  Install-EdgecertCertificates.ps1   run on the server, elevated: imports the roots
                                     and intermediates, the .pfx files (key
                                     exportable exactly when the plan shares the
                                     certificate), sets friendly names, assigns each
                                     usage with Set-CsCertificate (-Roll
                                     -EffectiveDate for staged A/V Authentication and
                                     OAuth certificates), checks the result and writes
                                     it as JSON; -WhatIf, idempotent, -Rollback
  Collect-EdgecertSnapshot.ps1       records what the server holds, for
                                     edgecert verify --snapshot
  transfer-password.txt              the .pfx password (mode 0600), unless
                                     --transfer-password-file gives one

Carry the transfer password separately from the folder when you can.

--requests writes instead the delayed-request path of the Deployment
Wizard, for administrators who want the keys made on the server (no
workspace needed):

  Request-EdgecertCertificates.ps1   Request-CsCertificate -New -Type ... -DomainName
                                     ... -KeySize ... -PrivateKeyExportable ...
                                     -Output FILE for every certificate the plan has
                                     the server request, exactly as planned
  Complete-EdgecertRequests.ps1      imports each answer (Import-CsCertificate),
                                     assigns its usages (Set-CsCertificate) and
                                     exports a shared certificate as .pfx for the
                                     other members

Check each request file against the plan with edgecert request check before
it is issued.`,
		Example: `  edgecert export windows -t examples/edge-pool-dns.yaml --workspace ws --server edge01.contoso.net --out bundle-edge01
  # on edge01, in an elevated Lync Server Management Shell, in the copied folder:
  #   .\Install-EdgecertCertificates.ps1 -WhatIf
  #   .\Install-EdgecertCertificates.ps1
  edgecert export windows -t examples/edge-pool-dns.yaml --server edge01.contoso.net --requests --out requests-edge01`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runExportWindows(env, o) },
	}
	o.tf.add(cmd, true)
	cmd.Flags().StringVar(&o.server, "server", "", "the server's FQDN, as the topology names it")
	cmd.Flags().StringVar(&o.out, "out", "", "folder to write the bundle to (created if missing)")
	cmd.Flags().StringVar(&o.pwFile, "transfer-password-file", "", "file holding the .pfx password (default: a random one, written to OUT/transfer-password.txt)")
	cmd.Flags().BoolVar(&o.requests, "requests", false, "write the delayed-request scripts (keys made on the server) instead of the bundle")
	cmd.Flags().BoolVar(&o.modern, "modern-pfx", false, "protect the .pfx files with AES-256 and PBKDF2 (Windows Server 2019 and later only)")
	addOutputFlag(cmd, &o.output)
	return cmd
}

func runExportWindows(env *Env, o *exportWindowsOptions) error {
	if err := checkFormat(o.output); err != nil {
		return err
	}
	if o.server == "" || o.out == "" {
		return invalidInput(errors.New("--server FQDN and --out DIR are required"))
	}
	if fi, err := os.Stat(o.out); err == nil && !fi.IsDir() {
		return invalidInput(fmt.Errorf("--out %s is a file, not a folder", o.out))
	}
	if o.requests {
		return runExportRequests(env, o)
	}
	p, ws, err := o.tf.openExisting(env)
	if err != nil {
		return err
	}
	if !planHasServer(p, o.server) {
		return invalidInput(fmt.Errorf("--server %s is not a server of the topology (see edgecert plan)", o.server))
	}
	st, ok, err := ws.Store(o.server)
	if err != nil {
		return err
	}
	if !ok {
		return invalidInput(fmt.Errorf("--server %s: its store is not in this workspace", o.server))
	}
	pw, generated := "", false
	if o.pwFile != "" {
		b, err := readRequiredSecret(env, o.pwFile, "--transfer-password-file")
		if err != nil {
			return err
		}
		pw = string(b)
	} else {
		buf := make([]byte, 18)
		if _, err := io.ReadFull(env.Rand, buf); err != nil {
			return err
		}
		pw, generated = base64.RawURLEncoding.EncodeToString(buf), true
	}
	profile := certfmt.PFXLegacy
	if o.modern {
		profile = certfmt.PFXModern
	}
	b, files, err := windows.Export(p, st, o.server, windows.ExportOptions{Password: pw, Profile: profile, Rand: env.Rand})
	if err != nil {
		if errors.Is(err, windows.ErrBundle) {
			return invalidInput(err)
		}
		return err
	}
	if generated {
		files = append(files, windows.Output{Name: "transfer-password.txt", Data: []byte(pw + "\n"), Mode: 0o600})
	}
	var written []string
	for _, f := range files {
		path := filepath.Join(o.out, filepath.FromSlash(f.Name))
		if err := atomicfile.Write(path, f.Data, f.Mode); err != nil {
			return err
		}
		written = append(written, path)
	}
	result := map[string]any{"server": b.Server, "out": o.out, "files": written, "certificates": len(b.Certificates)}
	return render(env.Out, o.output, result, func(w io.Writer, width int) error {
		fmt.Fprintf(w, "Bundle for %s in %s (%d certificates):\n", b.Server, o.out, len(b.Certificates))
		for _, f := range written {
			fmt.Fprintf(w, "  %s\n", f)
		}
		if generated {
			fmt.Fprintf(w, "The .pfx password is in %s: carry it separately if you can.\n", filepath.Join(o.out, "transfer-password.txt"))
		}
		fmt.Fprintf(w, "On %s, elevated, in the copied folder: .\\%s -WhatIf, then without -WhatIf.\n", b.Server, windows.InstallScriptName)
		return nil
	})
}

// runExportRequests is export windows --requests: the delayed-request
// scripts, from the plan alone.
func runExportRequests(env *Env, o *exportWindowsOptions) error {
	p, err := o.tf.plan(env)
	if err != nil {
		return err
	}
	if !planHasServer(p, o.server) {
		return invalidInput(fmt.Errorf("--server %s is not a server of the topology (see edgecert plan)", o.server))
	}
	r, err := windows.PlanRequests(p, o.server)
	if err != nil {
		return invalidInput(err)
	}
	var written []string
	if len(r.Items) > 0 {
		for name, f := range map[string]func(*windows.Requests) ([]byte, error){windows.RequestScriptName: windows.RequestScript, windows.CompleteScriptName: windows.CompleteScript} {
			data, err := f(r)
			if err != nil {
				return err
			}
			path := filepath.Join(o.out, name)
			if err := atomicfile.Write(path, data, 0o644); err != nil {
				return err
			}
			written = append(written, path)
		}
	}
	sort.Strings(written)
	var ids []string
	for _, it := range r.Items {
		ids = append(ids, it.ID)
	}
	result := map[string]any{"server": r.Server, "out": o.out, "files": written, "requests": ids, "skipped": r.Skipped}
	return render(env.Out, o.output, result, func(w io.Writer, width int) error {
		for _, f := range written {
			fmt.Fprintf(w, "wrote %s\n", f)
		}
		for _, it := range r.Items {
			fmt.Fprintf(w, "%s: the server writes %s; check it with: edgecert request check -t %s --certificate %s %s\n", it.ID, it.Output, o.tf.topology, it.ID, it.Output)
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "not requested on %s: %s\n", r.Server, s)
		}
		return nil
	})
}

func planHasServer(p *plan.Plan, server string) bool {
	for _, c := range p.Certificates {
		for _, s := range c.Servers {
			if strings.EqualFold(s, server) {
				return true
			}
		}
	}
	return false
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
	if err := render(env.Out, o.output, rep, func(w io.Writer, width int) error { return verify.WriteTable(w, rep, width) }); err != nil {
		return err
	}
	if rep.Failed() {
		return fmt.Errorf("%w: %d errors", errVerifyFailed, rep.Errors())
	}
	return nil
}
