package cli

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
	"edgecert/internal/readlimit"
	"edgecert/internal/store"
	"edgecert/internal/table"
)

// Environment variables of the store commands.
const (
	envStore           = "EDGECERT_STORE"
	envStorePassphrase = "EDGECERT_STORE_PASSPHRASE_FILE"
)

// storeHelp explains where the store is; every store command shows it.
const storeHelp = `The store is a directory: --store DIR, else $EDGECERT_STORE, else
$XDG_DATA_HOME/edgecert/store (~/.local/share/edgecert/store). Private keys
are sealed with the passphrase in --passphrase-file (else the file named by
$EDGECERT_STORE_PASSPHRASE_FILE) when one is given; a store that seals its
keys takes new keys only with that same passphrase. A store never removes a
file it did not write, and refuses folders that are symbolic links or belong
to another user.`

// storeFlags are the flags every store-using command has.
type storeFlags struct {
	dir            string
	passphraseFile string
}

func (f *storeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "store", "", "store directory (default $EDGECERT_STORE, else ~/.local/share/edgecert/store)")
	cmd.Flags().StringVar(&f.passphraseFile, "passphrase-file", "", "file holding the store passphrase that seals private keys (default $EDGECERT_STORE_PASSPHRASE_FILE)")
}

// given reports whether a store was named on the command line or in the environment.
func (f *storeFlags) given() bool { return f.dir != "" || os.Getenv(envStore) != "" }

// path returns the store directory to use.
func (f *storeFlags) path() (string, error) {
	if f.dir != "" {
		return f.dir, nil
	}
	if d := os.Getenv(envStore); d != "" {
		return d, nil
	}
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", invalidInput(fmt.Errorf("no --store given and no home directory for the default store: %w", err))
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "edgecert", "store"), nil
}

// openExisting opens the store named by the flags, which must exist:
// commands that only read or change existing entries do not create one
// where a mistyped --store points.
func (f *storeFlags) openExisting(env *Env) (*store.Store, error) {
	dir, err := f.path()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, invalidInput(fmt.Errorf("store %s does not exist (request new and store import create it)", dir))
	}
	return f.open(env)
}

// open opens the store named by the flags, creating it when missing.
func (f *storeFlags) open(env *Env) (*store.Store, error) {
	dir, err := f.path()
	if err != nil {
		return nil, err
	}
	opts := store.Options{Now: env.Now, Rand: env.Rand}
	pf := f.passphraseFile
	if pf == "" {
		pf = os.Getenv(envStorePassphrase)
	}
	if pf != "" {
		p, err := readSecretFile(env, pf, "store passphrase")
		if err != nil {
			return nil, err
		}
		opts.Passphrase = []byte(p)
	}
	s, err := store.Open(dir, opts)
	if err != nil {
		return nil, storeErr(err)
	}
	return s, nil
}

// storeErr gives store errors their exit code: what the user asked for is
// refused (2), except a busy or broken store (1).
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	for _, e := range []error{store.ErrInvalidInput, store.ErrNotFound, store.ErrNoKey, store.ErrNotExportable,
		store.ErrDuplicateName, store.ErrChain, store.ErrExpired} {
		if errors.Is(err, e) {
			return invalidInput(err)
		}
	}
	return err
}

// writeOutput writes data to path atomically ("-" or "" = standard output).
func writeOutput(env *Env, path string, data []byte, mode os.FileMode) error {
	if path == "" || path == "-" {
		_, err := env.Out.Write(data)
		return err
	}
	if err := atomicfile.Write(path, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// storeCommands returns the store command group and the top-level assign command.
func storeCommands(env *Env) []*cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "The server's certificate store: root, ca, my (personal) and request",
		Long: `The per-server certificate store, modelled on the Windows computer store:
root (trusted root CAs), ca (intermediate CAs), my (personal certificates with
their private keys) and request (pending requests with their keys).

` + storeHelp,
		Example: `  edgecert store import --store /srv/edge1 chain.p7b
  edgecert store list --store /srv/edge1 --location my`,
	}
	cmd.AddCommand(storeImportCmd(env), storeListCmd(env), storeShowCmd(env), storeExportCmd(env),
		storeExportChainCmd(env), storeDeleteCmd(env), storeCheckCmd(env))
	return []*cobra.Command{cmd, assignCmd(env)}
}

