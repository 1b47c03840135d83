package store

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgecert/internal/certfmt"
)

// The tests below re-execute the test binary as a child process; the
// environment variable selects what the child does.
const (
	envChild    = "EDGECERT_STORE_TEST_CHILD" // crash | lock | import
	envChildDir = "EDGECERT_STORE_TEST_DIR"
)

func child(t *testing.T, mode, dir string, extra ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envChildDir+"="+dir)
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestChildProcess is the body of the child processes; it does nothing in
// a normal test run.
func TestChildProcess(t *testing.T) {
	mode, dir := os.Getenv(envChild), os.Getenv(envChildDir)
	switch mode {
	case "":
		t.Skip("only runs as a child of the process tests")
	case "crash":
		crashChild(t, dir)
	case "lock":
		s := openTest(t, dir, "")
		unlock, err := s.lock(true)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("LOCKED")
		time.Sleep(1500 * time.Millisecond)
		unlock()
	case "import":
		s := openTest(t, dir, "")
		p := newPKI(t, os.Getenv("EDGECERT_STORE_TEST_NAME"), 0)
		for i := 0; i < 15; i++ {
			k := newKey(t, 0)
			leaf := p.leaf(t, k.Public(), fmt.Sprintf("n%d.contoso.com", i), testNow.AddDate(1, 0, 0))
			data := pfxOf(t, &certfmt.PFX{Key: k, Leaf: leaf, CA: []*x509.Certificate{p.inter, p.root}}, "pw")
			if _, err := s.Import(data, ImportOptions{Password: "pw"}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// crashChild changes the store in a loop until it is killed: requests,
// joins, PFX export and re-import, assignment, deletion.
func crashChild(t *testing.T, dir string) {
	s := openTest(t, dir, os.Getenv("EDGECERT_STORE_TEST_PASS"))
	p := newPKI(t, fmt.Sprintf("Crash %d", os.Getpid()), 0)
	if _, err := s.Import(p7bOf(t, p.inter, p.root), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(os.Getenv("EDGECERT_STORE_TEST_OUT"), "export.pfx")
	for i := 0; ; i++ {
		name := fmt.Sprintf("edge %d-%d", os.Getpid(), i)
		pend := newRequest(t, s, fmt.Sprintf("e%d.contoso.com", i), name, true)
		leaf := issueFor(t, p, pend, testNow.AddDate(1, 0, 0))
		if _, err := s.Import(pemOf(leaf, p.inter), ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		data, err := s.Export(thumb(leaf), ExportOptions{Format: "pfx", Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(thumb(leaf)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Import(data, ImportOptions{Password: "pw", Exportable: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
		if err := s.Assign("Internal", thumb(leaf)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := s.DeleteKey(thumb(leaf)); err != nil {
				t.Fatal(err)
			}
		}
		// Keep the store small: drop my entries that are not assigned.
		mine, _ := s.List(My)
		for _, e := range mine {
			if e.Thumbprint != thumb(leaf) {
				if err := s.Delete(e.Thumbprint); err != nil && !errors.Is(err, ErrInvalidInput) {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestCrashSafety kills a process that changes the store at random points
// (SIGKILL), many times, and checks after each kill that the store is
// consistent: every entry has its files, keys match certificates, nothing
// is orphaned, list works.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is slow")
	}
	for _, pass := range []string{"", "sealed"} {
		t.Run("passphrase="+pass, func(t *testing.T) {
			dir, out := t.TempDir(), t.TempDir()
			kills := 50
			if pass != "" {
				kills = 15 // sealing is deliberately slow (memory-hard KDF)
			}
			for i := 0; i < kills; i++ {
				cmd := child(t, "crash", dir, "EDGECERT_STORE_TEST_OUT="+out, "EDGECERT_STORE_TEST_PASS="+pass)
				cmd.Stdout = nil
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(60+rand.IntN(250)) * time.Millisecond)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_ = cmd.Wait()
				s := openTest(t, dir, pass)
				if err := s.Check(); err != nil {
					t.Fatalf("after kill %d: %v", i+1, err)
				}
				entries, err := s.List("")
				if err != nil {
					t.Fatalf("after kill %d: list: %v", i+1, err)
				}
				for _, e := range entries {
					if e.Location == My && e.HasKey {
						if _, err := s.PrivateKey(e.Thumbprint); err != nil {
							t.Fatalf("after kill %d: key of %s: %v", i+1, e.Thumbprint, err)
						}
					}
				}
				if as, err := s.Assignments(); err != nil {
					t.Fatal(err)
				} else {
					for _, a := range as {
						if _, _, err := s.Certificate(a.Thumbprint); err != nil {
							t.Fatalf("after kill %d: assignment %s: %v", i+1, a.Usage, err)
						}
					}
				}
				// The next change removes what the killed one left.
				if err := s.update(func(*txn) error { return nil }); err != nil {
					t.Fatalf("after kill %d: a change: %v", i+1, err)
				}
				for _, pat := range []string{tmpPrefix + "*", "*/" + tmpPrefix + "*"} {
					if ents, _ := filepath.Glob(filepath.Join(dir, pat)); len(ents) > 0 {
						t.Fatalf("after kill %d: temporary files left after a change: %v", i+1, ents)
					}
				}
				idx, _ := s.snapshot()
				s.mu.Lock()
				left := s.leftoversLocked(idx)
				s.mu.Unlock()
				for rel := range left {
					if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
						t.Fatalf("after kill %d: %s, left by the killed change, is still there after a change", i+1, rel)
					}
				}
			}
			s := openTest(t, dir, pass)
			all, _ := s.List("")
			t.Logf("%d kills; the store holds %d entries", kills, len(all))
			if len(all) == 0 {
				t.Fatal("the child never committed anything: the kills came too early")
			}
		})
	}
}

// TestLockTwoProcesses: a second process waits for the lock, up to its
// timeout, then gets ErrLocked.
func TestLockTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir, "")
	cmd := child(t, "lock", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.Contains(sc.Text(), "LOCKED") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	_, err = Open(dir, Options{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("while the other process holds the lock: err = %v, want ErrLocked", err)
	}
	s, err := Open(dir, Options{LockTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("waiting for the lock: %v", err)
	}
	if _, err := s.List(""); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentImports: two processes importing at once lose nothing.
func TestConcurrentImports(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir, "")
	var cmds []*exec.Cmd
	for _, name := range []string{"A", "B"} {
		cmd := child(t, "import", dir, "EDGECERT_STORE_TEST_NAME="+name)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	s := openTest(t, dir, "")
	mustCheck(t, s)
	mine, _ := s.List(My)
	roots, _ := s.List(Root)
	if len(mine) != 30 || len(roots) != 2 {
		t.Fatalf("my %d (want 30), root %d (want 2)", len(mine), len(roots))
	}
}
