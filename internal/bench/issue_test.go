package bench

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
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
			if r.Stages == nil || r.Stages.Work <= 0 || r.Stages.Queue < 0 || r.Stages.Record <= 0 {
				t.Fatalf("the server's stages were not read: %+v", r.Stages)
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

func TestParseStageTotals(t *testing.T) {
	full := `# TYPE edgecert_issuance_stage_seconds histogram
edgecert_issuance_stage_seconds_bucket{stage="queue",le="+Inf"} 4
edgecert_issuance_stage_seconds_sum{stage="queue"} 0.2
edgecert_issuance_stage_seconds_count{stage="queue"} 4
edgecert_issuance_stage_seconds_sum{stage="work"} 0.004
edgecert_issuance_stage_seconds_count{stage="work"} 4
edgecert_issuance_stage_seconds_sum{stage="record"} 0.02
edgecert_issuance_stage_seconds_count{stage="record"} 4
`
	for _, c := range []struct {
		name string
		page string
		ok   bool
		want stageTotals
	}{
		{"every series", full, true, stageTotals{sum: [3]float64{0.2, 0.004, 0.02}, count: 4}},
		{"no page", "", false, stageTotals{}},
		{"a stage missing", strings.ReplaceAll(full, `{stage="record"}`, `{stage="other"}`), false, stageTotals{}},
		{"not a number", strings.Replace(full, "0.004", "x", 1), false, stageTotals{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parseStageTotals(c.page)
			if ok != c.ok || (ok && got != c.want) {
				t.Fatalf("parseStageTotals = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
	// Means over a window are the differences divided by the new answers.
	a, _ := parseStageTotals(full)
	b := stageTotals{sum: [3]float64{0.2 + 0.06, 0.004 + 0.002, 0.02 + 0.01}, count: 6}
	s := stagesBetween(a, b)
	if s == nil || math.Abs(s.Queue-30) > 1e-9 || math.Abs(s.Work-1) > 1e-9 || math.Abs(s.Record-5) > 1e-9 {
		t.Fatalf("stagesBetween = %+v, want 30/1/5 ms", s)
	}
	if stagesBetween(a, a) != nil {
		t.Fatal("a window with no answers has no means")
	}
}

// TestIssueResultJSON: the JSON that scripts read names each latency once,
// in milliseconds, and carries the stage means.
func TestIssueResultJSON(t *testing.T) {
	b, err := json.Marshal(IssueResult{P50: 1.5, P90: 2.5, P99: 3.5, Stages: &Stages{Queue: 30, Work: 1, Record: 5}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{"p50_ms": 1.5, "p90_ms": 2.5, "p99_ms": 3.5} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v in %s", k, m[k], want, b)
		}
	}
	for _, k := range []string{"P50", "P90", "P99", "Duration"} {
		if _, ok := m[k]; ok {
			t.Errorf("key %s in %s", k, b)
		}
	}
	if st, _ := m["stage_mean_ms"].(map[string]any); st == nil || st["queue"] != 30.0 || st["record"] != 5.0 {
		t.Errorf("stage_mean_ms = %v in %s", m["stage_mean_ms"], b)
	}
}
