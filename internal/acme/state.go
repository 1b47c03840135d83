package acme

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"edgecert/internal/atomicfile"
)

// Steps of an order, as status shows them.
const (
	StepOrderPending     = "order pending"
	StepChallengeWaiting = "challenge waiting"
	StepValid            = "valid"
	StepFailed           = "failed"
)

// State is where the order of one certificate is.
type State struct {
	ID       string    `json:"id"`
	Step     string    `json:"step"`
	Names    []string  `json:"names"`
	Key      string    `json:"key"` // SHA-256 of the request's public key
	OrderURL string    `json:"order_url,omitempty"`
	Updated  time.Time `json:"updated"`
	// Problem is the CA's problem type and detail of a failed order, or
	// the error; Checked what was published for the CA to check.
	ProblemType string `json:"problem_type,omitempty"`
	Problem     string `json:"problem,omitempty"`
	Checked     string `json:"checked,omitempty"`
}

// ReadState returns the recorded state of certificate id (nil: none).
func (c *Client) ReadState(id string) *State { return ReadState(c.o.Dir, id) }

// ReadState returns the recorded state of certificate id in the state
// directory dir (nil: none), for status.
func ReadState(dir, id string) *State {
	b, err := readBounded(statePath(dir, id), maxStateFile)
	if err != nil {
		return nil
	}
	var s State
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	return &s
}

func statePath(dir, id string) string {
	safe := strings.NewReplacer("/", "_", "\\", "_", ":", "_", "+", "_", " ", "_", "*", "star").Replace(id)
	return filepath.Join(dir, ordersDir, safe+".json")
}

func (c *Client) setState(id string, names []string, key, orderURL, step string, err error) {
	s := State{ID: id, Step: step, Names: names, Key: key, OrderURL: orderURL, Updated: c.o.Now().UTC()}
	if prev := c.ReadState(id); prev != nil && prev.OrderURL == orderURL {
		s.Checked = prev.Checked
	}
	if err != nil {
		s.Problem = err.Error()
		var p *Problem
		if errors.As(err, &p) {
			s.ProblemType, s.Problem = p.Type, p.Detail
			if p.Name != "" {
				s.Problem = p.Name + ": " + p.Detail
			}
			if p.Checked != "" {
				s.Checked = p.Checked
			}
		}
	}
	c.writeState(&s)
}

func (c *Client) setStateChecked(id string, names []string, key, orderURL, step, checked string) {
	c.writeState(&State{ID: id, Step: step, Names: names, Key: key, OrderURL: orderURL, Updated: c.o.Now().UTC(), Checked: checked})
}

// writeState records the step; a state that cannot be written only costs
// status its detail, so the error is dropped.
func (c *Client) writeState(s *State) {
	b, _ := json.MarshalIndent(s, "", "  ")
	_ = atomicfile.Write(statePath(c.o.Dir, s.ID), b, 0o600)
}

// keyID is the SHA-256 of a public key's SubjectPublicKeyInfo.
func keyID(pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
