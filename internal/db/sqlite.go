package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
)

// Every connection keeps the write-ahead log and its shared-memory index
// when it closes (SQLITE_FCNTL_PERSIST_WAL) instead of deleting them:
// opening a database whose index is gone means writing a new one, which a
// full disk refuses, and a CA on a full disk must still open its database
// to serve revocation.
func init() {
	sqlite.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, _ string) error {
		if fc, ok := c.(sqlite.FileControl); ok {
			if _, err := fc.FileControlPersistWAL("main", 1); err != nil {
				return fmt.Errorf("keep the write-ahead log: %w", err)
			}
		}
		return nil
	})
}

//go:embed migrations
var migrations embed.FS

// sqliteStore is the embedded backend: one writer connection (the group
// commit and every other write go through it, so SQLite never reports
// "database is locked" within a process) and a pool of readers.
type sqliteStore struct {
	w, r *sql.DB
	ins  struct{ req, cert, audit *sql.Stmt }
	// multi holds the multi-row INSERTs of group-commit rounds (sqlite_batch.go).
	multi multiStmts
	// acmeW commits the ACME records' writes in shared transactions, with
	// the statements of wStmts (writer) and rStmts (readers) prepared once
	// (acme_batch.go).
	acmeW          *acmeWriter
	wStmts, rStmts stmtCache
}

func openSQLite(ctx context.Context, path string) (*sqliteStore, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty SQLite path", ErrUnavailable)
	}
	base := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, unavailable("open "+path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	s := &sqliteStore{w: w}
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, unavailable("open "+path, err)
	}
	if err := migrateSQL(ctx, w, "migrations/sqlite", "?"); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, unavailable("open "+path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s.r = r
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&s.ins.req, `INSERT INTO requests(requester, template, subject, csr, status, submitted, serial, reason, decided_by) VALUES(?,?,?,?,?,?,?,?,?) RETURNING id`},
		{&s.ins.cert, `INSERT INTO certificates(serial, request_id, requester, template, subject, not_before, not_after, der) VALUES(?,?,?,?,?,?,?,?)`},
		{&s.ins.audit, `INSERT INTO audit(at, actor, action, template, subject, serial, request_id, result, detail) VALUES(?,?,?,?,?,?,?,?,?)`},
	} {
		if *p.dst, err = w.PrepareContext(ctx, p.q); err != nil {
			s.close()
			return nil, unavailable("prepare", err)
		}
	}
	s.wStmts.db, s.rStmts.db = w, r
	s.startACMEWriter()
	return s, nil
}

// migrateSQL applies the embedded migrations of dir that are not yet recorded.
func migrateSQL(ctx context.Context, w *sql.DB, dir, ph string) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
		return unavailable("migrate", err)
	}
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		var n int
		if err := w.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = `+ph, e.Name()).Scan(&n); err != nil {
			return unavailable("migrate", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return err
		}
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return unavailable("migrate", err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return unavailable("migrate "+e.Name(), err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version) VALUES(`+ph+`)`, e.Name()); err != nil {
			tx.Rollback()
			return unavailable("migrate", err)
		}
		if err := tx.Commit(); err != nil {
			return unavailable("migrate", err)
		}
	}
	return nil
}

func (s *sqliteStore) writers() int { return 1 }

// serverOnHost is false: SQLite runs in this process, on its threads.
func (s *sqliteStore) serverOnHost() bool { return false }

func (s *sqliteStore) close() error {
	var errs []error
	s.stopACMEWriter()
	s.multi.close()
	s.wStmts.close()
	s.rStmts.close()
	for _, st := range []*sql.Stmt{s.ins.req, s.ins.cert, s.ins.audit} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// sqliteErr classifies a driver error.
func sqliteErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if strings.Contains(err.Error(), "UNIQUE constraint failed") || strings.Contains(err.Error(), "PRIMARY KEY constraint failed") {
		return fmt.Errorf("%s: %w", what, ErrDuplicate)
	}
	return unavailable(what, err)
}