func storeImportCmd(env *Env) *cobra.Command {
	var (
		sf           storeFlags
		passwordFile string
		exportable   bool
		friendlyName string
		allCerts     bool
		output       string
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a certificate, a PKCS#7 chain or a PFX",
		Long: `Import detects the format: a certificate (.cer/.crt, DER or PEM), a chain
(.p7b/.p7c, DER or PEM), a .pfx/.p12, or a PEM file that holds a certificate
with its unencrypted private key (and chain), as OpenSSL and nginx keep them. Self-signed CA certificates go to root,
other CA certificates to ca; a certificate whose public key matches a pending
request joins that request's key in my; a PFX goes to my with its key and its
chain to root/ca. A file that cannot be imported whole changes nothing.

Of a file that brings a private key (.pfx, PEM with a key) only the chain of
the key's certificate is imported: a self-signed certificate becomes a trusted
root only as the root of that chain. The other certificates are listed as
"not imported" (--all-certificates imports them too). Every trusted root an
import adds is named in a warning.

` + storeHelp,
		Example: `  # the certificate the CA issued for a request made here
  edgecert store import --store /srv/edge1 edge-external.cer

  # the PFX exported on the first Edge Server of the pool
  edgecert store import --store /srv/edge2 --password-file pw.txt --exportable edge.pfx`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			if err := checkNameFlag("--friendly-name", friendlyName); err != nil {
				return err
			}
			data, err := readlimit.File(args[0], readlimit.CertificateFile)
			if err != nil {
				return invalidInput(err)
			}
			opts := store.ImportOptions{Exportable: exportable, FriendlyName: friendlyName, AllCertificates: allCerts}
			if certfmt.Detect(data) == certfmt.FormatPKCS12 {
				if opts.Password, err = password(env, passwordFile, "PFX password", false); err != nil {
					return err
				}
			}
			if dir, err := sf.path(); err == nil {
				if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
					// Refuse bad input before creating a store for it.
					if err := store.CheckImport(data, opts); err != nil {
						return storeErr(fmt.Errorf("%s: %w", args[0], err))
					}
				}
			}
			s, err := sf.open(env)
			if err != nil {
				return err
			}
			res, err := s.Import(data, opts)
			if err != nil {
				return storeErr(fmt.Errorf("%s: %w", args[0], err))
			}
			warnImport(env.Err, res)
			return render(env.Out, output, res, func(w io.Writer, width int) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "RESULT\tLOCATION\tTHUMBPRINT\tSUBJECT\tKEY")
				for _, e := range res.Added {
					tableRow(tw, "added", e.Location, e.Thumbprint, e.Subject, keyWord(e))
				}
				for _, e := range res.Skipped {
					tableRow(tw, "already present", e.Location, e.Thumbprint, e.Subject, keyWord(e))
				}
				for _, e := range res.Excluded {
					tableRow(tw, "not imported", e.Location, e.Thumbprint, e.Subject, "-")
				}
				return tw.Flush()
			})
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "file holding the PFX password (else a prompt on a terminal)")
	cmd.Flags().BoolVar(&exportable, "exportable", false, "allow the private key of an imported PFX to be exported again (a certificate joining a request keeps the request's choice)")
	cmd.Flags().StringVar(&friendlyName, "friendly-name", "", "friendly name of the imported certificate (default: the file's)")
	cmd.Flags().BoolVar(&allCerts, "all-certificates", false, "also import the certificates of a .pfx (or PEM with a key) that are not in the chain of its key's certificate; their self-signed CA certificates become trusted roots")
	addOutputFlag(cmd, &output)
	return cmd
}

// warnImport names, on stderr, every trusted root an import added (as
// Windows warns before it installs one) and the certificates it left out.
func warnImport(w io.Writer, res *store.ImportResult) {
	for _, e := range res.RootsAdded() {
		fmt.Fprintf(w, "warning: added a trusted root: %s (thumbprint %s); this store now trusts every certificate it issues\n", printable(e.Subject), e.Thumbprint)
	}
	if n := len(res.Excluded); n > 0 {
		fmt.Fprintf(w, "%d certificate(s) of the file are not in the chain of its key's certificate and were not imported (--all-certificates imports them)\n", n)
	}
}

// keyWord describes an entry's key for tables, in one word: exportable,
// non-exportable, or - for none.
func keyWord(e store.Entry) string {
	switch {
	case !e.HasKey:
		return "-"
	case e.Exportable:
		return "exportable"
	}
	return "non-exportable"
}

