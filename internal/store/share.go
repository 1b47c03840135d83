package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Stores of one workspace hold many identical files: the CA chain on every
// server, a pool's certificate and key on each member. Creating a file is
// the dearest thing a commit does (an inode allocation costs ~300 µs of CPU
// on a virtual machine's ext4; a hard link ~6 µs), so a file this process
// has already committed somewhere is linked rather than written again. The
// linked file is compared with the content wanted before it is used, and
// anything unexpected (another file system, a file changed or gone) falls
// back to writing.

// sharedMax bounds the registry of committed files; when full it starts over.
const sharedMax = 8192

var shared struct {
	sync.Mutex
	paths map[[32]byte]string // SHA-256 of the content → a committed file with it
}

var linkSeq atomic.Uint64

// rememberFile records that path, just committed, holds data.
func rememberFile(path string, data []byte) {
	h := sha256.Sum256(data)
	shared.Lock()
	if shared.paths == nil || len(shared.paths) >= sharedMax {
		shared.paths = make(map[[32]byte]string, 256)
	}
	shared.paths[h] = path
	shared.Unlock()
}

// linkShared puts at dir/name a hard link to a committed file holding data
// with mode, through a temporary name renamed over the target. It reports
// false, having left nothing behind, when there is no such file to link.
func linkShared(dir, name string, data []byte, mode os.FileMode) (bool, error) {
	h := sha256.Sum256(data)
	shared.Lock()
	src, ok := shared.paths[h]
	shared.Unlock()
	if !ok {
		return false, nil
	}
	tmp := filepath.Join(dir, fmt.Sprintf("%s%d%06d", tmpPrefix, os.Getpid(), linkSeq.Add(1)))
	if err := os.Link(src, tmp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			shared.Lock()
			if shared.paths[h] == src {
				delete(shared.paths, h)
			}
			shared.Unlock()
		}
		return false, nil
	}
	if !sameFile(tmp, data, mode) {
		_ = os.Remove(tmp)
		return false, nil
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("store: writing %s: %w", name, err)
	}
	return true, nil
}

// sameFile reports whether path holds exactly data with permissions mode.
func sameFile(path string, data []byte, mode os.FileMode) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != mode.Perm() || fi.Size() != int64(len(data)) {
		return false
	}
	got, err := readStoreFile(path)
	return err == nil && bytes.Equal(got, data)
}
