package cli

import (
	"os"
	"runtime"
	"runtime/debug"
)

// tuneRuntime sets the Go runtime for the long-running commands (ca serve,
// apply, renew, demo), each setting only when the environment does not
// choose it:
//
//   - GOGC 400: their live heap is a few MB and each certificate leaves tens
//     of KB of garbage, so Go's default (100) collects every few hundred
//     certificates; 400 trades a few MB of heap for ~10 % less CPU per
//     certificate under load.
//   - GOMAXPROCS twice the CPUs: the database's group commit and the stores'
//     commits block their threads in fsync and file creation, and Go hands a
//     blocked thread's P to other goroutines only late; with spare Ps the
//     signatures and key generations keep every core busy meanwhile
//     (RSA-2048 CA on 2 cores: 1,460 → 1,680 certificates/s; apply of 400
//     stores: 8.7 s → 7.5 s).
//
// docs/BENCHMARKS.md has the measurements; the benchmarks of enroll and
// apply set the same values.
func tuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2 * runtime.NumCPU())
	}
}