func storeListCmd(env *Env) *cobra.Command {
	var (
		sf       storeFlags
		location string
		output   string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the certificates and pending requests of the store",
		Long:  "List shows, for each entry, what Windows shows: location, thumbprint, subject, expiry, friendly name and key.\n\n" + storeHelp,
		Example: `  edgecert store list --store /srv/edge1
  edgecert store list --store /srv/edge1 --location my -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			s, err := sf.openExisting(env)
			if err != nil {
				return err
			}
			entries, err := s.List(store.Location(strings.ToLower(location)))
			if err != nil {
				return storeErr(err)
			}
			return render(env.Out, output, entries, func(w io.Writer, width int) error {
				t := table.Table{Header: []string{"LOCATION", "THUMBPRINT", "SUBJECT", "EXPIRES", "FRIENDLY NAME", "KEY"}, Width: width,
					Rows: make([][][]string, 0, len(entries))}
				for _, e := range entries {
					exp := "-"
					if !e.NotAfter.IsZero() {
						exp = e.NotAfter.Format("2006-01-02")
					}
					t.Rows = append(t.Rows, table.Row(string(e.Location), e.Thumbprint, e.Subject, exp, dash(e.FriendlyName), keyWord(e)))
				}
				return t.Write(w)
			})
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&location, "location", "", "only this location: root, ca, my or request")
	addOutputFlag(cmd, &output)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shownEntry is store show's view: the entry and its certification path.
type shownEntry struct {
	store.Entry
	Chain      []string `json:"chain,omitempty"` // subjects, leaf first
	ChainError string   `json:"chain_error,omitempty"`
}

func storeShowCmd(env *Env) *cobra.Command {
	var (
		sf         storeFlags
		thumbprint string
		output     string
	)
	cmd := &cobra.Command{
		Use:   "show --thumbprint T",
		Short: "Show one certificate or pending request, with its certification path",
		Long:  "Show prints every field the store keeps for an entry and the chain built from ca and root.\n\n" + storeHelp,
		Example: `  edgecert store show --store /srv/edge1 --thumbprint 3F1A...9C
  edgecert store show --store /srv/edge1 --thumbprint "3f 1a ... 9c" -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			tp, err := thumbprintArg(thumbprint, args)
			if err != nil {
				return err
			}
			s, err := sf.openExisting(env)
			if err != nil {
				return err
			}
			e, cert, err := s.Certificate(tp)
			if err != nil {
				return storeErr(err)
			}
			v := shownEntry{Entry: *e}
			if cert != nil {
				chain, err := s.Chain(cert)
				for _, cc := range chain {
					v.Chain = append(v.Chain, certfmt.NameString(cc.RawSubject))
				}
				if err != nil {
					v.ChainError = err.Error()
				}
			}
			return render(env.Out, output, v, func(w io.Writer, width int) error { return showTable(w, v) })
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&thumbprint, "thumbprint", "", "SHA-1 thumbprint of the entry (spaces and colons allowed)")
	addOutputFlag(cmd, &output)
	return cmd
}

func showTable(w io.Writer, v shownEntry) error {
	tw := newTable(w)
	row := func(k, val string) {
		if val != "" {
			tableRow(tw, k+":", val)
		}
	}
	date := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339)
	}
	row("Location", string(v.Location))
	row("Thumbprint", v.Thumbprint)
	row("SHA-256", v.SHA256)
	row("Subject", v.Subject)
	row("Issuer", v.Issuer)
	row("Serial", v.Serial)
	row("Valid from", date(v.NotBefore))
	row("Valid to", date(v.NotAfter))
	row("Names", strings.Join(v.DNSNames, ", "))
	row("Key usage", strings.Join(v.KeyUsage, ", "))
	row("Enhanced key usage", strings.Join(v.EKU, ", "))
	row("Public key", fmt.Sprintf("%s %d", v.KeyAlgorithm, v.KeyBits))
	row("Friendly name", v.FriendlyName)
	row("Template", v.Template)
	row("Private key", map[bool]string{true: "yes", false: "no"}[v.HasKey])
	if v.HasKey {
		row("Exportable", map[bool]string{true: "yes", false: "no"}[v.Exportable])
	}
	row("Certification path", strings.Join(v.Chain, "  <  "))
	row("Path problem", v.ChainError)
	return tw.Flush()
}

