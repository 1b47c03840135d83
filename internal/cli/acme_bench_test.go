package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"

	"edgecert/internal/ca"
)

// sharedHTTP01 answers http-01 for every client of the benchmark on one
// loopback port (a lego provider).
type sharedHTTP01 struct {
	mu   sync.Mutex
	keys map[string]string
}

func (s *sharedHTTP01) Present(_ context.Context, _, token, keyAuth string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[token] = keyAuth
	return nil
}

func (s *sharedHTTP01) CleanUp(_ context.Context, _, token, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, token)
	return nil
}

// procCPU is the user and system CPU time of process pid so far.
func procCPU(b testing.TB, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, stime: fields 14 and 15
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// BenchmarkACMEServe runs lego's complete flows (new order, http-01,
// finalize, download) with 64 accounts against the real binary's
// `ca serve` (P-256 CA, SQLite), and reports orders/s, the p50/p99 of one
// flow and the server process's CPU per certificate (docs/BENCHMARKS.md).
//
//	go test ./internal/cli -run '^$' -bench BenchmarkACMEServe -benchtime 1000x
//
// With EDGECERT_BENCH_SERVE_PROFILE=FILE the server runs under `bench
// profile` and writes its CPU profile (the whole run, start included) to
// FILE (an absolute path); read it with `go tool pprof -top -cum BINARY
// FILE`, BINARY the edgecert the benchmark built (its temporary
// directory is gone by then: build the same one with go build).
func BenchmarkACMEServe(b *testing.B) {
	const flows = 64
	p, _, chain := newACMECA(b)
	p.profile = os.Getenv("EDGECERT_BENCH_SERVE_PROFILE")
	p.start(b)
	resp := &sharedHTTP01{keys: map[string]string{}}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.httpPort))
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp.mu.Lock()
		defer resp.mu.Unlock()
		io.WriteString(w, resp.keys[strings.TrimPrefix(r.URL.Path, "/.well-known/acme-challenge/")])
	})}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	roots, err := lego.CreateCertPool([]string{chain}, false)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := ca.Open(context.Background(), p.dir, ca.OpenOptions{WithoutKey: true})
	if err != nil {
		b.Fatal(err)
	}
	clients := make([]*lego.Client, flows)
	for i := range clients {
		k, err := eng.NewEABKey(context.Background(), "webadmin")
		if err != nil {
			b.Fatal(err)
		}
		u := &cliLegoUser{}
		u.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cfg := lego.NewConfig(u)
		cfg.CADirURL = p.url + "/acme/WebServer/directory"
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: 4}}
		c, err := lego.NewClient(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if u.reg, err = c.Registration.RegisterWithExternalAccountBinding(context.Background(), registration.RegisterEABOptions{TermsOfServiceAgreed: true, Kid: k.KID, HmacEncoded: k.HMACKey}); err != nil {
			b.Fatal(err)
		}
		c.Challenge.SetHTTP01Provider(resp)
		clients[i] = c
	}
	eng.Close()
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	cpu0 := procCPU(b, p.cmd.Process.Pid)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := c.Certificate.Obtain(context.Background(), certificate.ObtainRequest{Domains: []string{fmt.Sprintf("s%d.contoso.test", n)}, KeyType: certcrypto.EC256}); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	cpu := procCPU(b, p.cmd.Process.Pid) - cpu0
	if p.profile != "" { // stop the server so that it writes its profile
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/el.Seconds(), "orders/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(lat)), "server-cpu-ms/cert")
}
