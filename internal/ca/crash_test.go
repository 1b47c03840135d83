package ca

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "EDGECERT_CA_CRASH_CHILD_DIR"

// TestCrashChild is the child process of TestCrashSafety: it issues
// continuously from several goroutines and prints each serial it received.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child process of TestCrashSafety only")
	}
	ctx := context.Background()
	e, err := Open(ctx, dir, OpenOptions{Passphrase: testPassphrase, DSN: os.Getenv(crashEnv + "_DSN")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	admin := mustPrincipal(t, e, "admin")
	csr := makeCSR(t, csrSpec{cn: "crash.contoso.com"})
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, err := e.Submit(ctx, admin, csr, "WebServer")
				if err != nil {
					fmt.Fprintln(os.Stderr, "submit:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintln(os.Stdout, res.Serial) // only after the record is durable
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashSafety kills a CA under continuous issuance with SIGKILL at
// random moments, many times, and then checks that every certificate a
// client received is in the database, no serial appears twice, and the
// CRL still verifies.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			e, dir := newCA(t, dsn, "p256")
			e.Close()
			received := map[string]int{}
			rounds := 20
			for round := 0; round < rounds; round++ {
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashEnv+"_DSN="+dsn)
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				lines := make(chan string, 1024)
				go func() {
					sc := bufio.NewScanner(out)
					for sc.Scan() {
						lines <- sc.Text()
					}
					close(lines)
				}()
				// Kill at a random moment once issuance is under way.
				deadline := time.After(time.Duration(300+rand.IntN(700)) * time.Millisecond)
				got := 0
			loop:
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							break loop
						}
						if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "PASS") && !strings.HasPrefix(s, "ok") && !strings.Contains(s, "===") {
							received[s]++
							got++
						}
					case <-deadline:
						if got == 0 {
							deadline = time.After(100 * time.Millisecond) // wait for the first certificate
							continue
						}
						cmd.Process.Signal(syscall.SIGKILL)
						deadline = nil
					}
				}
				cmd.Wait()
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
					t.Fatalf("round %d: child ended without being killed: %v\n%s", round, cmd.ProcessState, stderr.String())
				}
			}
			e2, err := Open(context.Background(), dir, OpenOptions{Passphrase: testPassphrase, DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			defer e2.Close()
			ctx := context.Background()
			for s, n := range received {
				if n != 1 {
					t.Errorf("serial %s received %d times", s, n)
				}
				if _, err := e2.db.Certificate(ctx, s); err != nil {
					t.Errorf("received certificate %s is not in the database: %v", s, err)
				}
			}
			all, err := e2.Certificates(ctx, false, 0)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, c := range all {
				if seen[c.Serial] {
					t.Errorf("serial %s twice in the database", c.Serial)
				}
				seen[c.Serial] = true
			}
			t.Logf("%d rounds, %d certificates received, %d in the database", rounds, len(received), len(all))
			if len(received) == 0 {
				t.Fatal("no certificate was issued")
			}
			admin := mustPrincipal(t, e2, "admin")
			i := 0
			for s := range received {
				if i++; i > 5 {
					break
				}
				n, _ := ParseSerial(s)
				if err := e2.Revoke(ctx, admin, n, "keyCompromise"); err != nil {
					t.Fatal(err)
				}
			}
			der, err := e2.CRL(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			if crl := checkCRL(t, e2, der, false); len(crl.RevokedCertificateEntries) != 5 {
				t.Fatalf("CRL has %d entries", len(crl.RevokedCertificateEntries))
			}
		})
	}
}