// thumbprintArg takes the thumbprint from --thumbprint or the one argument.
func thumbprintArg(flag string, args []string) (string, error) {
	switch {
	case flag != "" && len(args) > 0:
		return "", invalidInput(errors.New("give the thumbprint once: --thumbprint T or as the argument"))
	case flag != "":
		return flag, nil
	case len(args) == 1:
		return args[0], nil
	}
	return "", invalidInput(errors.New("--thumbprint is required (see 'edgecert store list')"))
}

// exportFormat chooses the export format from --format or the file extension.
func exportFormat(format, out string, pemFlag bool) (string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(out)) {
		case ".cer", ".crt", ".der":
			format = "cer"
		case ".pem":
			format = "pem"
		case ".p7b", ".p7c":
			format = "p7b"
		case ".pfx", ".p12":
			format = "pfx"
		case ".csr", ".req":
			format = "csr"
		default:
			return "", invalidInput(fmt.Errorf("cannot tell the format from %q: use .cer, .pem, .p7b or .pfx, or --format", out))
		}
	}
	switch format {
	case "cer", "der":
		if pemFlag {
			return "pem", nil
		}
		return "cer", nil
	case "pem", "p7b", "pfx", "csr":
		return format, nil
	}
	return "", invalidInput(fmt.Errorf("unknown format %q: use cer, pem, p7b, pfx (or csr for a pending request)", format))
}

// storeExportOptions are the flags of store export.
type storeExportOptions struct {
	sf                            storeFlags
	thumbprint, out, format       string
	passwordFile                  string
	pem, legacy, delKey, insecure bool
}

func storeExportCmd(env *Env) *cobra.Command {
	o := &storeExportOptions{}
	cmd := &cobra.Command{
		Use:   "export --thumbprint T --out FILE",
		Short: "Export a certificate (.cer), its chain (.p7b) or it with its private key (.pfx)",
		Long: `Export writes the certificate with thumbprint T. The format follows the file
extension (or --format): .cer is DER (Base64 with --pem), .p7b holds the whole
certification path, .pfx holds the certificate, its private key, the whole
path and the friendly name, protected by a password (AES-256-CBC with
PBKDF2-SHA256; --legacy writes 3DES/SHA-1 for Windows Server 2016 and older).
A key that was not marked exportable is refused. A pending request can be
written again as .csr.

` + storeHelp,
		Example: `  # copy the edge pool certificate to the next Edge Server
  edgecert store export --store /srv/edge1 --thumbprint 3F1A...9C --out edge.pfx --password-file pw.txt

  # the certificate with its chain, for the reverse proxy administrator
  edgecert store export --store /srv/edge1 --thumbprint 3F1A...9C --out edge.p7b`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runStoreExport(env, o) },
	}
	o.sf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.thumbprint, "thumbprint", "", "SHA-1 thumbprint of the certificate")
	f.StringVar(&o.out, "out", "", "file to write: .cer, .pem, .p7b or .pfx (- for standard output)")
	f.StringVar(&o.format, "format", "", "cer, pem, p7b or pfx (default: from the --out extension)")
	f.BoolVar(&o.pem, "pem", false, "Base64 (PEM) instead of binary DER for .cer and .p7b")
	f.StringVar(&o.passwordFile, "password-file", "", "file holding the PFX password (else a prompt on a terminal)")
	f.BoolVar(&o.legacy, "legacy", false, "PFX with 3DES and a SHA-1 MAC, for Windows Server 2016 and older")
	f.BoolVar(&o.delKey, "delete-key", false, "delete the private key from the store once the PFX is written (not for edge pools)")
	f.BoolVar(&o.insecure, "insecure-empty-password", false, "allow a PFX with an empty password (anyone can read the key)")
	return cmd
}