func (s *sqliteStore) commit(ctx context.Context, ops []*writeOp) error {
	var m *multiRound
	if len(ops) > 1 {
		var err error
		if m, err = s.prepareMulti(ctx, ops); err != nil {
			return err
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr("begin", err)
	}
	if m != nil {
		if err := s.commitMulti(ctx, tx, m); err != nil {
			tx.Rollback()
			return err
		}
		return sqliteErr("commit", tx.Commit())
	}
	req, cert, aud := tx.StmtContext(ctx, s.ins.req), tx.StmtContext(ctx, s.ins.cert), tx.StmtContext(ctx, s.ins.audit)
	for _, op := range ops {
		if err := s.apply(ctx, req, cert, aud, op); err != nil {
			tx.Rollback()
			return err
		}
	}
	return sqliteErr("commit", tx.Commit())
}

func (s *sqliteStore) apply(ctx context.Context, req, cert, aud *sql.Stmt, op *writeOp) error {
	if op.kind != opAudit {
		r := op.req
		var serial any
		if r.Serial != "" {
			serial = r.Serial
		}
		if err := req.QueryRowContext(ctx, r.Requester, r.Template, r.Subject, r.CSR, r.Status, r.Submitted.Unix(), serial, r.Reason, r.DecidedBy).Scan(&op.id); err != nil {
			return sqliteErr("insert request", err)
		}
	}
	if op.kind == opIssue {
		c := op.cert
		if _, err := cert.ExecContext(ctx, c.Serial, op.id, c.Requester, c.Template, c.Subject, c.NotBefore.Unix(), c.NotAfter.Unix(), c.DER); err != nil {
			return sqliteErr("insert certificate "+c.Serial, err)
		}
	}
	a := op.audit
	if a.RequestID == 0 {
		a.RequestID = op.id
	}
	_, err := aud.ExecContext(ctx, a.At.Unix(), a.Actor, a.Action, a.Template, a.Subject, a.Serial, a.RequestID, a.Result, a.Detail)
	return sqliteErr("insert audit", err)
}

func (s *sqliteStore) createUser(ctx context.Context, u User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO users(name, groups, admin, password_hash, created, disabled, version) VALUES(?,?,?,?,?,?,?)`,
		u.Name, joinGroups(u.Groups), u.Admin, u.PasswordHash, u.Created.Unix(), u.Disabled, u.Version)
	return sqliteErr("create user "+u.Name, err)
}

func (s *sqliteStore) setUser(ctx context.Context, u User) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET groups = ?, admin = ?, disabled = ?, version = ?, password_hash = CASE WHEN ? = '' THEN password_hash ELSE ? END WHERE name = ?`,
		joinGroups(u.Groups), u.Admin, u.Disabled, u.Version, u.PasswordHash, u.PasswordHash, u.Name)
	if err != nil {
		return sqliteErr("update user "+u.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", u.Name, ErrNotFound)
	}
	return nil
}

const userCols = `name, groups, admin, password_hash, created, disabled, version`

func scanUser(sc scanner) (*User, error) {
	var u User
	var groups string
	var created int64
	if err := sc.Scan(&u.Name, &groups, &u.Admin, &u.PasswordHash, &created, &u.Disabled, &u.Version); err != nil {
		return nil, err
	}
	u.Groups, u.Created = splitGroups(groups), time.Unix(created, 0)
	return &u, nil
}

func (s *sqliteStore) user(ctx context.Context, name string) (*User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if err != nil {
		return nil, sqliteErr("user "+name, err)
	}
	return u, nil
}

func (s *sqliteStore) users(ctx context.Context) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, sqliteErr("users", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, sqliteErr("users", err)
		}
		out = append(out, *u)
	}
	return out, sqliteErr("users", rows.Err())
}

