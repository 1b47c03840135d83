package ca

import (
	"context"
	"errors"
	"fmt"
	"time"

	"edgecert/internal/db"
)

// CRLs shared by several CA processes on one database.
//
// A CRL number names one CRL: the process that takes a number from the
// database's counter signs the CRL and stores it in the database under
// that number, and every process serves the latest stored full CRL and the
// latest delta CRL on it. Each CRL request reads the head of the stored
// CRLs and the revocation counter in one query, so that
//
//   - the numbers a client sees never decrease, whichever process it asks
//     (each answer is at least the latest stored when the request came);
//   - a delta CRL is always served with the full CRL it applies to;
//   - after a revocation in any process, the next CRL request to any
//     process gets a CRL that holds it (the counter has moved, so the
//     stored full CRL is due).
//
// While the database does not answer, a process serves the CRLs it holds
// as long as they are valid (nextUpdate not passed).

// fullDue reports whether the latest stored full CRL must be replaced: none
// yet, one that may lack a revocation counted up to revs, or half of its
// validity passed.
func (e *Engine) fullDue(h db.CRLHead, revs int64, now time.Time) bool {
	return h.Full == nil || h.Full.Revocations < revs || now.Sub(h.Full.ThisUpdate) > time.Duration(e.cfg.CRLValidity)/2
}

// deltaDue reports whether the latest stored delta on the latest full CRL
// must be replaced: none yet, or half of its validity passed.
func (e *Engine) deltaDue(h db.CRLHead, now time.Time) bool {
	return h.Delta == nil || now.Sub(h.Delta.ThisUpdate) > time.Duration(e.cfg.DeltaValidity)/2
}

// CRL returns the latest full (or delta) CRL, DER, signing and storing a
// new one when due. While the database does not answer it returns the CRL
// this process holds, as long as it is valid.
func (e *Engine) CRL(ctx context.Context, delta bool) ([]byte, error) {
	if e.signer == nil {
		return nil, fmt.Errorf("the CA was opened without its key: %w", ErrBadRequest)
	}
	h, herr := e.db.CRLHead(ctx)
	c := &e.crl
	c.mu.Lock()
	defer c.mu.Unlock()
	now := e.now()
	if herr == nil && c.holds(h) && !e.fullDue(h, h.Revocations, now) && !e.deltaDue(h, now) {
		return c.pick(delta).DER, nil
	}
	err := wrapDB(herr)
	if err == nil {
		err = e.refreshCRLs(ctx, h.Revocations)
	}
	if err == nil {
		return c.pick(delta).DER, nil
	}
	if held := c.pick(delta); held != nil && now.Before(held.NextUpdate) && dbAway(err) {
		return held.DER, nil
	}
	return nil, err
}

// dbAway reports whether err says the database did not answer (in time).
func dbAway(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// holds reports whether the cache holds the CRLs h names.
func (c *crlCache) holds(h db.CRLHead) bool {
	return c.full != nil && c.delta != nil && h.Full != nil && h.Delta != nil &&
		c.full.Number == h.Full.Number && c.delta.Number == h.Delta.Number
}

// pick is the held full or delta CRL (nil when none).
func (c *crlCache) pick(delta bool) *db.CRL {
	if delta {
		return c.delta
	}
	return c.full
}

// refreshCRLs makes the cache hold the latest stored CRLs, signing and
// storing new ones when they are due; the caller holds crl.mu. revs is the
// revocation counter when the request came: a full CRL that includes those
// revocations will do, so that a stream of revocations in other processes
// cannot keep a request signing. A CRL that cannot be stored (a full disk,
// say) is not served: the latest stored ones are, while they are valid.
func (e *Engine) refreshCRLs(ctx context.Context, revs int64) error {
	var signErr error
	for range 5 { // other processes may store newer CRLs meanwhile
		h, err := e.db.CRLHead(ctx)
		if err != nil {
			return wrapDB(err)
		}
		now := e.now()
		switch {
		case signErr == nil && e.fullDue(h, revs, now):
			_, signErr = e.signCRL(ctx, h, nil)
			continue
		case signErr == nil && e.deltaDue(h, now):
			_, signErr = e.signCRL(ctx, h, h.Full)
			continue
		}
		err = e.loadCRLs(ctx, h)
		if errors.Is(err, ErrNotFound) {
			continue // pruned by a newer one: read the head again
		}
		if err == nil && signErr != nil && (!now.Before(e.crl.full.NextUpdate) || !now.Before(e.crl.delta.NextUpdate)) {
			return signErr // what is stored has expired too
		}
		return err
	}
	if signErr != nil {
		return signErr
	}
	return fmt.Errorf("the CRLs kept changing while being read; try again: %w", ErrUnavailable)
}

// loadCRLs makes the cache hold the CRLs h names (both must exist).
func (e *Engine) loadCRLs(ctx context.Context, h db.CRLHead) error {
	if h.Full == nil || h.Delta == nil {
		return fmt.Errorf("no CRL is stored yet: %w", ErrUnavailable)
	}
	c := &e.crl
	full, delta := c.full, c.delta
	var err error
	if full == nil || full.Number != h.Full.Number {
		if full, err = e.db.CRLByNumber(ctx, h.Full.Number); err != nil {
			return wrapDB(err)
		}
	}
	if delta == nil || delta.Number != h.Delta.Number {
		if delta, err = e.db.CRLByNumber(ctx, h.Delta.Number); err != nil {
			return wrapDB(err)
		}
	}
	c.full, c.delta = full, delta
	return nil
}

// signCRL takes the next CRL number, signs a full CRL (base nil) or a delta
// CRL on base, and stores it. h.Revocations was read before the entries
// are, so a revocation that races with the signature makes the CRL due
// again rather than missing from it.
func (e *Engine) signCRL(ctx context.Context, h db.CRLHead, base *db.CRL) (*db.CRL, error) {
	number, err := e.db.NextCounter(ctx, "crl_number")
	if err != nil {
		return nil, wrapDB(err)
	}
	this := e.now().UTC().Truncate(time.Second)
	c := &db.CRL{Number: number, ThisUpdate: this, Revocations: h.Revocations}
	if base == nil {
		c.NextUpdate = this.Add(time.Duration(e.cfg.CRLValidity))
		c.DER, err = e.encodeCRL(ctx, number, 0, this, c.NextUpdate, time.Time{})
	} else {
		c.Base = base.Number
		c.NextUpdate = this.Add(time.Duration(e.cfg.DeltaValidity))
		c.DER, err = e.encodeCRL(ctx, number, base.Number, this, c.NextUpdate, base.ThisUpdate)
	}
	if err != nil {
		return nil, err
	}
	if err := e.db.InsertCRL(ctx, *c); err != nil {
		return nil, wrapDB(err)
	}
	return c, nil
}
