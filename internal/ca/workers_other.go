//go:build !linux

package ca

// lowerThreadPriority does nothing where threads have no priority of their
// own that an unprivileged process may set.
func lowerThreadPriority() {}