func (s *sqliteStore) deleteUser(ctx context.Context, name string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr("begin", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_name = ?`, name); err != nil {
		return sqliteErr("delete tokens of "+name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM acme_eab_keys WHERE user_name = ?`, name); err != nil {
		return sqliteErr("delete external account keys of "+name, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return sqliteErr("delete user "+name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	return sqliteErr("delete user "+name, tx.Commit())
}

func (s *sqliteStore) addToken(ctx context.Context, hash, user string, at time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens(hash, user_name, created) VALUES(?,?,?)`, hash, user, at.Unix())
	return sqliteErr("add token", err)
}

func (s *sqliteStore) tokenUser(ctx context.Context, hash string) (string, error) {
	var name string
	err := s.r.QueryRowContext(ctx, `SELECT user_name FROM tokens WHERE hash = ?`, hash).Scan(&name)
	return name, sqliteErr("token", err)
}

func (s *sqliteStore) tokens(ctx context.Context, user string) ([]Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT hash, user_name, created FROM tokens WHERE user_name = ? ORDER BY created, hash`, user)
	if err != nil {
		return nil, sqliteErr("tokens", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var created int64
		if err := rows.Scan(&t.Hash, &t.User, &created); err != nil {
			return nil, sqliteErr("tokens", err)
		}
		t.Created = time.Unix(created, 0)
		out = append(out, t)
	}
	return out, sqliteErr("tokens", rows.Err())
}

func (s *sqliteStore) deleteTokens(ctx context.Context, user, prefix string) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM tokens WHERE user_name = ? AND substr(hash, 1, ?) = ?`, user, len(prefix), prefix)
	if err != nil {
		return 0, sqliteErr("delete tokens", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

const requestCols = `id, requester, template, subject, csr, status, submitted, COALESCE(serial, ''), reason, decided_by`

type scanner interface{ Scan(...any) error }

func scanRequest(sc scanner) (*Request, error) {
	var r Request
	var submitted int64
	if err := sc.Scan(&r.ID, &r.Requester, &r.Template, &r.Subject, &r.CSR, &r.Status, &submitted, &r.Serial, &r.Reason, &r.DecidedBy); err != nil {
		return nil, err
	}
	r.Submitted = time.Unix(submitted, 0)
	return &r, nil
}

func (s *sqliteStore) request(ctx context.Context, id int64) (*Request, error) {
	r, err := scanRequest(s.r.QueryRowContext(ctx, `SELECT `+requestCols+` FROM requests WHERE id = ?`, id))
	if err != nil {
		return nil, sqliteErr(fmt.Sprintf("request %d", id), err)
	}
	return r, nil
}

func (s *sqliteStore) requests(ctx context.Context, requester, status string, before int64, limit int) ([]Request, error) {
	q, args := requestsQuery(requester, status, before, limit, func(int) string { return "?" })
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, sqliteErr("requests", err)
	}
	defer rows.Close()
	var out []Request
	for rows.Next() {
		r, err := scanListed(rows)
		if err != nil {
			return nil, sqliteErr("requests", err)
		}
		out = append(out, *r)
	}
	return out, sqliteErr("requests", rows.Err())
}

// StatusRevoked lists, in Requests, the issued requests whose certificate
// is revoked; StatusIssued lists those whose certificate is not.
const StatusRevoked = "revoked"

// listCols are the columns of a listing: a request's, and whether its
// certificate is revoked now.
const listCols = `q.id, q.requester, q.template, q.subject, q.csr, q.status, q.submitted, COALESCE(q.serial, ''), q.reason, q.decided_by, rv.serial IS NOT NULL`

// scanListed scans a row of listCols.
func scanListed(sc scanner) (*Request, error) {
	var r Request
	var submitted int64
	if err := sc.Scan(&r.ID, &r.Requester, &r.Template, &r.Subject, &r.CSR, &r.Status, &submitted, &r.Serial, &r.Reason, &r.DecidedBy, &r.Revoked); err != nil {
		return nil, err
	}
	r.Submitted = time.Unix(submitted, 0)
	return &r, nil
}

// requestsQuery builds the listing query with the backend's placeholders:
// the status filter is in the query (revoked and issued by the
// certificate's state now), so that a page holds matches only.
func requestsQuery(requester, status string, before int64, limit int, ph func(int) string) (string, []any) {
	var where []string
	var args []any
	if requester != "" {
		args = append(args, requester)
		where = append(where, "q.requester = "+ph(len(args)))
	}
	switch status {
	case "":
	case StatusRevoked:
		where = append(where, "q.status = 'issued' AND rv.serial IS NOT NULL")
	case StatusIssued:
		where = append(where, "q.status = 'issued' AND rv.serial IS NULL")
	default:
		args = append(args, status)
		where = append(where, "q.status = "+ph(len(args)))
	}
	if before > 0 {
		args = append(args, before)
		where = append(where, "q.id < "+ph(len(args)))
	}
	q := `SELECT ` + listCols + ` FROM requests q LEFT JOIN revocations rv ON rv.serial = q.serial`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY q.id DESC"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return q, args
}

func (s *sqliteStore) complete(ctx context.Context, id int64, status, reason, decidedBy string, cert *Cert, a Audit) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr("begin", err)
	}
	defer tx.Rollback()
	var serial any
	if cert != nil {
		serial = cert.Serial
	}
	res, err := tx.ExecContext(ctx, `UPDATE requests SET status = ?, reason = ?, decided_by = ?, serial = ? WHERE id = ? AND status = 'pending'`,
		status, reason, decidedBy, serial, id)
	if err != nil {
		return sqliteErr("update request", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("request %d is not pending: %w", id, ErrConflict)
	}
	if cert != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO certificates(serial, request_id, requester, template, subject, not_before, not_after, der) VALUES(?,?,?,?,?,?,?,?)`,
			cert.Serial, id, cert.Requester, cert.Template, cert.Subject, cert.NotBefore.Unix(), cert.NotAfter.Unix(), cert.DER); err != nil {
			return sqliteErr("insert certificate", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit(at, actor, action, template, subject, serial, request_id, result, detail) VALUES(?,?,?,?,?,?,?,?,?)`,
		a.At.Unix(), a.Actor, a.Action, a.Template, a.Subject, a.Serial, id, a.Result, a.Detail); err != nil {
		return sqliteErr("insert audit", err)
	}
	return sqliteErr("commit", tx.Commit())
}

const certCols = `c.serial, c.request_id, c.requester, c.template, c.subject, c.not_before, c.not_after, c.der, r.revoked_at, r.reason`

func scanCert(sc scanner) (*Cert, error) {
	var c Cert
	var nb, na int64
	var at, reason sql.NullInt64
	if err := sc.Scan(&c.Serial, &c.RequestID, &c.Requester, &c.Template, &c.Subject, &nb, &na, &c.DER, &at, &reason); err != nil {
		return nil, err
	}
	c.NotBefore, c.NotAfter = time.Unix(nb, 0), time.Unix(na, 0)
	if at.Valid {
		c.Revoked, c.RevokedAt, c.Reason = true, time.Unix(at.Int64, 0), int(reason.Int64)
	}
	return &c, nil
}

func (s *sqliteStore) certificate(ctx context.Context, serial string) (*Cert, error) {
	c, err := scanCert(s.r.QueryRowContext(ctx, `SELECT `+certCols+` FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial WHERE c.serial = ?`, serial))
	if err != nil {
		return nil, sqliteErr("certificate "+serial, err)
	}
	return c, nil
}

func certificatesQuery(revokedOnly bool, limit int) string {
	q := `SELECT ` + certCols + ` FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial`
	if revokedOnly {
		q += ` WHERE r.serial IS NOT NULL`
	}
	q += ` ORDER BY c.request_id DESC`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return q
}

func (s *sqliteStore) certificates(ctx context.Context, revokedOnly bool, limit int) ([]Cert, error) {
	rows, err := s.r.QueryContext(ctx, certificatesQuery(revokedOnly, limit))
	if err != nil {
		return nil, sqliteErr("certificates", err)
	}
	defer rows.Close()
	var out []Cert
	for rows.Next() {
		c, err := scanCert(rows)
		if err != nil {
			return nil, sqliteErr("certificates", err)
		}
		out = append(out, *c)
	}
	return out, sqliteErr("certificates", rows.Err())
}

func (s *sqliteStore) revoke(ctx context.Context, r Revocation, a Audit) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr("begin", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM certificates WHERE serial = ?`, r.Serial).Scan(&n); err != nil {
		return sqliteErr("revoke", err)
	}
	if n == 0 {
		return fmt.Errorf("certificate %s: %w", r.Serial, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO revocations(serial, revoked_at, reason, entry) VALUES(?,?,?,?)`, r.Serial, r.RevokedAt.Unix(), r.Reason, r.Entry); err != nil {
		if err = sqliteErr("revoke", err); errors.Is(err, ErrDuplicate) {
			return fmt.Errorf("certificate %s is already revoked: %w", r.Serial, ErrConflict)
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'revocations'`); err != nil {
		return sqliteErr("revoke", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit(at, actor, action, template, subject, serial, request_id, result, detail) VALUES(?,?,?,?,?,?,?,?,?)`,
		a.At.Unix(), a.Actor, a.Action, a.Template, a.Subject, a.Serial, a.RequestID, a.Result, a.Detail); err != nil {
		return sqliteErr("insert audit", err)
	}
	return sqliteErr("commit", tx.Commit())
}

func (s *sqliteStore) revokedEach(ctx context.Context, since time.Time, fn func([]byte) error) error {
	q, args := `SELECT entry FROM revocations`, []any{}
	if !since.IsZero() {
		q += ` WHERE revoked_at >= ?`
		args = append(args, since.Unix())
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return sqliteErr("revocations", err)
	}
	defer rows.Close()
	var entry sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&entry); err != nil {
			return sqliteErr("revocations", err)
		}
		if err := fn(entry); err != nil {
			return err
		}
	}
	return sqliteErr("revocations", rows.Err())
}

func (s *sqliteStore) countStatus(ctx context.Context, status string) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM requests WHERE status = ?`, status).Scan(&n)
	return n, sqliteErr("count requests", err)
}

func (s *sqliteStore) revokedCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM revocations`).Scan(&n)
	return n, sqliteErr("count revocations", err)
}

func (s *sqliteStore) bulkRevoked(ctx context.Context, rs []Revocation) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr("begin", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO revocations(serial, revoked_at, reason, entry) VALUES(?,?,?,?)`)
	if err != nil {
		return sqliteErr("bulk revoke", err)
	}
	defer st.Close()
	for _, r := range rs {
		if _, err := st.ExecContext(ctx, r.Serial, r.RevokedAt.Unix(), r.Reason, r.Entry); err != nil {
			return sqliteErr("bulk revoke", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'revocations'`); err != nil {
		return sqliteErr("bulk revoke", err)
	}
	return sqliteErr("commit", tx.Commit())
}

func (s *sqliteStore) counter(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = ?`, name).Scan(&v)
	return v, sqliteErr("counter "+name, err)
}

func (s *sqliteStore) nextCounter(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.w.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value`, name).Scan(&v)
	return v, sqliteErr("counter "+name, err)
}

func (s *sqliteStore) audit(ctx context.Context, limit int) ([]Audit, error) {
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, actor, action, template, subject, serial, request_id, result, detail FROM audit ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, sqliteErr("audit", err)
	}
	defer rows.Close()
	var out []Audit
	for rows.Next() {
		var a Audit
		var at int64
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Template, &a.Subject, &a.Serial, &a.RequestID, &a.Result, &a.Detail); err != nil {
			return nil, sqliteErr("audit", err)
		}
		a.At = time.Unix(at, 0).UTC()
		out = append(out, a)
	}
	return out, sqliteErr("audit", rows.Err())
}

func (s *sqliteStore) crlHead(ctx context.Context) (CRLHead, error) {
	var h CRLHead
	rows, err := s.r.QueryContext(ctx, crlHeadQuery)
	if err != nil {
		return h, sqliteErr("latest CRLs", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, b, this, next, revs int64
		if err := rows.Scan(&n, &b, &this, &next, &revs); err != nil {
			return h, sqliteErr("latest CRLs", err)
		}
		crlHeadRow(&h, n, b, this, next, revs)
	}
	return h, sqliteErr("latest CRLs", rows.Err())
}

func (s *sqliteStore) crlByNumber(ctx context.Context, number int64) (*CRL, error) {
	c := &CRL{Number: number}
	var this, next int64
	err := s.r.QueryRowContext(ctx, `SELECT base, this_update, next_update, revocations, der FROM crls WHERE number = ?`, number).
		Scan(&c.Base, &this, &next, &c.Revocations, &c.DER)
	if err != nil {
		return nil, sqliteErr(fmt.Sprintf("CRL %d", number), err)
	}
	c.ThisUpdate, c.NextUpdate = time.Unix(this, 0).UTC(), time.Unix(next, 0).UTC()
	return c, nil
}

func (s *sqliteStore) insertCRL(ctx context.Context, c CRL) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr("begin", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO crls(number, base, this_update, next_update, revocations, der) VALUES(?,?,?,?,?,?)`,
		c.Number, c.Base, c.ThisUpdate.Unix(), c.NextUpdate.Unix(), c.Revocations, c.DER); err != nil {
		return sqliteErr(fmt.Sprintf("store CRL %d", c.Number), err)
	}
	if _, err := tx.ExecContext(ctx, crlPrune(c, func(n int) string { return fmt.Sprintf("?%d", n) }), c.Number, c.Base); err != nil {
		return sqliteErr("prune CRLs", err)
	}
	return sqliteErr("commit", tx.Commit())
}

func (s *sqliteStore) probe(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `UPDATE counters SET value = value WHERE name = 'crl_number'`)
	return sqliteErr("write probe", err)
}
