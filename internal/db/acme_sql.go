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

type sqliteExec struct {
	w, r sqlRunner
}

func (e sqliteExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := e.w.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e sqliteExec) query(ctx context.Context, q string, args []any, row func(scanner) error) error {
	rows, err := e.r.QueryContext(ctx, q, args...)
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

func (b sqliteSQL) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return sqliteExec{b.s.w, b.s.r}.exec(ctx, q, args...)
}

func (b sqliteSQL) query(ctx context.Context, q string, args []any, row func(scanner) error) error {
	return sqliteExec{b.s.w, b.s.r}.query(ctx, q, args, row)
}

func (b sqliteSQL) inTxn(ctx context.Context, fn func(execer) error) error {
	tx, err := b.s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(sqliteExec{tx, tx}); err != nil {
		return err
	}
	return tx.Commit()
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
