package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"edgecert/internal/testtool"
)

// TestRunIssue runs a short benchmark end to end against a real `ca serve`
// child built from this tree: every certificate answered must verify, no
// request may fail, and the raw signing rate must be measured.
func TestRunIssue(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the edgecert binary")
	}
	goTool := testtool.Path(t, "go")
	exe := filepath.Join(t.TempDir(), "edgecert")
	build := exec.Command(goTool, "build", "-o", exe, "edgecert/cmd/edgecert")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build edgecert: %v\n%s", err, out)
	}
	for _, c := range []struct {
		key     string
		workers int // --server-workers; 0: the server's default, one per CPU
	}{{"p256", 0}, {"rsa2048", 3}} {
		t.Run(c.key, func(t *testing.T) {
			dir := t.TempDir()
			r, err := RunIssue(context.Background(), IssueConfig{
				Exe: exe, CAKey: c.key, Clients: 4, Duration: 700 * time.Millisecond,
				Warmup: 200 * time.Millisecond, Requests: 32, Dir: dir, ServerWorkers: c.workers,
			})
			if err != nil {
				t.Fatal(err)
			}
			want := c.workers
			if want == 0 {
				want = runtime.NumCPU()
			}
			log, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			if m := regexp.MustCompile(`msg=serving .*workers=(\d+)`).FindSubmatch(log); m == nil || string(m[1]) != strconv.Itoa(want) {
				t.Fatalf("the server does not report %d workers: %s", want, log)
			}
			if r.Issued == 0 || r.Errors != 0 {
				t.Fatalf("issued %d, errors %d (first: %s)", r.Issued, r.Errors, r.FirstError)
			}
			if r.Verified != r.Issued || r.VerifyFailures != 0 {
				t.Fatalf("verified %d of %d, %d failures", r.Verified, r.Issued, r.VerifyFailures)
			}
			if r.RawSignPerSec <= 0 {
				t.Fatalf("raw signing rate not measured")
			}
			if r.P50 <= 0 || r.P99 < r.P50 || r.ServerCPU <= 0 {
				t.Fatalf("implausible measurements: p50 %v p99 %v server CPU %v", r.P50, r.P99, r.ServerCPU)
			}
		})
	}
}

// TestRunIssueBoringCrypto builds edgecert with Go's BoringCrypto
// (GOEXPERIMENT=boringcrypto, cgo), the faster RSA signer the benchmark
// reports next to Go's, and runs the same short benchmark with it.
func TestRunIssueBoringCrypto(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the edgecert binary")
	}
	goTool := testtool.Path(t, "go")
	testtool.Path(t, "gcc") // cgo
	exe := filepath.Join(t.TempDir(), "edgecert-boring")
	build := exec.Command(goTool, "build", "-o", exe, "edgecert/cmd/edgecert")
	build.Env = append(os.Environ(), "CGO_ENABLED=1", "GOEXPERIMENT=boringcrypto")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build edgecert with BoringCrypto: %v\n%s", err, out)
	}
	r, err := RunIssue(context.Background(), IssueConfig{
		Exe: exe, CAKey: "rsa2048", Clients: 4, Duration: 700 * time.Millisecond,
		Warmup: 200 * time.Millisecond, Requests: 32, Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.CAKey != "rsa2048/boringcrypto" {
		t.Fatalf("the benchmark reports %q: the child does not sign with BoringCrypto", r.CAKey)
	}
	if r.Issued == 0 || r.Errors != 0 || r.Verified != r.Issued {
		t.Fatalf("issued %d, errors %d (first: %s), verified %d", r.Issued, r.Errors, r.FirstError, r.Verified)
	}
}
