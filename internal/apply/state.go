package apply

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"edgecert/internal/atomicfile"
)

// State is the journal of a workspace (state.json). The stores are the
// source of truth for keys and certificates; the journal only remembers
// what the stores cannot: which generation of each certificate is current,
// the CA request id of a pending request, where the chain is imported and
// which certificate was verified.
type State struct {
	Version      int                   `json:"version"`
	ChainSHA256  string                `json:"chain_sha256,omitempty"`
	ChainServers map[string]string     `json:"chain_servers,omitempty"` // server -> chain sha256 imported
	Certificates map[string]*CertState `json:"certificates"`
}

// CertState is the journal of one planned certificate.
type CertState struct {
	Generation   int    `json:"generation"`
	FriendlyName string `json:"friendly_name"`
	// RequestKey is the SHA-256 of the pending request's public key.
	RequestKey  string `json:"request_key,omitempty"`
	CARequestID int64  `json:"ca_request_id,omitempty"`
	Thumbprint  string `json:"thumbprint,omitempty"` // the issued certificate
	Waiting     string `json:"waiting,omitempty"`    // why the certificate is stopped
	Verified    string `json:"verified,omitempty"`   // thumbprint that passed verification
	// Renewing marks a renewal in progress; Previous is the replaced certificate.
	Renewing bool      `json:"renewing,omitempty"`
	Previous string    `json:"previous,omitempty"`
	Updated  time.Time `json:"updated"`
}

// journal guards State and writes it atomically on every change.
type journal struct {
	path string
	now  func() time.Time
	mu   sync.Mutex // guards st and seq
	st   State
	seq  uint64 // version of st
	// wmu serialises writes, done outside mu so that readers never wait
	// for an fsync; written is the version on disk and onDisk its bytes
	// (nil when there is no file), so that a version equal to them is not
	// written again.
	wmu     sync.Mutex
	written uint64
	onDisk  []byte
}

func openJournal(path string, now func() time.Time) (*journal, error) {
	j := &journal{path: path, now: now, st: State{Version: 1, Certificates: map[string]*CertState{}, ChainServers: map[string]string{}}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("apply: journal: %w", err)
	}
	j.onDisk = b
	if err := json.Unmarshal(b, &j.st); err != nil {
		return nil, fmt.Errorf("apply: journal %s is damaged: %w", path, err)
	}
	if j.st.Certificates == nil {
		j.st.Certificates = map[string]*CertState{}
	}
	if j.st.ChainServers == nil {
		j.st.ChainServers = map[string]string{}
	}
	return j, nil
}

// cert returns a copy of the state of id, creating it with friendlyName.
func (j *journal) cert(id, friendlyName string) CertState {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.st.Certificates[id]
	if c == nil {
		return CertState{Generation: 1, FriendlyName: friendlyName}
	}
	return *c
}

// existing returns a copy of the state of id (nil: there is none).
func (j *journal) existing(id string) *CertState {
	j.mu.Lock()
	defer j.mu.Unlock()
	if c := j.st.Certificates[id]; c != nil {
		cp := *c
		return &cp
	}
	return nil
}

// restore puts back the state of id as [journal.existing] returned it
// (nil: none), in memory; the next save persists it.
func (j *journal) restore(id string, prev *CertState) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if prev == nil {
		delete(j.st.Certificates, id)
		return
	}
	cp := *prev
	j.st.Certificates[id] = &cp
}

// set changes the state of id in memory; the next update or save
// persists it. For what a later run can find again in the stores (progress
// marks), so that certificates do not queue behind each other's fsync.
func (j *journal) set(id, friendlyName string, f func(*CertState)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.changeLocked(id, friendlyName, f)
}

// changeLocked runs f on the state of id (created when missing) and
// stamps it Updated only when f changed something: a run that changes
// nothing leaves the journal as it was.
func (j *journal) changeLocked(id, friendlyName string, f func(*CertState)) {
	c := j.st.Certificates[id]
	created := c == nil
	if created {
		c = &CertState{Generation: 1, FriendlyName: friendlyName}
		j.st.Certificates[id] = c
	}
	before := *c
	f(c)
	if created || *c != before {
		c.Updated = j.now().UTC()
	}
}

// update changes the state of id and persists the journal before it
// returns: for what the stores cannot tell (a renewal's generation, a CA
// request id).
func (j *journal) update(id, friendlyName string, f func(*CertState)) error {
	j.mu.Lock()
	j.changeLocked(id, friendlyName, f)
	b, seq, err := j.marshalLocked()
	j.mu.Unlock()
	if err != nil {
		return err
	}
	return j.write(b, seq)
}

// marshalLocked returns the journal's bytes and a new version number.
func (j *journal) marshalLocked() ([]byte, uint64, error) {
	b, err := json.MarshalIndent(j.st, "", "  ")
	if err != nil {
		return nil, 0, err
	}
	j.seq++
	return append(b, '\n'), j.seq, nil
}

// write puts version seq on disk unless a newer one is already there.
func (j *journal) write(b []byte, seq uint64) error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if seq <= j.written {
		return nil
	}
	if j.onDisk != nil && bytes.Equal(b, j.onDisk) {
		j.written = seq
		return nil
	}
	if err := atomicfile.Write(j.path, b, 0o600); err != nil {
		return fmt.Errorf("apply: journal: %w", err)
	}
	j.written, j.onDisk = seq, b
	return nil
}

// chainDoneLater records the chain on server; the next save persists it.
func (j *journal) chainDoneLater(sum, server string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.st.ChainSHA256 = sum
	j.st.ChainServers[server] = sum
}

// save persists the journal.
func (j *journal) save() error {
	j.mu.Lock()
	b, seq, err := j.marshalLocked()
	j.mu.Unlock()
	if err != nil {
		return err
	}
	return j.write(b, seq)
}

func (j *journal) chainOn(server string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st.ChainServers[server]
}

func (j *journal) snapshot() State {
	j.mu.Lock()
	defer j.mu.Unlock()
	b, _ := json.Marshal(j.st)
	var s State
	_ = json.Unmarshal(b, &s)
	return s
}
