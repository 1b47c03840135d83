package ca

import (
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"edgecert/internal/db"
	"edgecert/internal/testtool"
)

// BenchmarkIssue measures issuance through the engine (parse, policy, lint,
// sign once, group-committed durable record) with the on-disk SQLite
// database, 32 concurrent submitters per CPU. Run with -cpu 1,2.
func BenchmarkIssue(b *testing.B) {
	for _, key := range []string{"rsa2048", "p256"} {
		b.Run(key, func(b *testing.B) {
			e, _ := newCA(b, "", key)
			benchIssue(b, e)
		})
	}
}

// BenchmarkIssuePostgres is BenchmarkIssue with PostgreSQL (EDGECERT_TEST_PG_DSN).
func BenchmarkIssuePostgres(b *testing.B) {
	for _, key := range []string{"rsa2048", "p256"} {
		b.Run(key, func(b *testing.B) {
			e, _ := newCA(b, testtool.PostgresSchema(b), key)
			benchIssue(b, e)
		})
	}
}

func benchIssue(b *testing.B, e *Engine) {
	ctx := context.Background()
	admin := mustPrincipal(b, e, "admin")
	csrs := make([][]byte, 64)
	for i := range csrs {
		csrs[i] = makeCSR(b, csrSpec{cn: fmt.Sprintf("edge%d.contoso.com", i), dns: []string{fmt.Sprintf("edge%d.contoso.com", i), "sip.contoso.com"}})
	}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(32)
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		i := 0
		for pb.Next() {
			t0 := time.Now()
			if _, err := e.Submit(ctx, admin, csrs[i%len(csrs)], "WebServer"); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
			i++
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	el := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/el.Seconds(), "certs/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(lat))/cpu.Seconds(), "certs/cpu-s")
	}
}

// BenchmarkRawSign is the signing rate of the same kind of issuing key, for
// comparison with BenchmarkIssue.
func BenchmarkRawSign(b *testing.B) {
	for _, key := range []string{"rsa2048", "p256"} {
		b.Run(key, func(b *testing.B) {
			e, _ := newCA(b, "", key)
			digest := sha256.Sum256([]byte("tbs"))
			b.ResetTimer()
			cpu0 := cpuTime()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.signer.Sign(e.rand, digest[:], crypto.SHA256); err != nil {
						b.Error(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "signs/s")
			b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "signs/cpu-s")
		})
	}
}

// bigCA is an RSA-2048 CA (the slower signer) with
// 1,000,000 revoked certificates in its on-disk SQLite database.
func bigCA(b *testing.B, revoked int) *Engine {
	e, _ := newCA(b, "", "rsa2048")
	ctx := context.Background()
	now := e.now()
	const chunk = 100000
	for i := 0; i < revoked; i += chunk {
		var rs []db.Revocation
		for j := i; j < i+chunk && j < revoked; j++ {
			at, reason := now.Add(-time.Duration(j)*time.Second), []int{0, 1, 4, 5}[j%4]
			entry, err := crlEntry(serialHexOf(j), at, reason)
			if err != nil {
				b.Fatal(err)
			}
			rs = append(rs, db.Revocation{Serial: serialHexOf(j), RevokedAt: at, Reason: reason, Entry: entry})
		}
		if err := e.db.BulkRevoked(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkRevocation1M: revoking one more certificate, and building the
// full CRL, with 1,000,000 revoked certificates in the database.
func BenchmarkRevocation1M(b *testing.B) {
	e := bigCA(b, 1000000)
	ctx := context.Background()
	admin := mustPrincipal(b, e, "admin")
	next := 0
	b.Run("revoke-one", func(b *testing.B) {
		serials := make([]string, b.N)
		for i := range serials {
			next++
			serials[i] = fmt.Sprintf("7%031X", next)
			if _, err := e.db.InsertIssued(ctx, db.Request{Requester: "admin", Template: "WebServer", Subject: "CN=x", Submitted: e.now()},
				db.Cert{Serial: serials[i], Requester: "admin", Template: "WebServer", Subject: "CN=x", NotBefore: e.now(), NotAfter: e.now(), DER: []byte{0}},
				db.Audit{At: e.now(), Actor: "bench", Action: "submit", Result: "issued"}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			n, _ := ParseSerial(serials[i])
			if err := e.Revoke(ctx, admin, n, "superseded"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full-crl", func(b *testing.B) {
		b.ReportAllocs()
		var peak uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // sample the heap while the CRL is built
			defer close(done)
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak {
					peak = ms.HeapInuse
				}
			}
		}()
		runtime.GC()
		b.ResetTimer()
		var size int
		for i := 0; i < b.N; i++ {
			e.crl.mu.Lock()
			c, err := e.signCRL(ctx, db.CRLHead{}, nil)
			e.crl.mu.Unlock()
			if err != nil {
				b.Fatal(err)
			}
			size = len(c.DER)
		}
		b.StopTimer()
		close(stop)
		<-done
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(size)/(1<<20), "crl-MiB")
	})
}

// cpuTime is the process's user+system CPU time (robust against other
// load on a shared machine, unlike wall-clock rates).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
