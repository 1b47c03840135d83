package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// indexVersion is the version commits write; version 1 (before Sealing)
// is still read.
const indexVersion = 2

// index is the content of the index file: the whole logical state of the store.
type index struct {
	Version     int
	Generation  uint64
	Entries     []record
	Assignments []Assignment
	// Sealing says how the store keeps its private keys: "" not recorded
	// yet (a store without keys, or made by version 1), sealingPlain
	// (unsealed), else a certfmt passphrase verifier of the passphrase
	// that seals them.
	Sealing string

	byThumb map[string]int // built lazily; not stored
}

// record is an index entry: what Windows shows plus where the files are.
type record struct {
	Entry
	// KeyHash is the upper-case hex SHA-256 of the PKIX public key. The key
	// file, when HasKey, is keys/KeyHash.key.
	KeyHash string
}

func (r *record) certFile() string {
	if r.Location == Request {
		return reqDir + "/" + r.Thumbprint + ".csr"
	}
	return certDir + "/" + r.Thumbprint + ".cer"
}

func (r *record) keyFile() string { return keyDir + "/" + r.KeyHash + ".key" }

// files returns the set of files (relative, slash-separated) idx references.
func (x *index) files() map[string]bool {
	m := make(map[string]bool, 2*len(x.Entries))
	for i := range x.Entries {
		r := &x.Entries[i]
		m[r.certFile()] = true
		if r.HasKey {
			m[r.keyFile()] = true
		}
	}
	return m
}

// find returns the record with thumbprint t (normalised), or ErrNotFound.
func (x *index) find(t string) (*record, error) {
	n := NormalizeThumbprint(t)
	if len(n) != 40 {
		return nil, fmt.Errorf("thumbprint %q is not 40 hexadecimal digits: %w", t, ErrInvalidInput)
	}
	if x.byThumb == nil {
		x.byThumb = make(map[string]int, len(x.Entries))
		for i := range x.Entries {
			x.byThumb[x.Entries[i].Thumbprint] = i
		}
	}
	i, ok := x.byThumb[n]
	if !ok {
		return nil, fmt.Errorf("no certificate or request with thumbprint %s in the store: %w", n, ErrNotFound)
	}
	return &x.Entries[i], nil
}

// clone returns a deep enough copy to be modified by a transaction.
func (x *index) clone() *index {
	c := &index{Version: x.Version, Generation: x.Generation, Sealing: x.Sealing}
	c.Entries = append([]record(nil), x.Entries...)
	c.Assignments = append([]Assignment(nil), x.Assignments...)
	return c
}

// fileTag identifies one version of the index file. Commits swap two
// files (see writeIndexLocked), so the inode alone repeats and the
// modification time is coarse; the generation, which every commit raises,
// is read from the file's header and settles it.
type fileTag struct {
	ino   uint64
	size  int64
	mtime int64
	gen   uint64
}

func tagOf(fi os.FileInfo) fileTag {
	t := fileTag{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		t.ino = st.Ino
	}
	return t
}

// headerGeneration returns the generation in the header of an index file,
// or false when the header cannot be read.
func headerGeneration(f *os.File) (uint64, bool) {
	var b [len(indexMagic) + 2*binary.MaxVarintLen64]byte
	n, _ := f.ReadAt(b[:], 0)
	h := b[:n]
	if len(h) < len(indexMagic) || string(h[:len(indexMagic)]) != indexMagic {
		return 0, false
	}
	h = h[len(indexMagic):]
	_, k := binary.Uvarint(h) // version
	if k <= 0 {
		return 0, false
	}
	gen, k2 := binary.Uvarint(h[k:])
	return gen, k2 > 0
}

// loadLocked returns the current index, from the cache when the index file has
// not changed. The caller holds the lock (shared or exclusive) and s.mu.
func (s *Store) loadLocked() (*index, error) {
	path := filepath.Join(s.dir, indexName)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxIndexSize {
		return nil, fmt.Errorf("store: %s is not a regular file of at most %d MiB (restore it from a backup)", path, maxIndexSize>>20)
	}
	tag := tagOf(fi)
	if s.cache != nil {
		if gen, ok := headerGeneration(f); ok {
			tag.gen = gen
			if s.cacheTag == tag {
				return s.cache, nil
			}
		}
	}
	data := make([]byte, fi.Size())
	if _, err := readFull(f, data); err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", path, err)
	}
	idx, err := decodeIndex(data)
	if err != nil {
		return nil, fmt.Errorf("store: %s is damaged (restore it from a backup)", path)
	}
	if idx.Version < 1 || idx.Version > indexVersion {
		return nil, fmt.Errorf("store: %s has version %d, this edgecert reads versions 1 to %d", path, idx.Version, indexVersion)
	}
	tag.gen = idx.Generation
	s.cache, s.cacheTag = idx, tag
	return idx, nil
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeIndexLocked atomically replaces the index file: the commit point.
//
// Creating a file is the dearest thing a commit does (an inode allocation
// costs some 300 µs of CPU on a virtual machine's ext4, 40 times a
// rename), so the index is not written to a new temporary file each time:
// the store keeps the previous index as index.spare, overwrites and syncs
// it, and swaps the two names in one atomic rename (RENAME_EXCHANGE). A
// crash before the swap leaves the old index in place and, in the spare,
// the index that was being committed (which names the files the change
// added, so that the next change can remove them); after it, the new
// index and the old one in the spare. Where the file system cannot swap,
// the index goes through a new temporary file as before, and the Store
// stops trying (and removes the spare).
func (s *Store) writeIndexLocked(idx *index) error {
	data := encodeIndex(idx)
	if err := s.writeSpareLocked(data); err != nil {
		return err
	}
	return s.installIndexLocked(idx, data)
}

