package bench

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var randReader = rand.Reader

// SignRate is the raw signing rate of one key.
type SignRate struct {
	PerSecond  float64 `json:"per_second"`
	Goroutines int     `json:"goroutines"`
	Algorithm  string  `json:"algorithm"`
}

// MeasureSignRate signs SHA-256 digests with key from GOMAXPROCS goroutines
// for d and returns the rate.
func MeasureSignRate(key crypto.Signer, d time.Duration) SignRate {
	n := runtime.GOMAXPROCS(0)
	var count atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	digest := sha256.Sum256([]byte("edgecert raw signing rate"))
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					return
				}
				count.Add(1)
			}
		}()
	}
	t0 := time.Now()
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return SignRate{PerSecond: float64(count.Load()) / time.Since(t0).Seconds(), Goroutines: n, Algorithm: fmt.Sprintf("%T", key.Public())}
}

// rawSignRate asks the edgecert binary to measure the CA's own issuing key
// (`edgecert bench sign-rate`), so that the figure comes from the same key
// and build as the run.
func rawSignRate(exe string, env []string, dir, passFile string) (float64, int, error) {
	cmd := exec.Command(exe, "bench", "sign-rate", "--dir", filepath.Join(dir, "ca"), "--passphrase-file", passFile, "-o", "json")
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	var r SignRate
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return 0, 0, err
	}
	return r.PerSecond, r.Goroutines, nil
}

// procCPU returns the user+system CPU seconds of process pid.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: bad /proc stat")
	}
	const clkTck = 100 // USER_HZ on Linux
	return (ut + st) / clkTck, nil
}
