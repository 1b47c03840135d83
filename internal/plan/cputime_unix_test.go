//go:build unix

package plan

import "syscall"

// processCPU returns the user and system CPU time of the process so far,
// in nanoseconds, so that a benchmark can report CPU time per operation,
// which is less sensitive than wall time to other load on the machine.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
