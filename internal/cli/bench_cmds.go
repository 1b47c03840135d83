package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"edgecert/internal/bench"
	"edgecert/internal/ca"
)

// benchCommands returns `edgecert bench`: measurements operators use to size a CA.
func benchCommands(env *Env) []*cobra.Command {
	b := &cobra.Command{
		Use:   "bench",
		Short: "Measure the CA's issuance throughput on this machine",
		Example: `  # P-256 issuing CA, 64 clients, 10 seconds, embedded database
  edgecert bench issue --ca-key p256 --clients 64 --duration 10s`,
	}
	b.AddCommand(newBenchIssueCmd(env), newBenchSignRateCmd(env), newBenchProfileCmd(env))
	return []*cobra.Command{b}
}

type benchIssueOptions struct {
	caKey    string
	clients  string
	duration time.Duration
	warmup   time.Duration
	dsn      string
	dir      string
	requests int
	output   string
	profile  string
	gogc     string
	pkcs11   string
	workers  int
}

func newBenchIssueCmd(env *Env) *cobra.Command {
	o := &benchIssueOptions{}
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Issue certificates through the HTTPS API and report the rate",
		Long: `Creates a CA with a fresh database on disk, starts 'edgecert ca serve' as a
child process, pre-generates P-256 requests, drives POST /api/v1/certificates
with keep-alive clients, verifies every certificate it gets back (key and
chain), and prints certificates per second, latency percentiles, errors, the
server's CPU seconds, the raw signing rate of the same CA key, and where the
server's time went: the mean wait for a worker (queue), the parsing,
checking, linting and signing (work), and the wait for the database round
that records the certificate (record), from the server's /metrics.

The clients speak HTTP/1.1 over TLS themselves, one connection each, rather
than through Go's net/http client: they share the machine with the server,
and the lighter client leaves it more of the CPU (docs/BENCHMARKS.md).

With --db pointing at a PostgreSQL server on the same host, the server
competes with the CA for the cores, in a scheduling group of its own where
the CA's low-priority signing threads do not yield to it. The CA leaves it
a core while a commit round is there (about 3 % of RSA-2048's rate); a
database on its own host, as in most deployments, needs none of this.`,
		Example: `  edgecert bench issue --ca-key p256 --clients 64 --duration 10s
  edgecert bench issue --ca-key rsa2048 --clients 1,8,64 -o json
  edgecert bench issue --db 'postgres://user@127.0.0.1:5432/bench' --clients 64
  # RSA-2048 CA key in SoftHSM2 (CGO_ENABLED=1 go build -tags pkcs11 ./cmd/edgecert)
  edgecert bench issue --ca-key rsa2048 --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --server-workers 2`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runBenchIssue(env, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.caKey, "ca-key", "p256", "issuing CA key: p256, p384, rsa2048, rsa3072, rsa4096")
	f.StringVar(&o.clients, "clients", "64", "concurrent clients; a comma list runs one measurement per value")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "measured window per run")
	f.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each window")
	f.StringVar(&o.dsn, "db", "", "database DSN (default: SQLite in the CA directory)")
	f.StringVar(&o.dir, "dir", "", "working directory kept after the run (default: temporary)")
	f.IntVar(&o.requests, "requests", 4096, "distinct pre-generated requests, cycled")
	f.StringVar(&o.profile, "cpuprofile", "", "write the server's CPU profile (whole run) to this file; with several --clients, one file per run (FILE.cN)")
	f.StringVar(&o.pkcs11, "pkcs11-module", "", "keep the CA keys in a fresh SoftHSM2 token through this PKCS#11 module (pkcs11 build)")
	f.StringVar(&o.gogc, "server-gogc", "", "GOGC for the server process (default: the environment's)")
	f.IntVar(&o.workers, "server-workers", 0, "the server's --workers (0: its default)")
	addOutputFlag(cmd, &o.output)
	return cmd
}