// writeSpareLocked writes data, the index about to be committed, to the
// spare index file and syncs it (nothing when the Store does not swap).
func (s *Store) writeSpareLocked(data []byte) error {
	if s.noSwap {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.dir, spareName), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: writing %s: %w", spareName, err)
	}
	return nil
}

// installIndexLocked makes data (the encoding of idx, already in the
// spare when the Store swaps) the index: the commit point.
func (s *Store) installIndexLocked(idx *index, data []byte) error {
	swapped := false
	if !s.noSwap {
		var err error
		if swapped, err = s.swapIndexLocked(); err != nil {
			return err
		}
	}
	if !swapped {
		if err := writeAtomic(s.dir, indexName, data, 0o600); err != nil {
			return err
		}
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Join(s.dir, indexName)); err == nil {
		tag := tagOf(fi)
		tag.gen = idx.Generation
		s.cache, s.cacheTag = idx, tag
	} else {
		s.cache = nil
	}
	return nil
}

// swapIndexLocked swaps the spare, already written, with the index. It
// reports false, having changed nothing that is read, when the file
// system cannot swap names.
func (s *Store) swapIndexLocked() (bool, error) {
	spare := filepath.Join(s.dir, spareName)
	target := filepath.Join(s.dir, indexName)
	err := exchangeNames(spare, target)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.ENOENT):
		// No index yet (a new store): the spare becomes the index.
		if err := os.Rename(spare, target); err != nil {
			return false, fmt.Errorf("store: writing %s: %w", indexName, err)
		}
		return true, nil
	case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENOSYS), errors.Is(err, syscall.EOPNOTSUPP):
		s.noSwap = true
		_ = os.Remove(spare) // no one reads it; the next commits do without
		return false, nil
	}
	return false, fmt.Errorf("store: writing %s: %w", indexName, err)
}

// exchangeNames swaps two names in one atomic rename; a variable so that
// tests can play a file system that cannot (TestIndexWithoutSwap).
var exchangeNames = func(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}

// writeAtomic writes data to dir/name through a temporary file that is
// fsynced and renamed over the target. The directory is not synced.
func writeAtomic(dir, name string, data []byte, mode os.FileMode) error {
	target := filepath.Join(dir, name)
	f, err := os.CreateTemp(filepath.Dir(target), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}

// txn is one change of the store: a new index and the files it adds.
type txn struct {
	s     *Store
	old   *index
	idx   *index
	files map[string]newFile // relative path → content
	dirty bool               // the index changed
}

type newFile struct {
	data []byte
	mode os.FileMode
}

// put schedules a file to be written before the commit.
func (t *txn) put(rel string, data []byte, mode os.FileMode) {
	t.files[rel] = newFile{data: data, mode: mode}
	t.dirty = true
}

// update runs fn on a copy of the index under the exclusive lock and, when
// fn succeeds, commits: new files, then the index, then removal of the
// files no longer referenced. fn must not touch the disk.
func (s *Store) update(fn func(t *txn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.checkFolders(false); err != nil {
		return err
	}
	old, err := s.loadLocked()
	if err != nil {
		return err
	}
	if !s.tidied || s.tidyGen != old.Generation || s.spareTag != s.spareTagNow() {
		if err := s.tidyLocked(old); err != nil {
			return err
		}
	}
	t := &txn{s: s, old: old, idx: old.clone(), files: map[string]newFile{}}
	if err := fn(t); err != nil {
		return err
	}
	if !t.dirty {
		return nil
	}
	if err := s.commitLocked(t); err != nil {
		s.tidied = false // the spare may name files this change left
		return err
	}
	return nil
}

func (s *Store) commitLocked(t *txn) error {
	sortRecords(t.idx.Entries)
	t.idx.byThumb = nil
	t.idx.Generation = t.old.Generation + 1
	t.idx.Version = indexVersion
	data := encodeIndex(t.idx)
	// The spare first: it names the files this change adds, so that if
	// the change is killed before its commit the next one removes them.
	if err := s.writeSpareLocked(data); err != nil {
		return err
	}
	referenced := t.old.files()
	dirs := map[string]bool{}
	for rel, f := range t.files {
		if referenced[rel] {
			continue // content-addressed and already committed
		}
		d, name := filepath.Split(filepath.FromSlash(rel))
		dir := filepath.Join(s.dir, d)
		dirs[dir] = true
		if ok, err := linkShared(dir, name, f.data, f.mode); err != nil {
			return err
		} else if ok {
			continue
		}
		if err := writeAtomic(dir, name, f.data, f.mode); err != nil {
			return err
		}
		rememberFile(filepath.Join(dir, name), f.data)
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	crashPoint("before-index")
	if err := s.installIndexLocked(t.idx, data); err != nil {
		return err
	}
	crashPoint("after-index")
	// The change is committed; what follows only tidies up.
	want := t.idx.files()
	for rel := range referenced {
		if !want[rel] {
			removeRegular(filepath.Join(s.dir, filepath.FromSlash(rel)))
		}
	}
	s.tidied, s.tidyGen, s.spareTag = true, t.idx.Generation, s.spareTagNow()
	return nil
}
