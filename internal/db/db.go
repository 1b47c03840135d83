// Package db is the issuance database of edgecert's certification authority:
// users and API tokens, requests, certificates, revocations, the signed CRLs,
// counters, an append-only audit log, and the ACME records (External
// Account Binding keys, accounts, orders, authorizations, challenges and the
// nonce secret every CA process shares; acme.go). Two backends share one API and one test suite:
// SQLite (pure Go, WAL, synchronous=FULL, the default, a file in the CA
// directory) and PostgreSQL (pgx, selected by a postgres:// DSN, shareable by
// several CA processes).
//
// Issuance records go through a group commit: concurrent writers queue their
// records and one writer goroutine commits everything queued in a single
// transaction, so that throughput grows with concurrency while every record
// is durable before its caller returns. On SQLite the ACME records' writes
// share commits the same way, each in its own savepoint (acme_batch.go).
// Serial uniqueness and request state transitions are enforced by the
// database (primary keys, conditional updates), never by process memory.
package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Error kinds returned by the database.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")  // a state transition that is no longer possible
	ErrDuplicate   = errors.New("duplicate") // a unique key already exists
	ErrUnavailable = errors.New("database unavailable")
	// ErrMaybeCommitted: the caller gave up waiting for a write that was
	// already queued; the group commit may still record it.
	ErrMaybeCommitted = errors.New("not confirmed in time; it may still be recorded")
	errClosed         = errors.New("database closed")
)

// Request statuses stored in the requests table.
const (
	StatusPending = "pending"
	StatusIssued  = "issued"
	StatusDenied  = "denied"
)

// User is a CA user.
type User struct {
	Name         string
	Groups       []string
	Admin        bool
	PasswordHash string
	Created      time.Time
	Disabled     bool
	// Version changes with every change to the record (SetUser); web
	// sessions remember it at sign-in and end when it differs.
	Version int64
}

// Token is a stored API token: its hash and when it was created.
type Token struct {
	Hash    string
	User    string
	Created time.Time
}

// Request is one certificate request.
type Request struct {
	ID        int64
	Requester string
	Template  string
	Subject   string
	CSR       []byte
	Status    string
	Submitted time.Time
	Serial    string // upper-case hex, once issued
	Reason    string // why denied
	DecidedBy string
	Revoked   bool // its certificate is revoked (set by Requests)
}

// Cert is an issued certificate.
type Cert struct {
	Serial    string // upper-case hex without leading zeros
	RequestID int64
	Requester string
	Template  string
	Subject   string
	NotBefore time.Time
	NotAfter  time.Time
	DER       []byte
	Revoked   bool
	RevokedAt time.Time
	Reason    int
}

// Revocation is one revoked serial.
type Revocation struct {
	Serial    string
	RevokedAt time.Time
	Reason    int
	// Entry is the DER CRL entry (revokedCertificates element) of this
	// revocation, stored so that CRLs are built by concatenation.
	Entry []byte
}

