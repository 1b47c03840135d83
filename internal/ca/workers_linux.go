package ca

import "golang.org/x/sys/unix"

// workerNice is the nice value of the worker threads: low enough that a
// thread woken for I/O takes the core at once, high enough that the
// signatures still get most of a core when other processes are busy.
const workerNice = 10

// lowerThreadPriority sets the calling OS thread's nice value (an
// unprivileged thread may always lower its own priority). It is best
// effort: where it is refused, the thread keeps the process's priority.
func lowerThreadPriority() {
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), workerNice)
}
