package db

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// connPool is a small fixed-size pool of PostgreSQL connections (pgxpool
// would pull in another module for what these few lines do).
type connPool struct {
	cfg    *pgx.ConnConfig
	slots  chan struct{}
	mu     sync.Mutex
	idle   []*pgx.Conn
	closed bool
}

func newConnPool(cfg *pgx.ConnConfig, size int) *connPool {
	return &connPool{cfg: cfg, slots: make(chan struct{}, size)}
}

func (p *connPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

func (p *connPool) release(c *pgx.Conn) {
	p.mu.Lock()
	if p.closed || c.IsClosed() || c.PgConn().TxStatus() != 'I' {
		p.mu.Unlock()
		c.Close(context.Background())
	} else {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
	}
	<-p.slots
}

func (p *connPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.Close(context.Background())
	}
}

// Exec runs one statement.
func (p *connPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer p.release(c)
	return c.Exec(ctx, sql, args...)
}

// row is a QueryRow result that releases its connection after Scan.
type row struct {
	p   *connPool
	c   *pgx.Conn
	r   pgx.Row
	err error
}

func (r *row) Scan(dst ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.p.release(r.c)
	return r.r.Scan(dst...)
}

// QueryRow runs a query returning at most one row.
func (p *connPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c, err := p.acquire(ctx)
	if err != nil {
		return &row{err: err}
	}
	return &row{p: p, c: c, r: c.QueryRow(ctx, sql, args...)}
}

// rows releases its connection when closed.
type rows struct {
	pgx.Rows
	p    *connPool
	c    *pgx.Conn
	once sync.Once
}

func (r *rows) Close() {
	r.Rows.Close()
	r.once.Do(func() { r.p.release(r.c) })
}

func (r *rows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

// Query runs a query; the caller must Close the rows.
func (p *connPool) Query(ctx context.Context, sql string, args ...any) (*rows, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := c.Query(ctx, sql, args...)
	if err != nil {
		p.release(c)
		return nil, err
	}
	return &rows{Rows: rs, p: p, c: c}, nil
}

// BeginTx acquires a connection and starts a transaction; implements
// pgx.BeginFunc's beginner via Begin.
func (p *connPool) Begin(ctx context.Context) (pgx.Tx, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		p.release(c)
		return nil, err
	}
	return &poolTx{Tx: tx, p: p, c: c}, nil
}

// poolTx releases its connection at commit or rollback.
type poolTx struct {
	pgx.Tx
	p    *connPool
	c    *pgx.Conn
	once sync.Once
}

func (t *poolTx) done() { t.once.Do(func() { t.p.release(t.c) }) }

func (t *poolTx) Commit(ctx context.Context) error {
	err := t.Tx.Commit(ctx)
	t.done()
	return err
}

func (t *poolTx) Rollback(ctx context.Context) error {
	err := t.Tx.Rollback(ctx)
	t.done()
	return err
}

// SendBatch pipelines a batch on one connection; results are read inside fn.
func (p *connPool) SendBatch(ctx context.Context, b *pgx.Batch, fn func(pgx.BatchResults) error) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.release(c)
	br := c.SendBatch(ctx, b)
	if err := fn(br); err != nil {
		br.Close()
		return err
	}
	return br.Close()
}
