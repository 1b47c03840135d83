package apply

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"edgecert/internal/acme"
	"edgecert/internal/atomicfile"
)

// Renewal is when a public certificate from the ACME CA is renewed: in
// the CA's renewal window (ARI, RFC 9773) when it offers one, else at two
// thirds of its lifetime.
type Renewal struct {
	Thumbprint string    `json:"thumbprint"`
	NotAfter   time.Time `json:"not_after"`
	// Source is "ari" or "two-thirds".
	Source      string    `json:"source"`
	WindowStart time.Time `json:"window_start,omitzero"`
	WindowEnd   time.Time `json:"window_end,omitzero"`
	// At is the chosen time (a random time in the window, never later than
	// a day before expiry, so that an A/V roll keeps its 8 hours, R80).
	At time.Time `json:"at"`
	// AskAgain is when the CA may be asked again (its Retry-After); until
	// then renew makes no network call for this certificate.
	AskAgain time.Time `json:"ask_again,omitzero"`
	Due      bool      `json:"due"`
	// Problem is why the CA's window could not be had (two thirds decided).
	Problem string `json:"problem,omitempty"`
}

// acmeLatestLead is how long before expiry a renewal must be done at the latest:
// the A/V roll stages the new certificate 8 hours before the old one
// expires (R80), and a day leaves room for a failed attempt.
const acmeLatestLead = 3 * avLead

// ariCache is DIR/acme/renewal.json: the last renewal decision per
// certificate, so that a renew with nothing near makes no network call.
type ariCache struct {
	mu      sync.Mutex
	path    string
	entries map[string]*Renewal // plan id -> decision
	dirty   bool
}

func openARICache(path string) *ariCache {
	c := &ariCache{path: path, entries: map[string]*Renewal{}}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &c.entries) // a damaged cache is asked again
	}
	return c
}

func (c *ariCache) save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	b, _ := json.MarshalIndent(c.entries, "", "  ")
	if err := atomicfile.Write(c.path, b, 0o600); err != nil {
		return fmt.Errorf("apply: renewal cache: %w", err)
	}
	c.dirty = false
	return nil
}

// RenewalInformer is a [PublicCA] that offers renewal information.
type RenewalInformer interface {
	RenewalInfo(ctx context.Context, leaf *x509.Certificate) (*acme.Window, error)
}

// acmeRenewal decides when cert (certificate id, current thumbprint) is
// renewed. The CA is asked only when the cache has no decision for this
// certificate or its Retry-After has passed.
func (r *runner) acmeRenewal(ctx context.Context, id, thumb string, cert *x509.Certificate) *Renewal {
	now := r.o.Now()
	r.ari.mu.Lock()
	prev := r.ari.entries[id]
	r.ari.mu.Unlock()
	if prev != nil && prev.Thumbprint == thumb && (prev.AskAgain.IsZero() || now.Before(prev.AskAgain)) {
		d := *prev
		d.Due = !now.Before(d.At)
		return &d
	}
	d := &Renewal{Thumbprint: thumb, NotAfter: cert.NotAfter, Source: "two-thirds"}
	d.At = cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) * 2 / 3)
	if ri, ok := r.o.PublicCA.(RenewalInformer); ok {
		w, err := ri.RenewalInfo(ctx, cert)
		switch {
		case errors.Is(err, acme.ErrNoARI):
		case err != nil:
			// The CA cannot say now (unreachable, or it does not know
			// this certificate): two thirds of the lifetime decides, and
			// the CA is asked again in an hour.
			d.Problem, d.AskAgain = err.Error(), now.Add(time.Hour)
		default:
			d.Source, d.WindowStart, d.WindowEnd, d.AskAgain = "ari", w.Start, w.End, w.RetryAfter
			d.At = w.Start
			if span := w.End.Sub(w.Start); span > 0 {
				d.At = w.Start.Add(time.Duration(randUint64(r.o.Rand) % uint64(span)))
			}
			if prev != nil && prev.Thumbprint == thumb && prev.WindowStart.Equal(w.Start) && prev.WindowEnd.Equal(w.End) {
				d.At = prev.At // the same window: keep the time chosen in it
			}
		}
	}
	if latest := cert.NotAfter.Add(-acmeLatestLead); d.At.After(latest) {
		d.At = latest
	}
	d.Due = !now.Before(d.At)
	r.ari.mu.Lock()
	r.ari.entries[id], r.ari.dirty = d, true
	r.ari.mu.Unlock()
	return d
}

func randUint64(rd io.Reader) uint64 {
	var b [8]byte
	if rd == nil {
		return uint64(time.Now().UnixNano())
	}
	if _, err := io.ReadFull(rd, b[:]); err != nil {
		return 0
	}
	return binary.BigEndian.Uint64(b[:])
}

// RenewalInfo implements [RenewalInformer] for the ACME CA.
func (a *acmeCA) RenewalInfo(ctx context.Context, leaf *x509.Certificate) (*acme.Window, error) {
	return a.c.RenewalInfo(ctx, leaf)
}
