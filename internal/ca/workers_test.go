package ca

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// queued waits until w holds n jobs not yet taken.
func queued(t *testing.T, w *workers, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(w.jobs) != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs queued, want %d", len(w.jobs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// occupy gives w's single worker a job that runs until release is called.
func occupy(t *testing.T, w *workers) (release func()) {
	t.Helper()
	started, block := make(chan struct{}), make(chan struct{})
	go w.do(context.Background(), func() { close(started); <-block })
	<-started
	var once sync.Once
	release = func() { once.Do(func() { close(block) }) }
	t.Cleanup(release) // before the test's deferred stop
	return release
}

func TestWorkers(t *testing.T) {
	t.Run("arrival order", func(t *testing.T) {
		w := newWorkers(1)
		t.Cleanup(w.stop)
		release := occupy(t, w)
		var mu sync.Mutex
		var order []int
		var wg sync.WaitGroup
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.do(context.Background(), func() { mu.Lock(); order = append(order, i); mu.Unlock() })
			}()
			queued(t, w, i+1) // the next one is sent after this one
		}
		release()
		wg.Wait()
		for i, v := range order {
			if v != i {
				t.Fatalf("ran in order %v", order)
			}
		}
	})
	t.Run("canceled before it runs", func(t *testing.T) {
		w := newWorkers(1)
		t.Cleanup(w.stop)
		release := occupy(t, w)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		ran := false
		if err := w.do(ctx, func() { ran = true }); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the deadline", err)
		}
		release() // the worker takes the canceled job next and skips it
		if err := w.do(context.Background(), func() {}); err != nil {
			t.Fatal(err)
		}
		if ran {
			t.Fatal("a canceled job ran")
		}
	})
	t.Run("panic reaches the caller", func(t *testing.T) {
		w := newWorkers(1)
		defer w.stop()
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
			if err := w.do(context.Background(), func() {}); err != nil {
				t.Fatalf("the worker did not survive the panic: %v", err)
			}
		}()
		w.do(context.Background(), func() { panic("boom") })
		t.Fatal("no panic")
	})
	t.Run("closing", func(t *testing.T) {
		w := newWorkers(1)
		release := occupy(t, w)
		ran := false
		errc := make(chan error, 1)
		go func() { errc <- w.do(context.Background(), func() { ran = true }) }()
		queued(t, w, 1)
		stopped := make(chan struct{})
		go func() { w.stop(); close(stopped) }()
		<-w.quit
		release() // the running job ends; the queued one is canceled
		<-stopped
		if err := <-errc; !errors.Is(err, ErrUnavailable) || ran {
			t.Fatalf("queued at close: err = %v, ran = %v", err, ran)
		}
		if err := w.do(context.Background(), func() { ran = true }); !errors.Is(err, ErrUnavailable) || ran {
			t.Fatalf("after close: err = %v, ran = %v", err, ran)
		}
	})
}

// TestWorkersYield: while a database server on this host needs a core
// (db.ServerRound), the first worker takes no job; a lone worker never
// waits; closing ends the wait.
func TestWorkersYield(t *testing.T) {
	t.Run("the first worker waits out the round", func(t *testing.T) {
		w := newWorkers(2)
		round := make(chan struct{})
		w.yield = func() <-chan struct{} { return round }
		t.Cleanup(w.stop)
		release := occupy(t, w) // taken by the worker that does not yield
		ran := make(chan struct{})
		go w.do(context.Background(), func() { close(ran) })
		queued(t, w, 1)
		time.Sleep(50 * time.Millisecond) // the yielding worker must leave it
		select {
		case <-ran:
			t.Fatal("a job ran while the round was at the server and the other worker busy")
		default:
		}
		close(round)
		<-ran // the yielding worker took it; the other one is still occupied
		release()
	})
	t.Run("a lone worker does not yield", func(t *testing.T) {
		w := newWorkers(1)
		w.yield = func() <-chan struct{} { return make(chan struct{}) } // a round that never ends
		t.Cleanup(w.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.do(ctx, func() {}); err != nil {
			t.Fatalf("the lone worker waited for the round: %v", err)
		}
	})
	t.Run("closing ends the wait", func(t *testing.T) {
		w := newWorkers(2)
		w.yield = func() <-chan struct{} { return make(chan struct{}) }
		if err := w.do(context.Background(), func() {}); err != nil { // the other worker runs it
			t.Fatal(err)
		}
		stopped := make(chan struct{})
		go func() { w.stop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Fatal("stop waited for the round")
		}
	})
}

// threadNice reads the calling thread's nice value from /proc.
func threadNice(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	n, err := strconv.Atoi(f[16]) // field 19 of stat, the 17th after the name
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWorkerPriority checks that the work runs on threads at workerNice
// and that the caller's thread keeps its priority.
func TestWorkerPriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are set on Linux only")
	}
	w := newWorkers(2)
	defer w.stop()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNice(t)
	var inside int
	if err := w.do(context.Background(), func() { inside = threadNice(t) }); err != nil {
		t.Fatal(err)
	}
	if inside != workerNice {
		t.Fatalf("work ran at nice %d, want %d", inside, workerNice)
	}
	if after := threadNice(t); after != before {
		t.Fatalf("the caller's thread went from nice %d to %d", before, after)
	}
}

func TestOpenWorkers(t *testing.T) {
	e, dir := newCA(t, "", "p256")
	if e.Workers() != workerCount(true) {
		t.Fatalf("default: %d workers, want one per CPU (%d)", e.Workers(), workerCount(true))
	}
	for _, c := range []struct {
		name    string
		workers int
		want    int   // workers of the opened engine
		err     error // or the error Open returns
	}{
		{name: "automatic", workers: 0, want: workerCount(true)},
		{name: "chosen", workers: 3, want: 3},
		{name: "at the bound", workers: MaxWorkers, want: MaxWorkers},
		{name: "negative", workers: -1, err: ErrBadRequest},
		{name: "over the bound", workers: MaxWorkers + 1, err: ErrBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := Open(context.Background(), dir, OpenOptions{Passphrase: testPassphrase, Workers: c.workers})
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Open: %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if o.Workers() != c.want {
				t.Fatalf("%d workers, want %d", o.Workers(), c.want)
			}
		})
	}
}
