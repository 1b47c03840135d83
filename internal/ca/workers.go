package ca

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// workers does the CPU work of submissions (parsing and checking the
// request, linting and signing the certificate) in arrival order on a fixed
// set of goroutines, each on an OS thread of its own at a lower scheduling
// priority (nice 10 on Linux; workers_linux.go).
//
// At full load the signatures fill every core, and the rest of the CA's
// work, small but waited on (reading requests, the group commit's fsync,
// writing answers), used to wait for a time slice behind them: under load
// the fsync of a commit round took 0.4 ms at p50 but 8–14 ms at p99, and
// every answer of the round waited with it. On lower-priority threads the
// signatures give the cores up as soon as that work is ready. RSA-2048 CA,
// 64 clients: p99 53–58 → 46–50 ms for ~6 % fewer certificates/s
// (docs/BENCHMARKS.md, "Second re-run"). A key Go signs with gets one worker
// per CPU; a key in a token, whose signature may wait on a device, more
// (workerCount). The threads are started on the first submission and end
// with Close; a lowered thread never returns to Go's pool.
//
// Nice values order threads within one scheduling group only. A database
// server on this host runs in a group of its own, and it needs a core to
// finish each commit round: while a round is there, the first worker takes
// no job (yield).
type workers struct {
	n     int
	once  sync.Once
	jobs  chan *job
	quit  chan struct{}
	wg    sync.WaitGroup
	stopd sync.Once
	// yield, when set, returns a channel that stays open while a process
	// of this machine needs a core for the CA (a database server finishing
	// a commit round: db.ServerRound); the first worker takes no job until
	// it closes. Set before the first job.
	yield func() <-chan struct{}
}

// job is one piece of CPU work; state moves from queued to running or to
// canceled exactly once.
type job struct {
	fn    func()
	state atomic.Int32
	done  chan struct{}
	panic any // what fn panicked with, re-raised in the caller
}

const (
	jobQueued int32 = iota
	jobRunning
	jobCanceled
)

var errClosing = fmt.Errorf("the CA is closing: %w", ErrUnavailable)

func newWorkers(n int) *workers {
	return &workers{n: n, jobs: make(chan *job, 1024), quit: make(chan struct{})}
}

// do runs fn on a worker and waits for it. It returns ctx's error, without
// running fn, when ctx ends before a worker takes the job; once fn runs,
// do waits for it whatever ctx does.
func (w *workers) do(ctx context.Context, fn func()) error {
	select {
	case <-w.quit:
		return errClosing
	default:
	}
	w.once.Do(w.start)
	j := &job{fn: fn, done: make(chan struct{})}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return errClosing
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobCanceled) {
			return ctx.Err()
		}
		<-j.done
	case <-w.quit: // the workers may be gone before taking it
		if j.state.CompareAndSwap(jobQueued, jobCanceled) {
			return errClosing
		}
		<-j.done
	}
	if j.state.Load() == jobCanceled { // drained by a closing worker
		return errClosing
	}
	if j.panic != nil {
		panic(j.panic)
	}
	return nil
}

func (w *workers) start() {
	for i := 0; i < w.n; i++ {
		w.wg.Add(1)
		go w.run(i == 0 && w.n > 1 && w.yield != nil)
	}
}

// run takes jobs until the workers stop; a worker that yields first waits
// out every yield channel before it takes one.
func (w *workers) run(yields bool) {
	defer w.wg.Done()
	// Never unlocked: the thread's priority stays lowered, and Go ends the
	// thread with this goroutine instead of reusing it.
	runtime.LockOSThread()
	lowerThreadPriority()
	for {
		select {
		case <-w.quit: // closing comes before the next job
			w.drain()
			return
		default:
		}
		if yields {
			if ch := w.yield(); ch != nil {
				select {
				case <-ch:
				case <-w.quit:
					w.drain()
					return
				}
			}
		}
		select {
		case j := <-w.jobs:
			w.runJob(j)
		case <-w.quit:
			w.drain()
			return
		}
	}
}

// drain cancels what is queued when the CA closes.
func (w *workers) drain() {
	for {
		select {
		case j := <-w.jobs:
			j.state.CompareAndSwap(jobQueued, jobCanceled)
			close(j.done)
		default:
			return
		}
	}
}

func (w *workers) runJob(j *job) {
	defer close(j.done)
	if !j.state.CompareAndSwap(jobQueued, jobRunning) {
		return
	}
	defer func() { j.panic = recover() }()
	j.fn()
}

// stop ends the workers after the jobs they are running.
func (w *workers) stop() {
	w.once.Do(func() {}) // no start after this, and none still adding to wg
	w.stopd.Do(func() { close(w.quit) })
	w.wg.Wait()
}

// workerCount is how many submissions do their CPU work at once: one per
// CPU for a key Go signs with (the signature is CPU work), four per CPU for
// a key in a token, whose signature may wait on a device or a network
// while the CPU could serve others.
func workerCount(softKey bool) int {
	if softKey {
		return runtime.NumCPU()
	}
	return 4 * runtime.NumCPU()
}