// Audit is one entry of the audit log.
type Audit struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Template  string    `json:"template,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Serial    string    `json:"serial,omitempty"`
	RequestID int64     `json:"request_id,omitempty"`
	Result    string    `json:"result"`
	Detail    string    `json:"detail,omitempty"`
}

// Kinds of queued writes.
const (
	opIssue   = iota // request (issued) + certificate + audit
	opPending        // request (pending) + audit
	opAudit          // audit only
)

// writeOp is one queued write of the group commit.
type writeOp struct {
	kind  int
	req   Request
	cert  Cert
	audit Audit
	id    int64 // request id, set by commit
	err   error
	done  chan struct{}
}

// backend is what each database implements.
type backend interface {
	commit(ctx context.Context, ops []*writeOp) error // all ops in one transaction
	writers() int                                     // concurrent group committers
	serverOnHost() bool                               // a server process on this machine does the commits
	close() error

	createUser(ctx context.Context, u User) error
	setUser(ctx context.Context, u User) error
	user(ctx context.Context, name string) (*User, error)
	users(ctx context.Context) ([]User, error)
	addToken(ctx context.Context, hash, user string, at time.Time) error
	tokenUser(ctx context.Context, hash string) (string, error)
	deleteUser(ctx context.Context, name string) error
	tokens(ctx context.Context, user string) ([]Token, error)
	deleteTokens(ctx context.Context, user, hashPrefix string) (int64, error)

	request(ctx context.Context, id int64) (*Request, error)
	requests(ctx context.Context, requester, status string, before int64, limit int) ([]Request, error)
	countStatus(ctx context.Context, status string) (int64, error)
	complete(ctx context.Context, id int64, status, reason, decidedBy string, cert *Cert, a Audit) error

	certificate(ctx context.Context, serial string) (*Cert, error)
	certificates(ctx context.Context, revokedOnly bool, limit int) ([]Cert, error)
	revoke(ctx context.Context, r Revocation, a Audit) error
	revokedEach(ctx context.Context, since time.Time, fn func(entry []byte) error) error
	revokedCount(ctx context.Context) (int64, error)
	bulkRevoked(ctx context.Context, rs []Revocation) error
	counter(ctx context.Context, name string) (int64, error)
	nextCounter(ctx context.Context, name string) (int64, error)
	audit(ctx context.Context, limit int) ([]Audit, error)

	crlHead(ctx context.Context) (CRLHead, error)
	crlByNumber(ctx context.Context, number int64) (*CRL, error)
	insertCRL(ctx context.Context, c CRL) error
	probe(ctx context.Context) error

	// sqlSide runs the ACME records' SQL (acme.go).
	sqlSide() sqlBackend
}

// DB is an open issuance database.
type DB struct {
	b      backend
	ch     chan *writeOp
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
	maxOps int
	linger lingerPolicy
	coming atomic.Int64 // writes announced with Coming and not done
	// round is closed when the commit round now at a database server on
	// this host finishes; nil when there is none (ServerRound).
	round   atomic.Pointer[chan struct{}]
	onHost  bool
	Backend string // "sqlite" or "postgres"
}

// Open opens (creating and migrating when needed) the database named by dsn:
// a postgres:// or postgresql:// URL, or a SQLite file path (optionally
// prefixed with sqlite:).
func Open(ctx context.Context, dsn string) (*DB, error) {
	var (
		b    backend
		err  error
		kind string
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		b, err = openPostgres(ctx, dsn)
		kind = "postgres"
	default:
		b, err = openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
		kind = "sqlite"
	}
	if err != nil {
		return nil, err
	}
	return start(b, kind, defaultLinger), nil
}

// start runs the group commit of b.
func start(b backend, kind string, l lingerPolicy) *DB {
	d := &DB{b: b, ch: make(chan *writeOp, 4096), maxOps: 512, linger: l, onHost: b.serverOnHost(), Backend: kind}
	for i := 0; i < b.writers(); i++ {
		d.wg.Add(1)
		go d.groupCommit()
	}
	return d
}

// Close stops the group commit (after flushing what is queued) and closes the database.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.ch)
	d.mu.Unlock()
	d.wg.Wait()
	return d.b.close()
}

// groupCommit commits everything queued in one transaction per round.
func (d *DB) groupCommit() {
	defer d.wg.Done()
	for op := range d.ch {
		batch := []*writeOp{op}
	drain:
		for len(batch) < d.maxOps {
			select {
			case next, ok := <-d.ch:
				if !ok {
					break drain
				}
				batch = append(batch, next)
			default:
				break drain
			}
		}
		if len(batch) < d.linger.wanted(int(d.coming.Load())) {
			batch = d.gather(batch)
		}
		d.flush(batch)
	}
}

// lingerPolicy is how long a round waits for submissions still on their
// way (signing, say) before it commits. Every commit writes the same table
// and index pages and syncs once, so a round costs 0.15-0.3 ms of CPU
// whatever its size (with no wait at all, 20-25 % fewer certificates/s).
// At saturation the wait only moves time that queued submissions would
// spend waiting for a worker anyway.
//
// A round waits for at most half of the submissions in flight (those
// queued or being signed, its own included), so that while it commits the
// other half is being signed: a round that waits for all of them leaves
// the workers idle until its answers bring new requests (16 clients, 10 %
// fewer certificates/s). Under a steady load the halves settle into
// groups of clients that are signed one after the other and committed
// together, so every request waits about as long as the others.
type lingerPolicy struct {
	// target: a round that holds this many records commits without waiting
	// for more; 64 clients settle into four groups.
	target int
	// max: the longest a round waits. It must let a group be signed
	// (16 RSA-2048 certificates: ~9 ms on two cores): a round cut short
	// splits a group, and the split-off part waits a whole round more.
	max time.Duration
}

// wanted is how many records a round waits for when coming submissions are
// in flight.
func (l lingerPolicy) wanted(coming int) int { return min(coming/2, l.target) }

// defaultLinger was measured with bench issue (alternating runs against
// the policy before it, all of the submissions in flight up to 16 and at
// most 6 ms; docs/BENCHMARKS.md "Fourth run"): RSA-2048 at 64 clients p90
// 40.9-41.6 -> 37.8-39.2 ms, p99 47.0-48.1 -> 43.2-45.7 ms (PostgreSQL
// 46.5-52.0 -> 43.5-45.2 ms) at the same or a higher rate; RSA-2048 at 8
// clients 1,493 -> 1,646/s; P-256 at 16 clients 4,695 -> 5,232/s, at 64
// unchanged.
var defaultLinger = lingerPolicy{target: 16, max: 12 * time.Millisecond}

// ServerRound returns a channel that is closed when the commit round now
// at a database server on this host finishes, or nil when no round is
// there (always nil for SQLite, which commits on this process's threads).
//
// Such a server needs a core to finish the round, and a busy CA holds both
// of a small machine's: the kernel schedules each session (or cgroup) as a
// group, and the CA's lower-priority signatures do not yield to a process
// of another group. The CA's workers leave a core free while a round is
// there (ca/workers.go). bench issue, RSA-2048 CA, PostgreSQL on loopback,
// 64 clients, alternating runs: p99 61-64 -> 46.5-52 ms for about 3 % fewer
// certificates/s; P-256 unchanged (docs/BENCHMARKS.md, "Third run").
func (d *DB) ServerRound() <-chan struct{} {
	if p := d.round.Load(); p != nil {
		return *p
	}
	return nil
}

// Coming announces a write the caller is about to make (an issuance in
// progress); the caller runs the returned func when it is done, written or
// not. The group commit uses the count to gather larger rounds.
func (d *DB) Coming() (done func()) {
	d.coming.Add(1)
	return func() { d.coming.Add(-1) }
}

// gather adds ops to batch until it holds what the policy wants of the
// submissions in flight, or the policy's max passed. A lone caller never
// waits.
func (d *DB) gather(batch []*writeOp) []*writeOp {
	t := time.NewTimer(d.linger.max)
	defer t.Stop()
	for len(batch) < d.linger.wanted(int(d.coming.Load())) {
		select {
		case next, ok := <-d.ch:
			if !ok {
				return batch
			}
			batch = append(batch, next)
		case <-t.C:
			return batch
		}
	}
	return batch
}

// flush commits batch; when the batch fails as a whole, each op is retried
// alone so that one bad record (a duplicate serial) fails only its caller.
func (d *DB) flush(batch []*writeOp) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if d.onHost {
		ch := make(chan struct{})
		d.round.Store(&ch)
		defer func() {
			d.round.Store(nil)
			close(ch)
		}()
	}
	err := d.b.commit(ctx, batch)
	if err != nil && len(batch) > 1 {
		for _, op := range batch {
			op.err = d.b.commit(ctx, []*writeOp{op})
			close(op.done)
		}
		return
	}
	for _, op := range batch {
		op.err = err
		close(op.done)
	}
}

// enqueue submits op to the group commit and waits for its transaction.
func (d *DB) enqueue(ctx context.Context, op *writeOp) (int64, error) {
	op.done = make(chan struct{})
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, errClosed)
	}
	select {
	case d.ch <- op:
	case <-ctx.Done():
		d.mu.RUnlock()
		return 0, ctx.Err()
	}
	d.mu.RUnlock()
	select {
	case <-op.done:
		return op.id, op.err
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", ErrMaybeCommitted, ctx.Err())
	}
}

// InsertIssued records an issued request, its certificate and its audit
// entry in one transaction (group-committed), and returns the request id.
func (d *DB) InsertIssued(ctx context.Context, r Request, c Cert, a Audit) (int64, error) {
	return d.enqueue(ctx, issueOp(r, c, a))
}

// issueOp is the write of an issued request, its certificate and its audit entry.
func issueOp(r Request, c Cert, a Audit) *writeOp {
	r.Status = StatusIssued
	r.Serial = c.Serial
	return &writeOp{kind: opIssue, req: r, cert: c, audit: a}
}

// InsertPending records a pending request and its audit entry, and returns the request id.
func (d *DB) InsertPending(ctx context.Context, r Request, a Audit) (int64, error) {
	r.Status = StatusPending
	return d.enqueue(ctx, &writeOp{kind: opPending, req: r, audit: a})
}

// AppendAudit adds one entry to the audit log.
func (d *DB) AppendAudit(ctx context.Context, a Audit) error {
	_, err := d.enqueue(ctx, &writeOp{kind: opAudit, audit: a})
	return err
}

// CreateUser adds a user; an existing name wraps ErrDuplicate.
func (d *DB) CreateUser(ctx context.Context, u User) error { return d.b.createUser(ctx, u) }

// SetUser replaces an existing user's groups, role, disabled state, version
// and (when not empty) password hash.
func (d *DB) SetUser(ctx context.Context, u User) error { return d.b.setUser(ctx, u) }

// User returns a user by name.
func (d *DB) User(ctx context.Context, name string) (*User, error) { return d.b.user(ctx, name) }

// Users lists every user by name.
func (d *DB) Users(ctx context.Context) ([]User, error) { return d.b.users(ctx) }

// AddToken stores the hash of an API token for user.
func (d *DB) AddToken(ctx context.Context, hash, user string, at time.Time) error {
	return d.b.addToken(ctx, hash, user, at)
}

// TokenUser returns the user owning the token with this hash.
func (d *DB) TokenUser(ctx context.Context, hash string) (string, error) {
	return d.b.tokenUser(ctx, hash)
}

// DeleteUser removes a user and every API token of it, in one transaction;
// an unknown name wraps ErrNotFound. Its requests and certificates stay.
func (d *DB) DeleteUser(ctx context.Context, name string) error { return d.b.deleteUser(ctx, name) }

// Tokens lists the API tokens of user, oldest first.
func (d *DB) Tokens(ctx context.Context, user string) ([]Token, error) { return d.b.tokens(ctx, user) }

// DeleteTokens removes the tokens of user whose hash starts with
// hashPrefix (empty: all of them) and returns how many it removed.
func (d *DB) DeleteTokens(ctx context.Context, user, hashPrefix string) (int64, error) {
	return d.b.deleteTokens(ctx, user, hashPrefix)
}

// Request returns one request.
func (d *DB) Request(ctx context.Context, id int64) (*Request, error) { return d.b.request(ctx, id) }

// Requests lists requests, newest first, optionally of one requester and
// status (StatusRevoked and StatusIssued by the certificate's state now),
// and only those older than the request before (0: from the newest).
func (d *DB) Requests(ctx context.Context, requester, status string, before int64, limit int) ([]Request, error) {
	return d.b.requests(ctx, requester, status, before, limit)
}

// CountRequests is the number of requests in status (all of them, where
// Requests lists at most its limit).
func (d *DB) CountRequests(ctx context.Context, status string) (int64, error) {
	return d.b.countStatus(ctx, status)
}

// Complete moves a pending request to status (issued with cert, or denied
// with reason), atomically: a request that is no longer pending wraps ErrConflict.
func (d *DB) Complete(ctx context.Context, id int64, status, reason, decidedBy string, cert *Cert, a Audit) error {
	return d.b.complete(ctx, id, status, reason, decidedBy, cert, a)
}

// Certificate returns one certificate with its revocation state.
func (d *DB) Certificate(ctx context.Context, serial string) (*Cert, error) {
	return d.b.certificate(ctx, serial)
}

// Certificates lists certificates, newest first (limit <= 0: all).
func (d *DB) Certificates(ctx context.Context, revokedOnly bool, limit int) ([]Cert, error) {
	return d.b.certificates(ctx, revokedOnly, limit)
}

// Revoke records a revocation; an unknown serial wraps ErrNotFound, one
// already revoked wraps ErrConflict.
func (d *DB) Revoke(ctx context.Context, r Revocation, a Audit) error { return d.b.revoke(ctx, r, a) }

// RevokedEach streams the stored CRL entry of every revocation at or after
// since (zero: all) to fn; entry is valid only during the call.
func (d *DB) RevokedEach(ctx context.Context, since time.Time, fn func(entry []byte) error) error {
	return d.b.revokedEach(ctx, since, fn)
}

// RevokedCount is the number of revocations.
func (d *DB) RevokedCount(ctx context.Context) (int64, error) { return d.b.revokedCount(ctx) }

// BulkRevoked inserts revocations directly (imports and benchmarks); the
// serials need not belong to certificates of this database.
func (d *DB) BulkRevoked(ctx context.Context, rs []Revocation) error { return d.b.bulkRevoked(ctx, rs) }

// Counter returns a named counter ("revocations", "crl_number").
func (d *DB) Counter(ctx context.Context, name string) (int64, error) { return d.b.counter(ctx, name) }

// NextCounter increments a named counter and returns its new value.
func (d *DB) NextCounter(ctx context.Context, name string) (int64, error) {
	return d.b.nextCounter(ctx, name)
}

// AuditLog returns the newest limit entries of the audit log, newest first.
func (d *DB) AuditLog(ctx context.Context, limit int) ([]Audit, error) { return d.b.audit(ctx, limit) }

// joinGroups and splitGroups store a group list in one column.
func joinGroups(g []string) string { return strings.Join(g, ",") }

func splitGroups(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// unavailable wraps a storage failure.
func unavailable(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicate) || errors.Is(err, ErrUnavailable) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}
