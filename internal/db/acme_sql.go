package db

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The ACME records (acme.go) are written once, in SQL both backends run;
// each backend gives them these few primitives. Queries use ? placeholders,
// which PostgreSQL's side numbers.

// execer runs statements, inside or outside a transaction.
type execer interface {
	// exec runs a statement and returns the rows it changed.
	exec(ctx context.Context, q string, args ...any) (int64, error)
	// query calls row for each row of q.
	query(ctx context.Context, q string, args []any, row func(scanner) error) error
}

// sqlBackend is a backend's ACME side: reads and writes outside a
// transaction, and transactions.
type sqlBackend interface {
	execer
	inTxn(ctx context.Context, fn func(execer) error) error
	classify(what string, err error) error
}

func (s *sqliteStore) sqlSide() sqlBackend { return sqliteSQL{s} }
func (s *pgStore) sqlSide() sqlBackend     { return pgSQL{s} }

type sqliteSQL struct{ s *sqliteStore }

type sqlRunner interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// sqliteExec runs statements on w (writes) and r (reads): the store's
// connections, or one transaction for both. With caches, statements are
// prepared once: ws holds the writer's (used through tx, where a statement
// not yet prepared runs as it is and is listed in missed, to be prepared
// once the transaction ends), rs the readers'. In a shared transaction
// (detached) a caller's context does not cancel statements: SQLite
// would answer a cancellation by rolling back the whole transaction, the
// other callers' writes with it.
type sqliteExec struct {
	w, r     sqlRunner
	ws, rs   *stmtCache
	tx       *sql.Tx
	missed   *[]string
	detached bool
}

// txStmt is ws's statement for q bound to tx, or nil.
func (e sqliteExec) txStmt(ctx context.Context, q string) *sql.Stmt {
	if e.tx == nil || e.ws == nil {
		return nil
	}
	if st := e.ws.lookup(q); st != nil {
		return e.tx.StmtContext(ctx, st)
	}
	if e.missed != nil {
		*e.missed = append(*e.missed, q)
	}
	return nil
}

func (e sqliteExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if e.detached {
		ctx = context.WithoutCancel(ctx)
	}
	var res sql.Result
	var err error
	if st := e.txStmt(ctx, q); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = e.w.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e sqliteExec) query(ctx context.Context, q string, args []any, row func(scanner) error) error {
	if e.detached {
		ctx = context.WithoutCancel(ctx)
	}
	var rows *sql.Rows
	var err error
	st := e.txStmt(ctx, q)
	if st == nil && e.tx == nil && e.rs != nil {
		st = e.rs.prepare(ctx, q)
	}
	if st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = e.r.QueryContext(ctx, q, args...)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// exec is a write of its own: it shares a commit with the writes queued
// beside it (acme_batch.go).
func (b sqliteSQL) exec(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := b.s.acmeWrite(ctx, func(x execer) (err error) {
		n, err = x.exec(ctx, q, args...)
		return err
	})
	return n, err
}

func (b sqliteSQL) query(ctx context.Context, q string, args []any, row func(scanner) error) error {
	return sqliteExec{w: b.s.w, r: b.s.r, rs: &b.s.rStmts}.query(ctx, q, args, row)
}

// inTxn runs fn as one write: all of it or none, in a commit shared with
// the writes queued beside it.
func (b sqliteSQL) inTxn(ctx context.Context, fn func(execer) error) error {
	return b.s.acmeWrite(ctx, fn)
}

func (b sqliteSQL) classify(what string, err error) error { return sqliteErr(what, err) }

type pgSQL struct{ s *pgStore }

// numbered turns the ? placeholders of q into $1, $2, ...
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

type pgTxExec struct{ tx pgx.Tx }

func (e pgTxExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := e.tx.Exec(ctx, numbered(q), args...)
	return tag.RowsAffected(), err
}

func (e pgTxExec) query(ctx context.Context, q string, args []any, row func(scanner) error) error {
	rows, err := e.tx.Query(ctx, numbered(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (b pgSQL) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := b.s.pool.Exec(ctx, numbered(q), args...)
	return tag.RowsAffected(), err
}

func (b pgSQL) query(ctx context.Context, q string, args []any, row func(scanner) error) error {
	rows, err := b.s.pool.Query(ctx, numbered(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (b pgSQL) inTxn(ctx context.Context, fn func(execer) error) error {
	return pgx.BeginFunc(ctx, b.s.pool, func(tx pgx.Tx) error { return fn(pgTxExec{tx}) })
}

func (b pgSQL) classify(what string, err error) error {
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return err
	}
	return pgErr(what, err)
}