func runStoreExport(env *Env, o *storeExportOptions) error {
	if o.out == "" {
		return invalidInput(errors.New("--out FILE is required"))
	}
	f, err := exportFormat(o.format, o.out, o.pem)
	if err != nil {
		return err
	}
	if o.thumbprint == "" {
		return invalidInput(errors.New("--thumbprint is required (see 'edgecert store list')"))
	}
	if o.delKey && f != "pfx" {
		return invalidInput(errors.New("--delete-key only applies to a .pfx export"))
	}
	s, err := o.sf.openExisting(env)
	if err != nil {
		return err
	}
	opts := store.ExportOptions{Format: f, AllowEmpty: o.insecure}
	if o.legacy {
		opts.Profile = certfmt.PFXLegacy
	}
	if f == "pfx" {
		if err := exportable(s, o.thumbprint); err != nil {
			return err
		}
		if !o.insecure || o.passwordFile != "" {
			if opts.Password, err = password(env, o.passwordFile, "PFX password", true); err != nil {
				return err
			}
		}
	}
	data, err := s.Export(o.thumbprint, opts)
	if err != nil {
		return storeErr(err)
	}
	if o.pem && f == "p7b" {
		data = pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: data})
	}
	mode := os.FileMode(0o644)
	if f == "pfx" {
		mode = 0o600
	}
	if err := writeOutput(env, o.out, data, mode); err != nil {
		return err
	}
	what := map[string]string{"cer": "the certificate", "p7b": "the certificate with its chain", "pfx": "the certificate with its private key and chain"}[f]
	if what == "" {
		what = "the certificate"
	}
	if o.out != "-" {
		fmt.Fprintf(env.Err, "exported %s %s to %s (%s, mode %#o)\n", what, store.NormalizeThumbprint(o.thumbprint), o.out, strings.ToUpper(f), mode)
	}
	if o.delKey {
		if err := s.DeleteKey(o.thumbprint); err != nil {
			return storeErr(err)
		}
		fmt.Fprintf(env.Err, "the private key of %s was deleted from the store after the export\n", store.NormalizeThumbprint(o.thumbprint))
	}
	return nil
}

// exportable fails early, before a password prompt, when a PFX export
// cannot succeed.
func exportable(s *store.Store, thumbprint string) error {
	e, _, err := s.Certificate(thumbprint)
	if err != nil {
		return storeErr(err)
	}
	if e.Location == store.My && e.HasKey && !e.Exportable {
		_, err := s.Export(thumbprint, store.ExportOptions{Format: "pfx", Password: "x"})
		return storeErr(err)
	}
	return nil
}

func storeExportChainCmd(env *Env) *cobra.Command {
	var (
		sf      storeFlags
		out     string
		pemFlag bool
	)
	cmd := &cobra.Command{
		Use:   "export-chain --out FILE.p7b",
		Short: "Export the store's CA certificates (root and ca) as a .p7b",
		Long:  "Export-chain writes every certificate of root and ca as one PKCS#7 file, for the servers that must trust the CA (R42).\n\n" + storeHelp,
		Example: `  edgecert store export-chain --store /srv/edge1 --out ca-chain.p7b
  edgecert store export-chain --store /srv/edge1 --out - --pem`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if out == "" {
				return invalidInput(errors.New("--out FILE.p7b is required"))
			}
			s, err := sf.openExisting(env)
			if err != nil {
				return err
			}
			data, err := s.ExportChain()
			if err != nil {
				return storeErr(err)
			}
			if pemFlag {
				data = pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: data})
			}
			return writeOutput(env, out, data, 0o644)
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&out, "out", "", "file to write (- for standard output)")
	cmd.Flags().BoolVar(&pemFlag, "pem", false, "Base64 (PEM) instead of binary DER")
	return cmd
}

func storeDeleteCmd(env *Env) *cobra.Command {
	var (
		sf         storeFlags
		thumbprint string
	)
	cmd := &cobra.Command{
		Use:     "delete --thumbprint T",
		Short:   "Delete a certificate or pending request (with its private key)",
		Long:    "Delete removes an entry and its private key. An assigned certificate is refused: assign another first.\n\n" + storeHelp,
		Example: `  edgecert store delete --store /srv/edge1 --thumbprint 3F1A...9C`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			tp, err := thumbprintArg(thumbprint, args)
			if err != nil {
				return err
			}
			s, err := sf.openExisting(env)
			if err != nil {
				return err
			}
			return storeErr(s.Delete(tp))
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&thumbprint, "thumbprint", "", "SHA-1 thumbprint of the entry")
	return cmd
}

