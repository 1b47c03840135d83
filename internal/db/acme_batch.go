package db

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// The ACME records' writes on SQLite share commits. Every write (a single
// statement, or a transaction of several: an order with its
// authorizations, a challenge with its authorization) is queued for one
// goroutine, which runs all the writes queued at that moment in one
// transaction, each inside its own savepoint, and commits once: one fsync
// for the lot instead of one each. A write that fails (a conflict, a
// duplicate key) is rolled back to its savepoint and fails alone; the
// others are committed. Every caller returns only after the commit that
// holds its write, or its failure: durable before the answer, as before.
// There is no waiting for more writes: a batch is what queued while the
// previous commit synced.
//
// The statements are prepared once and kept (stmtCache): parsing SQL was a
// tenth of the CPU of an ACME order.

// maxACMEBatch bounds the writes of one commit.
const maxACMEBatch = 256

// acmeWrite is one queued write.
type acmeWrite struct {
	fn   func(execer) error
	err  error
	done chan struct{}
}

// acmeWriter is the goroutine that commits the queued writes.
type acmeWriter struct {
	ch      chan *acmeWrite
	quit    chan struct{}
	stopped chan struct{} // after quit, once the queue is emptied
	wg      sync.WaitGroup
	// rounds and writes count the commits and the writes they held.
	rounds, writes atomic.Int64
}

func (s *sqliteStore) startACMEWriter() {
	a := &acmeWriter{ch: make(chan *acmeWrite, maxACMEBatch), quit: make(chan struct{}), stopped: make(chan struct{})}
	s.acmeW = a
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		batch := make([]*acmeWrite, 0, maxACMEBatch)
		for {
			select {
			case w := <-a.ch:
				batch = append(batch[:0], w)
			case <-a.quit:
				return
			}
		more:
			for len(batch) < maxACMEBatch {
				select {
				case w := <-a.ch:
					batch = append(batch, w)
				default:
					break more
				}
			}
			s.commitACME(batch)
			a.rounds.Add(1)
			a.writes.Add(int64(len(batch)))
			for _, w := range batch {
				close(w.done)
			}
		}
	}()
}

// stopACMEWriter ends the goroutine; writes still queued fail.
func (s *sqliteStore) stopACMEWriter() {
	a := s.acmeW
	if a == nil {
		return
	}
	close(a.quit)
	a.wg.Wait()
	defer close(a.stopped)
	for {
		select {
		case w := <-a.ch:
			w.err = errClosed
			close(w.done)
		default:
			return
		}
	}
}

// acmeWrite queues fn and waits for the commit that holds it.
func (s *sqliteStore) acmeWrite(ctx context.Context, fn func(execer) error) error {
	w := &acmeWrite{fn: fn, done: make(chan struct{})}
	select {
	case s.acmeW.ch <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.acmeW.quit:
		return errClosed
	}
	select { // bounded by the commit: the answer is the truth, not a guess
	case <-w.done:
	case <-s.acmeW.stopped:
		select {
		case <-w.done:
		default: // queued after the store closed
			return errClosed
		}
	}
	return w.err
}

// commitACME runs batch in one transaction and sets each write's error.
func (s *sqliteStore) commitACME(batch []*acmeWrite) {
	ctx := context.Background()
	fail := func(err error) {
		for _, w := range batch {
			if w.err == nil {
				w.err = err
			}
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		fail(err)
		return
	}
	x := sqliteExec{w: tx, r: tx, ws: &s.wStmts, tx: tx, detached: true}
	var unprepared []string
	x.missed = &unprepared
	for _, w := range batch {
		if len(batch) == 1 {
			w.err = w.fn(x)
			break
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT acme_write"); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
		if w.err = w.fn(x); w.err != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO acme_write"); err != nil {
				tx.Rollback()
				fail(err)
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE acme_write"); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
	}
	if len(batch) == 1 && batch[0].err != nil {
		tx.Rollback()
	} else if err := tx.Commit(); err != nil {
		fail(err)
	}
	// The writer's one connection is free again: prepare what was missed.
	for _, q := range unprepared {
		s.wStmts.prepare(ctx, q)
	}
}

// stmtCache keeps prepared statements of one sql.DB by their text.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// lookup returns the statement prepared for q, or nil.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[q]
}

// prepare prepares q, once; a statement that cannot be prepared is left
// to run unprepared (its error shows there).
func (c *stmtCache) prepare(ctx context.Context, q string) *sql.Stmt {
	if st := c.lookup(q); st != nil {
		return st
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[q]; old != nil {
		st.Close()
		return old
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}
