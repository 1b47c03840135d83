package enroll

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"edgecert/internal/bench"
	"edgecert/internal/ca"
	"edgecert/internal/testtool"
)

// Benchmarks of the HTTPS API with keep-alive clients and the embedded
// database, as `go test -run '^$' -bench . ./internal/enroll`. Each reports
// certificates (or requests) per second and p50/p99 latency.

// tuned runs the benchmark with the runtime settings of `ca serve`
// (cli.tuneServer: GOGC 1600 with a 1 GiB soft memory limit, one P per CPU
// and one more),
// restoring the test binary's afterwards.
func tuned(b *testing.B) {
	gc := debug.SetGCPercent(1600)
	limit := debug.SetMemoryLimit(1 << 30)
	procs := runtime.GOMAXPROCS(runtime.NumCPU() + 1)
	b.Cleanup(func() { debug.SetGCPercent(gc); debug.SetMemoryLimit(limit); runtime.GOMAXPROCS(procs) })
}

func benchCA(b *testing.B, key, dsn string) (*testCA, string, *http.Client) {
	b.Helper()
	tuned(b)
	tc := newRealCAKey(b, key, dsn)
	url, client := serveBench(b, tc.eng, tc.root())
	return tc, url, client
}

// serveBench serves eng on loopback and returns its URL and a net/http
// client that trusts root.
func serveBench(b *testing.B, eng Engine, root *x509.Certificate) (string, *http.Client) {
	b.Helper()
	url, stop, err := StartLoopback(eng, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stop() })
	pool := x509.NewCertPool()
	pool.AddCert(root)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 256, MaxIdleConns: 256}
	b.Cleanup(tr.CloseIdleConnections)
	return url, &http.Client{Transport: tr}
}

// benchConns returns one load-generator connection per client
// (bench.Conn: the client `edgecert bench issue` uses, lighter than
// net/http's, so that less of the shared CPU goes to the client).
func benchConns(b *testing.B, url string, client *http.Client, clients int) []*bench.Conn {
	b.Helper()
	conf := client.Transport.(*http.Transport).TLSClientConfig
	conns := make([]*bench.Conn, clients)
	for i := range conns {
		conns[i] = bench.NewConn(strings.TrimPrefix(url, "https://"), conf)
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// post sends body to the submission API on conn and wants 201.
func post(conn *bench.Conn, token string, body []byte) error {
	status, answer, err := conn.Do("POST", "/api/v1/certificates", "Authorization: Bearer "+token+"\r\nContent-Type: application/json\r\n", body)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("status %d: %s", status, answer)
	}
	return nil
}

// drive runs n calls of do over clients goroutines and reports the rate and
// latency percentiles.
func drive(b *testing.B, clients, n int, unit string, do func(w, i int) error) {
	b.Helper()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := do(w, i); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				lat[i] = time.Since(t0)
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d failed; first: %v", f, n, firstErr.Load())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(n)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(n-1, n*99/100)].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/op")
}

// processCPU is the user and system CPU time of this process (server and
// load generator together): the cost per operation, less sensitive than
// the rate to other load on the machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIssueHTTPS: POST /api/v1/certificates with P-256 requests.
func BenchmarkIssueHTTPS(b *testing.B) {
	for _, key := range []string{"p256", "rsa2048"} {
		for _, clients := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("ca=%s/clients=%d", key, clients), func(b *testing.B) {
				benchIssue(b, key, "", clients)
			})
		}
	}
}

// BenchmarkIssueHTTPSPostgres: the same at 64 clients with the database on
// the test PostgreSQL server (EDGECERT_TEST_PG_DSN).
func BenchmarkIssueHTTPSPostgres(b *testing.B) {
	for _, key := range []string{"p256", "rsa2048"} {
		b.Run("ca="+key+"/clients=64", func(b *testing.B) {
			benchIssue(b, key, testtool.PostgresSchema(b), 64)
		})
	}
}

func benchIssue(b *testing.B, key, dsn string, clients int) {
	tc, url, client := benchCA(b, key, dsn)
	bodies := issueBodies(b, b.N)
	conns := benchConns(b, url, client, clients)
	drive(b, clients, b.N, "certs", func(w, i int) error {
		return post(conns[w], tc.tokAlice, bodies[i])
	})
}

