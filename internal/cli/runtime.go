package cli

import (
	"os"
	"runtime"
	"runtime/debug"
)

// tuneRuntime sets the Go runtime for the long-running commands (apply,
// renew, demo), each setting only when the environment does not choose it:
//
//   - GOGC 400: their live heap is a few MB and each certificate leaves tens
//     of KB of garbage, so Go's default (100) collects every few hundred
//     certificates; 400 trades a few MB of heap for ~10 % less CPU per
//     certificate under load.
//   - GOMAXPROCS twice the CPUs: the database's group commit and the stores'
//     commits block their threads in fsync and file creation, and Go hands a
//     blocked thread's P to other goroutines only late; with spare Ps the
//     key generations keep every core busy meanwhile (apply of 400 stores:
//     8.7 s → 7.5 s).
//
// docs/BENCHMARKS.md has the measurements; the apply benchmarks set the
// same values (the enroll benchmarks mirror tuneServer).
func tuneRuntime() { tune(400, 2*runtime.NumCPU()) }

// tuneServer is tuneRuntime for `ca serve`, each setting unless the
// environment chooses it:
//
//   - GOGC 1600: the server's live heap is ~3 MB, so even at 400 it
//     collected every ~16 MB, several times a second under load; at 1600
//     bench issue gives 4–5 % more P-256 and ~2 % more RSA-2048
//     certificates per second. A soft memory limit of 1 GiB (unless
//     GOMEMLIMIT is set) makes the collector run early again should the
//     live heap grow (a CRL of a million entries).
//   - GOMAXPROCS one more than the CPUs: the CA signs on one worker thread
//     per CPU (ca/workers.go), each holding a P while it signs; the one P
//     more serves requests, answers and the group commit. Twice the CPUs
//     gave 4–10 % fewer certificates/s with the workers.
func tuneServer() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
	tune(1600, runtime.NumCPU()+1)
}

const serverMemoryLimit = 1 << 30

func tune(gcPercent, procs int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(procs)
	}
}