func runBenchIssue(env *Env, o *benchIssueOptions) error {
	if err := checkFormat(o.output); err != nil {
		return err
	}
	var counts []int
	for _, s := range strings.Split(o.clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return invalidInput(fmt.Errorf("--clients: %q is not a positive number", s))
		}
		counts = append(counts, n)
	}
	if o.workers < 0 || o.workers > ca.MaxWorkers {
		return invalidInput(fmt.Errorf("--server-workers must be between 0 (the server's default) and %d, not %d", ca.MaxWorkers, o.workers))
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var results []*bench.IssueResult
	for _, n := range counts {
		dir := o.dir
		if dir != "" && len(counts) > 1 {
			dir = fmt.Sprintf("%s/c%d", dir, n)
		}
		prof := o.profile
		if prof != "" && len(counts) > 1 {
			prof = fmt.Sprintf("%s.c%d", prof, n)
		}
		r, err := bench.RunIssue(env.Ctx, bench.IssueConfig{
			Exe: exe, CAKey: o.caKey, Clients: n, Duration: o.duration, Warmup: o.warmup,
			DSN: o.dsn, Dir: dir, Requests: o.requests, Progress: env.Err,
			CPUProfile: prof, ServerGOGC: o.gogc, PKCS11Module: o.pkcs11, ServerWorkers: o.workers,
		})
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	return render(env.Out, o.output, results, func(w io.Writer, width int) error {
		t := newTable(w)
		fmt.Fprintln(t, "CA KEY\tDB\tCLIENTS\tCERTS/S\tP50 MS\tP90 MS\tP99 MS\tERRORS\tVERIFIED\tSERVER CPU-S\tCERTS/CPU-S\tRAW SIGN/S\tQUEUE/WORK/RECORD MS")
		for _, r := range results {
			stages := "-"
			if s := r.Stages; s != nil {
				stages = fmt.Sprintf("%.1f/%.2f/%.1f", s.Queue, s.Work, s.Record)
			}
			fmt.Fprintf(t, "%s\t%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%d\t%d/%d\t%.2f\t%.0f\t%.0f\t%s\n",
				r.CAKey, r.Database, r.Clients, r.PerSecond, r.P50, r.P90, r.P99, r.Errors,
				r.Verified, r.Verified+r.VerifyFailures, r.ServerCPU, r.PerCPUSecond, r.RawSignPerSec, stages)
		}
		for _, r := range results {
			if r.FirstError != "" {
				fmt.Fprintf(t, "first error (%d clients): %s\n", r.Clients, r.FirstError)
			}
		}
		return t.Flush()
	})
}

func newBenchSignRateCmd(env *Env) *cobra.Command {
	var dir, passFile, output string
	var d time.Duration
	cmd := &cobra.Command{
		Use:     "sign-rate",
		Short:   "Measure the raw signing rate of a CA's issuing key",
		Example: `  edgecert bench sign-rate --dir ./ca --passphrase-file ca.pass`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runBenchSignRate(env, dir, passFile, d, output)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "CA directory")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "file holding the CA key passphrase")
	cmd.Flags().DurationVar(&d, "duration", time.Second, "how long to sign")
	addOutputFlag(cmd, &output)
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

// newBenchProfileCmd is `edgecert bench profile -o FILE -- ca serve …`: it
// runs another edgecert command in this process under the CPU profiler
// (bench issue --cpuprofile starts the server this way).
func newBenchProfileCmd(env *Env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "profile --cpuprofile FILE -- COMMAND [ARGS…]",
		Short:   "Run an edgecert command under the CPU profiler",
		Example: `  edgecert bench profile --cpuprofile serve.prof -- ca serve --dir ./ca --listen 127.0.0.1:8443 --passphrase-file ca.pass`,
		Hidden:  true,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || target == c || target.RunE == nil {
				return invalidInput(fmt.Errorf("bench profile: %q is not an edgecert command", strings.Join(args, " ")))
			}
			if err := target.ParseFlags(rest); err != nil {
				return invalidInput(err)
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
			target.SetContext(env.Ctx)
			return target.RunE(target, target.Flags().Args())
		},
	}
	cmd.Flags().StringVar(&out, "cpuprofile", "", "profile file to write")
	_ = cmd.MarkFlagRequired("cpuprofile")
	return cmd
}
