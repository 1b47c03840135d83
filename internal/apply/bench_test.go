package apply_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/store"
)

// BenchmarkApply400Stores applies a topology of 100 edge pools of 4
// servers (400 stores, 200 RSA-2048 keys: one internal and one external
// certificate per pool) with the product's CA engine, from an empty
// workspace each iteration. Compare with BenchmarkKeygen200.
func BenchmarkApply400Stores(b *testing.B) { benchApply(b, true) }

// BenchmarkApply400StoresStandInCA is the same with the stand-in CA, to
// tell the CA engine's share of the time from apply's.
func BenchmarkApply400StoresStandInCA(b *testing.B) { benchApply(b, false) }

func benchApply(b *testing.B, engine bool) {
	e := applytest.New(b, applytest.EdgePoolsYAML(100, 4), applytest.Options{EngineCA: engine})
	if n := len(e.Plan.Certificates); n != 200 {
		b.Fatalf("plan has %d certificates, want 200", n)
	}
	opts := e.Options()
	opts.Verify.SkipRevocation = false
	// As the apply command runs (cli.tuneRuntime): GOGC 400, 2 Ps per CPU.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2 * runtime.NumCPU()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "ws")
		ws, err := apply.OpenWorkspace(dir, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := apply.Run(context.Background(), e.Plan, ws, opts)
		if err != nil || !res.Complete() {
			b.Fatalf("apply: %v %+v", err, res)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(200, "keys/op")
}

// BenchmarkKeygen200 generates 200 RSA-2048 keys on every CPU: the floor
// under BenchmarkApply400Stores.
func BenchmarkKeygen200(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		next := make(chan struct{}, 200)
		for k := 0; k < 200; k++ {
			next <- struct{}{}
		}
		close(next)
		for w := 0; w < runtime.NumCPU(); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					if _, err := rsa.GenerateKey(rand.Reader, 2048); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		wg.Wait()
	}
}
