package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"edgecert/internal/readlimit"
)

// A store deletes nothing it did not write. Its folders hold what its
// index names, its own temporary files (tmpPrefix and a number, a name no
// other program picks by accident) and, after a change that was killed,
// the files that change had added or was removing: the spare index holds
// the index that change was committing (or the one it replaced), so a
// file it names and the index does not is the store's own. Everything
// else is someone else's: store check reports it, and nothing removes it.
//
// The clean-up runs under the exclusive lock, before a change, never when
// a store is only read. A store whose folder is a symbolic link, not a
// folder, or owned by another user is refused: a link would make the
// store read and write another folder (another server's keys).

// storeFolders are the folders of a store, relative to its directory.
var storeFolders = []string{".", certDir, reqDir, keyDir}

// isOwnTemp reports whether name is one of the store's temporary files:
// tmpPrefix followed by decimal digits (os.CreateTemp's random suffix, or
// the process id and a counter for a link).
func isOwnTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, tmpPrefix)
	if !ok || rest == "" || len(rest) > 40 {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkFolder refuses path when it is a symbolic link, not a folder, or
// not owned by this process's effective user. With create, a missing
// folder is made (mode 0700). The error wraps ErrInvalidInput and is one
// line.
func checkFolder(path string, create bool) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("store: %w", err)
		}
		fi, err = os.Lstat(path)
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		return fmt.Errorf("store folder %s is a symbolic link (to %s): a store's folders must be real folders; refusing to use it: %w", path, target, ErrInvalidInput)
	}
	if !fi.IsDir() {
		return fmt.Errorf("store folder %s is not a folder: %w", path, ErrInvalidInput)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("store folder %s is owned by uid %d, not by this user (uid %d): refusing to use it: %w", path, st.Uid, os.Geteuid(), ErrInvalidInput)
	}
	return nil
}

// checkFolders checks the store directory and its three folders.
func (s *Store) checkFolders(create bool) error {
	for _, d := range storeFolders {
		if err := checkFolder(filepath.Join(s.dir, d), create); err != nil {
			return err
		}
	}
	return nil
}

// leftoversLocked returns the files (relative, slash-separated) that a
// change killed before it finished left behind: those the spare index
// names and idx does not. The caller holds the lock.
func (s *Store) leftoversLocked(idx *index) map[string]bool {
	f, err := os.Open(filepath.Join(s.dir, spareName))
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxIndexSize {
		return nil
	}
	data := make([]byte, fi.Size())
	if _, err := readFull(f, data); err != nil {
		return nil
	}
	spare, err := decodeIndex(data)
	if err != nil {
		return nil
	}
	want := idx.files()
	out := map[string]bool{}
	for rel := range spare.files() {
		if !want[rel] {
			out[rel] = true
		}
	}
	return out
}

// tidyLocked removes the store's own temporary files and the leftovers of
// a change that was killed (see leftoversLocked): files it wrote, and
// nothing else. Regular files only; a link in their place is someone
// else's. The caller holds the exclusive lock.
func (s *Store) tidyLocked(idx *index) error {
	for rel := range s.leftoversLocked(idx) {
		removeRegular(filepath.Join(s.dir, filepath.FromSlash(rel)))
	}
	for _, d := range storeFolders {
		ents, err := readDirUnsorted(filepath.Join(s.dir, d))
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		for _, e := range ents {
			if isOwnTemp(e.Name()) && e.Type().IsRegular() {
				removeRegular(filepath.Join(s.dir, d, e.Name()))
			}
		}
	}
	s.tidied, s.tidyGen, s.spareTag = true, idx.Generation, s.spareTagNow()
	return nil
}

// spareTagNow identifies the spare index file as it is now (zero when
// there is none).
func (s *Store) spareTagNow() fileTag {
	fi, err := os.Lstat(filepath.Join(s.dir, spareName))
	if err != nil {
		return fileTag{}
	}
	t := tagOf(fi)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		t.gen = uint64(st.Ctim.Nano())
	}
	return t
}

// removeRegular removes path when it is a regular file.
func removeRegular(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		_ = os.Remove(path)
	}
}

// storeFile bounds what the store reads of its own files (a certificate,
// request or key is a few kilobytes): a file put in their place that never
// ends is refused, not read until memory runs out.
var storeFile = readlimit.Kind{What: "a file of a store", Max: readlimit.Certificate}

// readStoreFile reads one of the store's files, up to storeFile.Max.
func readStoreFile(path string) ([]byte, error) { return readlimit.File(path, storeFile) }
