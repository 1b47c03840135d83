package apply

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"edgecert/internal/store"
)

// Workspace is where apply works: one store per server under
// DIR/servers/<fqdn>/, the journal DIR/state.json, the public-CA outbox
// DIR/outbox/ and the issued certificates DIR/issued/.
//
// In server mode ([OpenServer]) only one server's store is local; the others
// live on other machines and PFX files travel through an exchange folder.
type Workspace struct {
	Dir string
	// Exchange is the shared folder of server mode ("" otherwise).
	Exchange string
	// only is the single local server in server mode.
	only, onlyDir string
	opts          store.Options

	mu     sync.Mutex
	stores map[string]*storeHandle
	locks  map[string]*sync.Mutex
}

// OpenWorkspace opens (creating when missing) the workspace in dir.
func OpenWorkspace(dir string, opts store.Options) (*Workspace, error) {
	if dir == "" {
		return nil, fmt.Errorf("apply: %w: the workspace directory is empty", ErrInvalidInput)
	}
	if err := os.MkdirAll(filepath.Join(dir, "servers"), 0o755); err != nil {
		return nil, fmt.Errorf("apply: workspace: %w", err)
	}
	return &Workspace{Dir: dir, opts: opts, stores: map[string]*storeHandle{}, locks: map[string]*sync.Mutex{}}, nil
}

// OpenServer opens the workspace of one server that is a separate machine:
// its store is storeDir, its journal and the PFX files it exchanges with
// the other servers are in exchange.
func OpenServer(fqdn, storeDir, exchange string, opts store.Options) (*Workspace, error) {
	fqdn = strings.ToLower(fqdn)
	if fqdn == "" || storeDir == "" || exchange == "" {
		return nil, fmt.Errorf("apply: %w: --server, --store and --exchange are all required", ErrInvalidInput)
	}
	dir := filepath.Join(exchange, "state", fqdn)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("apply: exchange folder: %w", err)
	}
	return &Workspace{Dir: dir, Exchange: exchange, only: fqdn, onlyDir: storeDir, opts: opts,
		stores: map[string]*storeHandle{}, locks: map[string]*sync.Mutex{}}, nil
}

// ServerMode reports whether only one server is local.
func (w *Workspace) ServerMode() bool { return w.only != "" }

// Local reports whether server's store is on this machine.
func (w *Workspace) Local(server string) bool {
	return w.only == "" || strings.EqualFold(server, w.only)
}

// StoreDir returns the directory of server's store.
func (w *Workspace) StoreDir(server string) string {
	if w.only != "" {
		return w.onlyDir
	}
	return filepath.Join(w.Dir, "servers", strings.ToLower(server))
}

// Store returns server's store, opening it once; ok is false for a server
// that is not local. Stores open concurrently: only the lookup is serialised.
func (w *Workspace) Store(server string) (*store.Store, bool, error) {
	if !w.Local(server) {
		return nil, false, nil
	}
	server = strings.ToLower(server)
	w.mu.Lock()
	h := w.stores[server]
	if h == nil {
		h = &storeHandle{}
		w.stores[server] = h
	}
	w.mu.Unlock()
	h.once.Do(func() {
		h.s, h.err = store.Open(w.StoreDir(server), w.opts)
		if h.err != nil {
			h.err = fmt.Errorf("apply: store of %s: %w", server, h.err)
		}
	})
	if h.err != nil {
		w.mu.Lock()
		delete(w.stores, server) // let a later call try again
		w.mu.Unlock()
		return nil, true, h.err
	}
	return h.s, true, nil
}

// storeHandle opens one store once.
type storeHandle struct {
	once sync.Once
	s    *store.Store
	err  error
}

// ExistingStore is like Store but does not create a missing store: a
// server whose store directory does not exist yet reports ok false.
func (w *Workspace) ExistingStore(server string) (*store.Store, bool, error) {
	if !w.Local(server) {
		return nil, false, nil
	}
	if _, err := os.Stat(w.StoreDir(server)); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	return w.Store(server)
}

// lock serialises the operations on one server's store inside this process.
func (w *Workspace) lock(server string) func() {
	server = strings.ToLower(server)
	w.mu.Lock()
	l := w.locks[server]
	if l == nil {
		l = &sync.Mutex{}
		w.locks[server] = l
	}
	w.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (w *Workspace) path(elem ...string) string {
	return filepath.Join(append([]string{w.Dir}, elem...)...)
}

// safeName turns a plan id into a file name.
func safeName(id string) string {
	return strings.NewReplacer("/", "_", "\\", "_", ":", "_", "+", "_", " ", "_", "*", "star").Replace(id)
}

// newTransferPassword returns a random password for one PFX transfer.
func newTransferPassword(r interface{ Read([]byte) (int, error) }) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, 24)
	if _, err := r.Read(b); err != nil {
		return "", fmt.Errorf("apply: transfer password: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// ErrBusy: another apply, renew or response import works on the workspace.
var ErrBusy = errors.New("workspace in use")

// lockName is the run lock of a workspace (in server mode, of that server's
// state folder).
const lockName = "apply.lock"

// exclusive takes the workspace's run lock, so that two processes (or two
// runs in one process) never carry out the procedure on one workspace at
// once: their journals would overwrite each other and both could make a key
// for the same certificate. It fails at once, naming the holder, when the
// lock is taken. The lock is flock(2) on DIR/apply.lock: it goes with the
// process, so a killed apply leaves nothing to clean up.
func (w *Workspace) exclusive() (release func(), err error) {
	path := w.path(lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("apply: workspace lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" (process %d)", pid)
			}
		}
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("apply: another apply or renew is working on %s%s; wait for it to finish: %w", w.Dir, holder, ErrBusy)
		}
		return nil, fmt.Errorf("apply: workspace lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = f.Truncate(0)
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
