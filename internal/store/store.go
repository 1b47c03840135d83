package store

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Store is one server's store.
type Store struct {
	dir  string
	opts Options

	mu        sync.Mutex // serialises this process's goroutines; flock serialises processes
	cache     *index
	cacheTag  fileTag
	certCache map[string]*x509.Certificate // by thumbprint; files are content-addressed
	// noSwap: the file system refused RENAME_EXCHANGE once; this Store's
	// commits no longer write a spare index only to find out again.
	noSwap bool
	// tidied: the folders hold no leftovers of a killed change as of the
	// index of generation tidyGen (this Store tidied them, or committed it).
	// A change of another process that was killed leaves the generation
	// as it was but rewrites the spare: spareTag is the spare as this
	// Store last left it.
	tidied   bool
	tidyGen  uint64
	spareTag fileTag
	// sealVerified is the index's passphrase verifier this Store's
	// passphrase was found to match (scrypt is dear: once per Store).
	sealVerified string
}

const (
	indexName = "index.bin"
	lockName  = "store.lock"
	spareName = "index.spare"
	certDir   = "certs"
	reqDir    = "requests"
	keyDir    = "keys"
	tmpPrefix = ".edgecert-tmp-" // and digits: see isOwnTemp
	// maxIndexSize bounds the index file read (10,000 entries take ~3 MB).
	maxIndexSize = 256 << 20

	defaultLockTimeout = 10 * time.Second
)

// Open opens (creating when missing) the store in dir. It refuses a store
// whose directory or folders are symbolic links or belong to another user,
// and removes nothing: a change tidies up what a killed change left (see
// safety.go).
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("store: no directory given: %w", ErrInvalidInput)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	s := &Store{dir: dir, opts: opts, certCache: map[string]*x509.Certificate{}}
	if err := s.checkFolders(true); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.loadLocked()
	if errors.Is(err, fs.ErrNotExist) {
		if err := s.checkEmptyLocked(); err != nil {
			return nil, err
		}
		idx = &index{Version: indexVersion}
		if err := s.writeIndexLocked(idx); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return s, nil
}

// Dir returns the store directory.
func (s *Store) Dir() string { return s.dir }

// List returns the entries of loc ("" = every location), sorted by location then subject.
func (s *Store) List(loc Location) ([]Entry, error) {
	if loc != "" && !validLocation(loc) {
		return nil, fmt.Errorf("unknown store location %q (use root, ca, my or request): %w", loc, ErrInvalidInput)
	}
	idx, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(idx.Entries))
	for i := range idx.Entries {
		if loc == "" || idx.Entries[i].Location == loc {
			out = append(out, idx.Entries[i].Entry)
		}
	}
	return out, nil
}

// Certificate returns the entry and certificate with this SHA-1 thumbprint
// (any location). For a pending request the certificate is nil.
func (s *Store) Certificate(thumbprint string) (*Entry, *x509.Certificate, error) {
	var (
		rec  record
		cert *x509.Certificate
	)
	err := s.read(func(idx *index) error {
		r, err := idx.find(thumbprint)
		if err != nil {
			return err
		}
		rec = *r
		if rec.Location != Request {
			cert, err = s.loadCertLocked(rec.Thumbprint)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	e := rec.Entry
	return &e, cert, nil
}

// NormalizeThumbprint returns t in the store's form: upper-case hex with
// the spaces, colons and invisible marks that copies from Windows carry removed.
func NormalizeThumbprint(t string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(t) {
		if (r >= '0' && r <= '9') || (r >= 'A' && r <= 'F') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func validLocation(l Location) bool {
	switch l {
	case Root, CA, My, Request:
		return true
	}
	return false
}

// snapshot returns the current index under a shared lock.
func (s *Store) snapshot() (*index, error) {
	var idx *index
	err := s.read(func(i *index) error { idx = i; return nil })
	return idx, err
}

// read runs fn with the current index under a shared lock. fn must not
// modify the index.
func (s *Store) read(fn func(*index) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.loadLocked()
	if err != nil {
		return err
	}
	return fn(idx)
}

// openLocks opens what the store's lock is taken on: the store directory
// itself, and DIR/store.lock when it exists. Stores made by earlier
// versions have that file and their processes lock it, so it is locked too;
// new stores do without it (a file creation is dear, see writeIndexLocked).
// They are opened for each lock, not kept: a workspace holds thousands of
// stores, and opening what exists costs microseconds.
func openLocks(dir string) ([]*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	locks := []*os.File{d}
	if f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0); err == nil {
		locks = append(locks, f)
	} else if !errors.Is(err, fs.ErrNotExist) {
		_ = d.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return locks, nil
}

// lock takes the store's flock, shared or exclusive, waiting at most
// LockTimeout.
func (s *Store) lock(exclusive bool) (func(), error) {
	locks, err := openLocks(s.dir)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	release := func(n int) {
		for i, f := range locks {
			if i < n {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			}
		}
	}
	closeAll := func() {
		for _, f := range locks {
			_ = f.Close()
		}
	}
	deadline := time.Now().Add(s.opts.LockTimeout)
	wait := time.Millisecond
	for {
		n := 0
		for _, f := range locks {
			if err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
				break
			}
			n++
		}
		if err == nil {
			return func() { release(len(locks)); closeAll() }, nil
		}
		release(n)
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			closeAll()
			return nil, fmt.Errorf("store %s: lock: %w", s.dir, err)
		}
		if time.Now().After(deadline) {
			closeAll()
			return nil, fmt.Errorf("store %s: waited %s: %w", s.dir, s.opts.LockTimeout, ErrLocked)
		}
		time.Sleep(wait)
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// checkEmptyLocked refuses to start a new index over a directory that holds
// certificates or keys: the index was lost, and garbage collection would
// delete them.
func (s *Store) checkEmptyLocked() error {
	for _, d := range []string{certDir, reqDir, keyDir} {
		ents, err := os.ReadDir(filepath.Join(s.dir, d))
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		for _, e := range ents {
			if !isOwnTemp(e.Name()) {
				return fmt.Errorf("store %s: %s is missing but %s/%s exists; restore the index or move the files away", s.dir, indexName, d, e.Name())
			}
		}
	}
	return nil
}

// readDirUnsorted lists a directory without sorting (a store directory may
// hold tens of thousands of files and order does not matter here).
func readDirUnsorted(dir string) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// sortRecords orders records by location, subject, then thumbprint.
func sortRecords(rs []record) {
	order := map[Location]int{Root: 0, CA: 1, My: 2, Request: 3}
	sort.Slice(rs, func(i, j int) bool {
		a, b := &rs[i], &rs[j]
		if a.Location != b.Location {
			return order[a.Location] < order[b.Location]
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Thumbprint < b.Thumbprint
	})
}