func storeCheckCmd(env *Env) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:     "check",
		Short:   "Check that every file of the store matches its index",
		Long:    "Check reads every certificate, request and key of the store and reports what does not match the index, and every file in the store's folders that the store did not write (which it leaves alone) (exit 3).\n\n" + storeHelp,
		Example: `  edgecert store check --store /srv/edge1`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := sf.openExisting(env)
			if err != nil {
				return err
			}
			if err := s.Check(); err != nil {
				fmt.Fprintln(env.Err, err)
				return fmt.Errorf("store %s: %w", s.Dir(), errVerifyFailed)
			}
			fmt.Fprintf(env.Out, "store %s is consistent\n", s.Dir())
			return nil
		},
	}
	sf.add(cmd)
	return cmd
}

func assignCmd(env *Env) *cobra.Command {
	var (
		sf                storeFlags
		usage, thumbprint string
		effective         string
		list              bool
		output            string
	)
	cmd := &cobra.Command{
		Use:   "assign (--usage USAGE --thumbprint T | --list)",
		Short: "Assign a certificate of my to a usage, or list the assignments",
		Long: `Assign binds a usage (Internal, AccessEdgeExternal, DataEdgeExternal,
AudioVideoAuthentication, XMPPServer, WebServicesExternal, Default,
WebServicesInternal, OAuthTokenIssuer) to a certificate of my. A certificate
whose private key is not in the store, whose chain does not reach root, or that
has expired is refused. AudioVideoAuthentication and OAuthTokenIssuer can be
staged with --effective: the new certificate takes over at that time and the
current one is kept as previous (R80, Set-CsCertificate -Roll -EffectiveDate).

` + storeHelp,
		Example: `  edgecert assign --store /srv/edge1 --usage Internal --thumbprint 3F1A...9C
  edgecert assign --store /srv/edge1 --usage AudioVideoAuthentication --thumbprint 77B0...12 --effective 2027-03-01T04:00:00Z
  edgecert assign --store /srv/edge1 --list -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			if list == (usage != "" || thumbprint != "") {
				return invalidInput(errors.New("give either --usage and --thumbprint, or --list"))
			}
			if !list && (usage == "" || thumbprint == "") {
				return invalidInput(errors.New("--usage and --thumbprint are both required"))
			}
			s, err := sf.openExisting(env)
			if err != nil {
				return err
			}
			if list {
				return listAssignments(env, s, output)
			}
			tp := store.NormalizeThumbprint(thumbprint)
			if effective == "" {
				if err := s.Assign(usage, thumbprint); err != nil {
					return storeErr(err)
				}
				fmt.Fprintf(env.Out, "assigned %s to %s in %s\n", tp, usage, s.Dir())
				return nil
			}
			when, err := time.Parse(time.RFC3339, effective)
			if err != nil {
				return invalidInput(fmt.Errorf("--effective %q: use RFC 3339, e.g. 2027-03-01T04:00:00Z", effective))
			}
			if err := s.Stage(usage, thumbprint, when); err != nil {
				return storeErr(err)
			}
			fmt.Fprintf(env.Out, "staged %s for %s in %s, effective %s\n", tp, usage, s.Dir(), when.UTC().Format(time.RFC3339))
			return nil
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&usage, "usage", "", "usage to assign ("+strings.Join(store.Usages, ", ")+")")
	cmd.Flags().StringVar(&thumbprint, "thumbprint", "", "SHA-1 thumbprint of a certificate of my")
	cmd.Flags().StringVar(&effective, "effective", "", "stage the certificate to take over at this time (RFC 3339; A/V and OAuth only)")
	cmd.Flags().BoolVar(&list, "list", false, "list the assignments")
	addOutputFlag(cmd, &output)
	return cmd
}

func listAssignments(env *Env, s *store.Store, output string) error {
	as, err := s.Assignments()
	if err != nil {
		return storeErr(err)
	}
	if as == nil {
		as = []store.Assignment{}
	}
	return render(env.Out, output, as, func(w io.Writer, width int) error {
		tw := newTable(w)
		fmt.Fprintln(tw, "USAGE\tTHUMBPRINT\tSUBJECT\tPREVIOUS\tSTAGED\tEFFECTIVE")
		for _, a := range as {
			subject := "-"
			if e, _, err := s.Certificate(a.Thumbprint); err == nil {
				subject = e.Subject
			}
			eff := "-"
			if !a.Effective.IsZero() && a.Staged != "" {
				eff = a.Effective.Format(time.RFC3339)
			}
			tableRow(tw, a.Usage, dash(a.Thumbprint), subject, dash(a.Previous), dash(a.Staged), eff)
		}
		return tw.Flush()
	})
}
