package store

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// canonicalUsage returns the contract spelling of usage (case-insensitive).
func canonicalUsage(usage string) (string, error) {
	for _, u := range Usages {
		if strings.EqualFold(u, usage) {
			return u, nil
		}
	}
	return "", fmt.Errorf("unknown usage %q (use one of %s): %w", usage, strings.Join(Usages, ", "), ErrInvalidInput)
}

// Binding is one usage to bind: at once, or staged to take over at
// Effective when that is not zero.
type Binding struct {
	Usage     string
	Effective time.Time
}

// Assign binds usage to the certificate, refusing one whose key is not in
// the store (ErrNoKey), whose chain does not reach root (ErrChain) or that
// has expired (ErrExpired). A staged certificate for the usage is dropped.
func (s *Store) Assign(usage, thumbprint string) error {
	return s.Bind(thumbprint, Binding{Usage: usage})
}

// Stage schedules thumbprint to take over usage at effective (R80–R82):
// only AudioVideoAuthentication and OAuthTokenIssuer can be staged, and an
// effective date is required ("-Roll without -EffectiveDate fails").
func (s *Store) Stage(usage, thumbprint string, effective time.Time) error {
	if effective.IsZero() {
		return fmt.Errorf("staging needs an effective date (R80): %w", ErrInvalidInput)
	}
	return s.Bind(thumbprint, Binding{Usage: usage, Effective: effective})
}

// Bind assigns or stages the certificate for every binding in one commit,
// with the checks of Assign and Stage; on error nothing changes.
func (s *Store) Bind(thumbprint string, bs ...Binding) error {
	us := make([]string, len(bs))
	for i, b := range bs {
		u, err := canonicalUsage(b.Usage)
		if err != nil {
			return err
		}
		if !b.Effective.IsZero() && !stageable[u] {
			return fmt.Errorf("only AudioVideoAuthentication and OAuthTokenIssuer can be staged with an effective date (R80), not %s: %w", u, ErrInvalidInput)
		}
		us[i] = u
	}
	return s.update(func(t *txn) error {
		tp, err := s.assignableLocked(t.idx, thumbprint)
		if err != nil {
			return err
		}
		for i, b := range bs {
			a := t.assignment(us[i])
			if b.Effective.IsZero() {
				if a.Thumbprint != tp && a.Thumbprint != "" && stageable[us[i]] {
					a.Previous = a.Thumbprint
				}
				a.Thumbprint, a.Staged, a.Effective = tp, "", time.Time{}
				continue
			}
			settle(a, s.opts.Now())
			if a.Thumbprint == "" {
				a.Thumbprint = tp // nothing to roll over from: assign at once
			} else if a.Thumbprint != tp {
				a.Staged, a.Effective = tp, b.Effective.UTC()
			}
		}
		t.dirty = true
		return nil
	})
}

// Assignments returns the assignments, sorted by usage; staged certificates
// whose effective date has passed are reported as current.
func (s *Store) Assignments() ([]Assignment, error) {
	idx, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	out := append([]Assignment(nil), idx.Assignments...)
	for i := range out {
		settle(&out[i], now)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Usage < out[j].Usage })
	return out, nil
}

// settle makes a staged certificate current once its effective date passed,
// keeping the replaced one as previous.
func settle(a *Assignment, now time.Time) {
	if a.Staged != "" && !now.Before(a.Effective) {
		a.Previous, a.Thumbprint, a.Staged = a.Thumbprint, a.Staged, ""
	}
}

// assignment returns the assignment of usage u in the transaction, adding it.
func (t *txn) assignment(u string) *Assignment {
	for i := range t.idx.Assignments {
		if t.idx.Assignments[i].Usage == u {
			return &t.idx.Assignments[i]
		}
	}
	t.idx.Assignments = append(t.idx.Assignments, Assignment{Usage: u})
	sort.Slice(t.idx.Assignments, func(i, j int) bool { return t.idx.Assignments[i].Usage < t.idx.Assignments[j].Usage })
	for i := range t.idx.Assignments {
		if t.idx.Assignments[i].Usage == u {
			return &t.idx.Assignments[i]
		}
	}
	return nil
}

// assignableLocked checks that the certificate can be assigned and returns
// its thumbprint: in my, with its key, valid now, chain reaching root.
func (s *Store) assignableLocked(idx *index, thumbprint string) (string, error) {
	r, err := idx.find(thumbprint)
	if err != nil {
		return "", err
	}
	if r.Location != My || !r.HasKey {
		where := "its private key is not in the store"
		if r.Location != My {
			where = fmt.Sprintf("it is in %s, not in my, and its private key is not in the store", r.Location)
		}
		return "", fmt.Errorf("cannot assign %s (%s): %s: %w", r.Thumbprint, r.Subject, where, ErrNoKey)
	}
	now := s.opts.Now()
	if now.After(r.NotAfter) {
		return "", fmt.Errorf("cannot assign %s (%s): it expired on %s: %w", r.Thumbprint, r.Subject, r.NotAfter.Format(time.RFC3339), ErrExpired)
	}
	if now.Before(r.NotBefore) {
		return "", fmt.Errorf("cannot assign %s (%s): it is not valid before %s: %w", r.Thumbprint, r.Subject, r.NotBefore.Format(time.RFC3339), ErrInvalidInput)
	}
	cert, err := s.loadCertLocked(r.Thumbprint)
	if err != nil {
		return "", err
	}
	if _, err := s.chainLocked(idx, cert); err != nil {
		return "", fmt.Errorf("cannot assign %s: %w", r.Thumbprint, err)
	}
	return r.Thumbprint, nil
}
