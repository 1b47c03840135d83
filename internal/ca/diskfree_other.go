//go:build !unix

package ca

import "errors"

// diskFree is not measured here: readiness then relies on the database's write.
func diskFree(string) (uint64, error) { return 0, errors.New("not measured on this system") }
