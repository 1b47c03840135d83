// Package readlimit reads the files and streams that come from outside the
// program (certificates, requests, .pfx files, topologies, secrets) with a
// bound on their size, so that a huge file, a FIFO or /dev/zero ends with
// "file too large" at the bound instead of exhausting memory.
package readlimit

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is wrapped by the error for an input over its bound.
var ErrTooLarge = errors.New("file too large")

// Bounds by what each kind of input can reasonably be.
const (
	// Certificate bounds a certificate, a PKCS#7 chain, a .pfx or a PEM
	// file with a key and its chain: a few kilobytes each, a .pfx with a
	// long chain some hundreds.
	Certificate = 4 << 20
	// Request bounds a PKCS#10 request (a few kilobytes, even with an
	// 8,192-bit key and hundreds of names).
	Request = 1 << 20
	// Secret bounds a password, passphrase or token file (one line).
	Secret = 64 << 10
	// Topology bounds a topology file: YAML of a few kilobytes, a Topology
	// Builder document of a few megabytes.
	Topology = 64 << 20
)

// Kind names an input in the error: "a certificate file", "a request".
type Kind struct {
	What string
	Max  int64
}

// Kinds of input, each with its bound.
var (
	CertificateFile = Kind{"a certificate, chain or .pfx file", Certificate}
	RequestFile     = Kind{"a certificate request", Request}
	SecretFile      = Kind{"a password or passphrase file", Secret}
	TopologyFile    = Kind{"a topology", Topology}
)

// File reads the file at path, refusing it without reading when it is a
// regular file over k.Max, and stopping at k.Max+1 bytes otherwise (a
// device or FIFO). The error for a large file wraps ErrTooLarge and says
// the bound; others are those of os.Open and Read.
func File(path string, k Kind) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > k.Max {
		return nil, tooLarge(path, k)
	}
	return Reader(f, path, k)
}

// Reader reads r to its end, at most k.Max bytes; name says in the error
// what r is (a file name, "standard input").
func Reader(r io.Reader, name string, k Kind) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, k.Max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(b)) > k.Max {
		return nil, tooLarge(name, k)
	}
	return b, nil
}

func tooLarge(name string, k Kind) error {
	return fmt.Errorf("%s: %w: %s is at most %s", name, ErrTooLarge, k.What, size(k.Max))
}

// size writes n bytes as MiB or KiB.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
