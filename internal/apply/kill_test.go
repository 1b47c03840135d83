package apply_test

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
)

const childDirEnv = "EDGECERT_TEST_APPLY_CHILD_DIR"

// TestKillChild is the child of TestKilledApplyFinishes: it runs the whole
// procedure on the workspace the parent made, and is killed at random.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestKilledApplyFinishes")
	}
	e := applytest.New(t, applytest.Example(t, "demo.yaml"), applytest.Options{Dir: dir})
	opts := e.Options()
	opts.Verify.SkipRevocation = true
	e.ApplyAll(t, opts)
}

// TestKilledApplyFinishes kills apply (a child process) with SIGKILL at
// random points, runs it again until it finishes, and checks that every
// certificate ends with exactly one key, installed and assigned everywhere.
func TestKilledApplyFinishes(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := applytest.New(t, applytest.Example(t, "demo.yaml"), applytest.Options{})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	kills := 0
	for run := 0; run < 40; run++ {
		cmd := exec.Command(exe, "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childDirEnv+"="+e.Dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		if kills < 12 {
			select {
			case err = <-done:
			case <-time.After(time.Duration(rng.IntN(700)) * time.Millisecond):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
				kills++
				continue
			}
		} else {
			err = <-done
		}
		if err == nil {
			break
		}
		t.Fatalf("child run %d failed (not killed): %v", run, err)
	}
	t.Logf("killed apply %d times", kills)
	opts := e.Options()
	opts.Verify.SkipRevocation = true
	res := e.ApplyAll(t, opts)
	if !res.Complete() {
		t.Fatalf("not complete after the kills: %+v", res)
	}
	checkStores(t, e)
	st, err := apply.Status(e.Plan, e.Workspace)
	if err != nil || !st.Complete {
		t.Fatalf("status: %v %+v", err, st)
	}
}
