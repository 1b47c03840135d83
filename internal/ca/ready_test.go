package ca

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestReady: a CA with its key and a writable database is ready; one
// opened without its key, or whose database is closed, is not, and says why.
func TestReady(t *testing.T) {
	e, dir := newCA(t, "", "p256")
	ctx := context.Background()
	if err := e.Ready(ctx); err != nil {
		t.Fatalf("a working CA is not ready: %v", err)
	}
	nokey, err := Open(ctx, dir, OpenOptions{WithoutKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nokey.Close()
	if err := nokey.Ready(ctx); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "key") {
		t.Errorf("without its key: %v", err)
	}
	other, err := Open(ctx, dir, OpenOptions{Passphrase: testPassphrase})
	if err != nil {
		t.Fatal(err)
	}
	other.db.Close()
	if err := other.Ready(ctx); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "database") {
		t.Errorf("with its database closed: %v", err)
	}
	other.Close()
	expired, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if err := e.Ready(expired); !errors.Is(err, ErrUnavailable) {
		t.Errorf("past its deadline: %v", err)
	}
}
