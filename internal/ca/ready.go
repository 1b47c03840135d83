package ca

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"edgecert/internal/db"
)

// MinFreeBytes is the free space the CA directory's file system needs for
// the CA to count as ready: below it a write (the database's, a kept
// certificate's) is about to fail.
const MinFreeBytes = 8 << 20

// Ready reports whether the CA can issue now: its key signs, the database
// takes a write and the CA directory's disk has room. The error (wrapping
// ErrUnavailable) says what is missing. It is what a load balancer asks
// before sending issuance to this process; liveness needs none of it.
func (e *Engine) Ready(ctx context.Context) error {
	if e.signer == nil {
		return fmt.Errorf("the CA key is not available: %w", ErrUnavailable)
	}
	if !e.softKey { // a token can be removed or logged out
		d := sha256.Sum256([]byte("edgecert readiness"))
		if _, err := e.signer.Sign(e.rand, d[:], sigHash(e.signer.Public())); err != nil {
			return fmt.Errorf("the CA key does not sign: %v: %w", err, ErrUnavailable)
		}
	}
	if err := e.db.Probe(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("the database did not take a write in time: %w", ErrUnavailable)
		}
		return fmt.Errorf("the database takes no write: %w", wrapDB(err))
	}
	if free, err := diskFree(e.dir); err == nil && free < MinFreeBytes {
		return fmt.Errorf("the disk of the CA directory is full (%d KiB free): %w", free>>10, ErrUnavailable)
	}
	return nil
}

// MaybeIssuedError is a submission whose certificate was signed and handed
// to the database, which did not confirm it in time: it may still be
// recorded, under Serial (empty for a request kept for approval).
type MaybeIssuedError struct {
	Serial string
	Err    error
}

func (m *MaybeIssuedError) Error() string {
	if m.Serial == "" {
		return "the database did not confirm the request in time; it may still be recorded: look among your requests before submitting again"
	}
	return "the database did not confirm the certificate in time; it may still be recorded: look for serial " + m.Serial + " among your requests before submitting again"
}

// Unwrap makes it an ErrUnavailable, and keeps the cause.
func (m *MaybeIssuedError) Unwrap() []error { return []error{ErrUnavailable, m.Err} }

// recordErr maps the error of recording a submission.
func recordErr(err error, serial string) error {
	if errors.Is(err, db.ErrMaybeCommitted) {
		return &MaybeIssuedError{Serial: serial, Err: err}
	}
	return wrapDB(err)
}
