package readlimit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFile(t *testing.T) {
	dir := t.TempDir()
	small := Kind{"a test file", 1 << 10}
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), n), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		// An endless writer: the read must stop at the bound.
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := f.Write(buf); err != nil {
				return
			}
		}
	}()
	cases := []struct {
		name    string
		path    string
		k       Kind
		wantLen int
		tooBig  bool
	}{
		{"empty", write("empty", 0), small, 0, false},
		{"at the bound", write("at", 1<<10), small, 1 << 10, false},
		{"one byte over", write("over", 1<<10+1), small, 0, true},
		{"dev zero", "/dev/zero", CertificateFile, 0, true},
		{"fifo", fifo, RequestFile, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			b, err := File(tc.path, tc.k)
			if time.Since(start) > 5*time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
			if tc.tooBig {
				if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "file too large") || !strings.Contains(err.Error(), size(tc.k.Max)) || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("err = %v, want file too large with the bound and the name", err)
				}
				return
			}
			if err != nil || len(b) != tc.wantLen {
				t.Fatalf("%d bytes, %v", len(b), err)
			}
		})
	}
	if _, err := File(filepath.Join(dir, "missing"), small); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{4 << 20: "4 MiB", 64 << 10: "64 KiB", 1000: "1000 bytes"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}
