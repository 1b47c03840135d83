package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
)

// A group-commit round of several records is written with one multi-row
// INSERT per table rather than one statement per row: the statements are
// prepared once per round size and kept. Request ids come from the single
// writer: in one transaction on the one writer connection, a multi-row
// INSERT into an AUTOINCREMENT table numbers its rows consecutively in
// VALUES order, so the ids are last_insert_rowid()-n+1 … last_insert_rowid().

const (
	insReqCols   = "requester, template, subject, csr, status, submitted, serial, reason, decided_by"
	insCertCols  = "serial, request_id, requester, template, subject, not_before, not_after, der"
	insAuditCols = "at, actor, action, template, subject, serial, request_id, result, detail"
)

// multiStmts caches the multi-row INSERT statements by table and row count.
type multiStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (c *multiStmts) get(ctx context.Context, w *sql.DB, table, cols string, ncols, rows int) (*sql.Stmt, error) {
	key := fmt.Sprintf("%s/%d", table, rows)
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[key]; ok {
		return st, nil
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", ncols), ",") + ")"
	q := "INSERT INTO " + table + "(" + cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
	st, err := w.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[key] = st
	return st, nil
}

func (c *multiStmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// multiRound is a round split by table, with its statements.
type multiRound struct {
	ops, reqs, certs       []*writeOp
	reqSt, certSt, auditSt *sql.Stmt
}

// prepareMulti splits ops (more than one) by table and gets the
// statements; it runs before the transaction begins, since the writer's
// one connection is the transaction's.
func (s *sqliteStore) prepareMulti(ctx context.Context, ops []*writeOp) (*multiRound, error) {
	m := &multiRound{ops: ops}
	for _, op := range ops {
		if op.kind != opAudit {
			m.reqs = append(m.reqs, op)
		}
		if op.kind == opIssue {
			m.certs = append(m.certs, op)
		}
	}
	var err error
	if len(m.reqs) > 0 {
		if m.reqSt, err = s.multi.get(ctx, s.w, "requests", insReqCols, 9, len(m.reqs)); err != nil {
			return nil, sqliteErr("prepare", err)
		}
	}
	if len(m.certs) > 0 {
		if m.certSt, err = s.multi.get(ctx, s.w, "certificates", insCertCols, 8, len(m.certs)); err != nil {
			return nil, sqliteErr("prepare", err)
		}
	}
	if m.auditSt, err = s.multi.get(ctx, s.w, "audit", insAuditCols, 9, len(ops)); err != nil {
		return nil, sqliteErr("prepare", err)
	}
	return m, nil
}

// commitMulti writes the round in tx with one INSERT per table.
func (s *sqliteStore) commitMulti(ctx context.Context, tx *sql.Tx, m *multiRound) error {
	ops, reqs, certs := m.ops, m.reqs, m.certs
	if len(reqs) > 0 {
		args := make([]any, 0, 9*len(reqs))
		for _, op := range reqs {
			r := op.req
			var serial any
			if r.Serial != "" {
				serial = r.Serial
			}
			args = append(args, r.Requester, r.Template, r.Subject, r.CSR, r.Status, r.Submitted.Unix(), serial, r.Reason, r.DecidedBy)
		}
		last, err := execMulti(ctx, tx, m.reqSt, args)
		if err != nil {
			return sqliteErr("insert requests", err)
		}
		for i, op := range reqs {
			op.id = last - int64(len(reqs)-1-i)
		}
	}
	if len(certs) > 0 {
		args := make([]any, 0, 8*len(certs))
		for _, op := range certs {
			c := op.cert
			args = append(args, c.Serial, op.id, c.Requester, c.Template, c.Subject, c.NotBefore.Unix(), c.NotAfter.Unix(), c.DER)
		}
		if _, err := execMulti(ctx, tx, m.certSt, args); err != nil {
			return sqliteErr("insert certificates", err)
		}
	}
	args := make([]any, 0, 9*len(ops))
	for _, op := range ops {
		a := op.audit
		if a.RequestID == 0 {
			a.RequestID = op.id
		}
		args = append(args, a.At.Unix(), a.Actor, a.Action, a.Template, a.Subject, a.Serial, a.RequestID, a.Result, a.Detail)
	}
	_, err := execMulti(ctx, tx, m.auditSt, args)
	return sqliteErr("insert audit", err)
}

// execMulti runs a multi-row INSERT in tx and returns the last rowid.
func execMulti(ctx context.Context, tx *sql.Tx, st *sql.Stmt, args []any) (int64, error) {
	res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}
