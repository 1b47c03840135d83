package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
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
	mu   sync.Mutex
	st   State
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

// update changes the state of id and persists the journal.
func (j *journal) update(id, friendlyName string, f func(*CertState)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.st.Certificates[id]
	if c == nil {
		c = &CertState{Generation: 1, FriendlyName: friendlyName}
		j.st.Certificates[id] = c
	}
	f(c)
	c.Updated = j.now().UTC()
	return j.saveLocked()
}

// chainDone records the chain imported on servers.
func (j *journal) chainDone(sum string, servers []string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.st.ChainSHA256 = sum
	for _, s := range servers {
		j.st.ChainServers[s] = sum
	}
	return j.saveLocked()
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
	defer j.mu.Unlock()
	return j.saveLocked()
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

func (j *journal) saveLocked() error {
	b, err := json.MarshalIndent(j.st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(j.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("apply: journal: %w", err)
	}
	return nil
}