func issueBodies(b *testing.B, n int) [][]byte {
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]string{"csr": newCSR(b, fmt.Sprintf("b%d.contoso.com", i)), "template": tmplAuto})
	}
	return bodies
}

// BenchmarkIssueHTTPSNetHTTP: BenchmarkIssueHTTPS at 64 clients with Go's
// net/http client as the load generator, for comparison: the server is the
// same, the client's CPU is taken from it.
func BenchmarkIssueHTTPSNetHTTP(b *testing.B) {
	for _, key := range []string{"p256", "rsa2048"} {
		b.Run("ca="+key+"/clients=64", func(b *testing.B) {
			tc, url, client := benchCA(b, key, "")
			bodies := issueBodies(b, b.N)
			drive(b, 64, b.N, "certs", func(_, i int) error {
				req, _ := http.NewRequest("POST", url+"/api/v1/certificates", bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+tc.tokAlice)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					return fmt.Errorf("status %d: %s", resp.StatusCode, body)
				}
				return nil
			})
		})
	}
}

// BenchmarkIssueEngine: the engine's own rate (Submit called directly),
// for comparison with BenchmarkIssueHTTPS.
func BenchmarkIssueEngine(b *testing.B) {
	for _, key := range []string{"p256", "rsa2048"} {
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("ca=%s/clients=%d", key, clients), func(b *testing.B) {
				tuned(b)
				tc := newRealCAKey(b, key, "")
				p, err := tc.eng.AuthenticateToken(context.Background(), tc.tokAlice)
				if err != nil {
					b.Fatal(err)
				}
				csrs := make([][]byte, b.N)
				for i := range csrs {
					csrs[i] = []byte(newCSR(b, fmt.Sprintf("e%d.contoso.com", i)))
				}
				drive(b, clients, b.N, "certs", func(_, i int) error {
					res, err := tc.eng.Submit(context.Background(), p, csrs[i], tmplAuto)
					if err == nil && res.Status != ca.StatusIssued {
						err = fmt.Errorf("status %s", res.Status)
					}
					return err
				})
			})
		}
	}
}

// BenchmarkServePublications: GET the chain and the CRL at 64 clients.
func BenchmarkServePublications(b *testing.B) {
	for _, path := range []string{"/api/v1/ca/chain", "/api/v1/crl", "/certsrv/certnew.p7b"} {
		b.Run(path, func(b *testing.B) {
			_, url, client := benchCA(b, "p256", "")
			conns := benchConns(b, url, client, 64)
			drive(b, 64, b.N, "req", func(w, _ int) error {
				status, _, err := conns[w].Do("GET", path, "", nil)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d", status)
				}
				return err
			})
		})
	}
}

// fixedEngine answers every submission with the same issued result: it
// isolates the cost of the HTTPS layer (TLS, HTTP, JSON, metrics) from the
// engine's.
type fixedEngine struct {
	Engine
	res *ca.Result
}

func (f *fixedEngine) Submit(context.Context, *ca.Principal, []byte, string) (*ca.Result, error) {
	r := *f.res
	return &r, nil
}

// BenchmarkAPIOverhead: the HTTPS API with a zero-cost engine at 64 clients.
func BenchmarkAPIOverhead(b *testing.B) {
	tc := newRealCAKey(b, "p256", "")
	p, _ := tc.eng.AuthenticateToken(context.Background(), tc.tokAlice)
	res, err := tc.eng.Submit(context.Background(), p, []byte(newCSR(b, "fixed.contoso.com")), tmplAuto)
	if err != nil {
		b.Fatal(err)
	}
	url, client := serveBench(b, &fixedEngine{Engine: tc.eng, res: res}, tc.root())
	body, _ := json.Marshal(map[string]string{"csr": newCSR(b, "x.contoso.com"), "template": tmplAuto})
	conns := benchConns(b, url, client, 64)
	drive(b, 64, b.N, "certs", func(w, _ int) error {
		return post(conns[w], tc.tokAlice, body)
	})
}
