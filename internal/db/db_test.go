package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgecert/internal/testtool"
)

// open returns a fresh database of each backend.
func backends(t *testing.T) map[string]func(t *testing.T) *DB {
	return map[string]func(t *testing.T) *DB{
		"sqlite": func(t *testing.T) *DB {
			d, err := Open(context.Background(), filepath.Join(t.TempDir(), "ca.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		},
		"postgres": func(t *testing.T) *DB {
			d, err := Open(context.Background(), testtool.PostgresSchema(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		},
	}
}

func cert(serial string) Cert {
	now := time.Now()
	return Cert{Serial: serial, Requester: "u", Template: "WebServer", Subject: "CN=x", NotBefore: now, NotAfter: now.Add(time.Hour), DER: []byte{1, 2, 3}}
}

func req() Request {
	return Request{Requester: "u", Template: "WebServer", Subject: "CN=x", Submitted: time.Now()}
}

func TestGroupCommitConcurrentAndUnique(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t)
			ctx := context.Background()
			var wg sync.WaitGroup
			ids := make([]int64, 400)
			errs := make([]error, 400)
			for i := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ids[i], errs[i] = d.InsertIssued(ctx, req(), cert(fmt.Sprintf("%X", 1000+i)), Audit{At: time.Now(), Actor: "u", Action: "submit", Result: "issued"})
				}()
			}
			wg.Wait()
			seen := map[int64]bool{}
			for i, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
				if seen[ids[i]] {
					t.Fatalf("request id %d twice", ids[i])
				}
				seen[ids[i]] = true
			}
			// Each caller's id is its own request, and its certificate's.
			for i, id := range ids {
				serial := fmt.Sprintf("%X", 1000+i)
				r, err := d.Request(ctx, id)
				if err != nil || r.Serial != serial {
					t.Fatalf("request %d: %+v, %v; want serial %s", id, r, err, serial)
				}
				c, err := d.Certificate(ctx, serial)
				if err != nil || c.RequestID != id {
					t.Fatalf("certificate %s: %+v, %v; want request %d", serial, c, err, id)
				}
			}
			// A duplicate serial in a batch fails only its own caller.
			wg = sync.WaitGroup{}
			var dup, ok atomic.Int32
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					serial := fmt.Sprintf("%X", 5000+i)
					if i%2 == 0 {
						serial = "3E8" // 1000, already used
					}
					_, err := d.InsertIssued(ctx, req(), cert(serial), Audit{At: time.Now(), Actor: "u", Action: "submit", Result: "issued"})
					switch {
					case errors.Is(err, ErrDuplicate):
						dup.Add(1)
					case err == nil:
						ok.Add(1)
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if dup.Load() != 10 || ok.Load() != 10 {
				t.Fatalf("dup %d ok %d", dup.Load(), ok.Load())
			}
			all, _ := d.Certificates(ctx, false, 0)
			if len(all) != 410 {
				t.Fatalf("%d certificates", len(all))
			}
			log, _ := d.AuditLog(ctx, 0)
			if len(log) != 410 {
				t.Fatalf("%d audit entries", len(log))
			}
		})
	}
}

func TestStateTransitionsAndRevocation(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t)
			ctx := context.Background()
			id, err := d.InsertPending(ctx, req(), Audit{At: time.Now(), Actor: "u", Action: "submit", Result: "pending"})
			if err != nil {
				t.Fatal(err)
			}
			// Two approvers race; exactly one wins.
			var wg sync.WaitGroup
			var wins, conflicts atomic.Int32
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := cert(fmt.Sprintf("AB%d", i))
					err := d.Complete(ctx, id, StatusIssued, "", "admin", &c, Audit{At: time.Now(), Actor: "admin", Action: "approve", Result: "issued"})
					if err == nil {
						wins.Add(1)
					} else if errors.Is(err, ErrConflict) {
						conflicts.Add(1)
					} else {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 || conflicts.Load() != 7 {
				t.Fatalf("wins %d conflicts %d", wins.Load(), conflicts.Load())
			}
			r, _ := d.Request(ctx, id)
			if r.Status != StatusIssued || r.Serial == "" {
				t.Fatalf("%+v", r)
			}
			rev := Revocation{Serial: r.Serial, RevokedAt: time.Now(), Reason: 1, Entry: []byte{0x30, 0}}
			if err := d.Revoke(ctx, rev, Audit{At: time.Now(), Actor: "admin", Action: "revoke", Result: "revoked"}); err != nil {
				t.Fatal(err)
			}
			if err := d.Revoke(ctx, rev, Audit{At: time.Now(), Actor: "admin", Action: "revoke", Result: "revoked"}); !errors.Is(err, ErrConflict) {
				t.Fatalf("twice: %v", err)
			}
			rev.Serial = "FFFF"
			if err := d.Revoke(ctx, rev, Audit{}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}
			if n, _ := d.Counter(ctx, "revocations"); n != 1 {
				t.Fatalf("counter %d", n)
			}
			var entries int
			d.RevokedEach(ctx, time.Time{}, func(e []byte) error { entries++; return nil })
			if entries != 1 {
				t.Fatalf("%d entries", entries)
			}
			a, _ := d.NextCounter(ctx, "crl_number")
			b, _ := d.NextCounter(ctx, "crl_number")
			if b != a+1 {
				t.Fatalf("crl numbers %d %d", a, b)
			}
			if _, err := d.Request(ctx, 99999); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing request: %v", err)
			}
		})
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	d.AppendAudit(ctx, Audit{At: time.Now(), Actor: "a", Action: "x", Result: "ok"})
	s := d.b.(*sqliteStore)
	if _, err := s.w.ExecContext(ctx, `UPDATE audit SET actor = 'b'`); err == nil {
		t.Fatal("audit entry updated")
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM audit`); err == nil {
		t.Fatal("audit entry deleted")
	}
}

func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("postgres: %v", err)
	}
	if _, err := Open(ctx, "/nonexistent/dir/ca.db"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("sqlite: %v", err)
	}
	d, err := Open(ctx, filepath.Join(t.TempDir(), "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := d.AppendAudit(ctx, Audit{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("closed: %v", err)
	}
}

// TestRoundOfIssuances commits one round of issuances straight through the
// backend (SQLite's multi-row statements, PostgreSQL's one statement) and
// checks that every op gets its own request id, in the round's order, and
// that its request, certificate and audit entry carry it.
func TestRoundOfIssuances(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t)
			ctx := context.Background()
			var ops []*writeOp
			for i := range 7 {
				r := req()
				r.Subject = fmt.Sprintf("CN=round%d", i)
				if i == 3 {
					r.CSR = []byte{0x30, byte(i)}
				}
				c := cert(fmt.Sprintf("AB%02d", i))
				c.Subject, c.DER = r.Subject, []byte{0x30, 0x03, byte(i)}
				ops = append(ops, issueOp(r, c, Audit{At: time.Now(), Actor: "u", Action: "submit", Subject: r.Subject, Serial: c.Serial, Result: "issued", Detail: fmt.Sprint(i)}))
			}
			if err := d.b.commit(ctx, ops); err != nil {
				t.Fatal(err)
			}
			log, err := d.AuditLog(ctx, 0)
			if err != nil || len(log) != len(ops) {
				t.Fatalf("audit log: %d entries, %v", len(log), err)
			}
			byDetail := map[string]Audit{}
			for _, a := range log {
				byDetail[a.Detail] = a
			}
			for i, op := range ops {
				if i > 0 && op.id <= ops[i-1].id {
					t.Fatalf("request ids out of the round's order: %d after %d", op.id, ops[i-1].id)
				}
				r, err := d.Request(ctx, op.id)
				if err != nil || r.Subject != op.req.Subject || r.Serial != op.cert.Serial || r.Status != "issued" || string(r.CSR) != string(op.req.CSR) {
					t.Fatalf("op %d: request %d = %+v, %v", i, op.id, r, err)
				}
				c, err := d.Certificate(ctx, op.cert.Serial)
				if err != nil || c.RequestID != op.id || string(c.DER) != string(op.cert.DER) || c.Subject != op.cert.Subject {
					t.Fatalf("op %d: certificate %+v, %v", i, c, err)
				}
				if a := byDetail[fmt.Sprint(i)]; a.RequestID != op.id || a.Serial != op.cert.Serial {
					t.Fatalf("op %d: audit entry %+v, want request %d", i, a, op.id)
				}
			}
		})
	}
}

// TestUserLifecycle: a user's state and version survive a round trip, a
// removed user takes its tokens along, and tokens go by hash prefix.
func TestUserLifecycle(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t)
			ctx := context.Background()
			at := time.Unix(1700000000, 0)
			if err := d.CreateUser(ctx, User{Name: "alice", Groups: []string{"g"}, PasswordHash: "h1", Created: at, Version: 7}); err != nil {
				t.Fatal(err)
			}
			if err := d.CreateUser(ctx, User{Name: "bob", Created: at}); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"aa11", "aa22", "bb33"} {
				if err := d.AddToken(ctx, h, "alice", at); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.AddToken(ctx, "cc44", "bob", at); err != nil {
				t.Fatal(err)
			}
			if err := d.SetUser(ctx, User{Name: "alice", Groups: []string{"g"}, Disabled: true, Version: 8}); err != nil {
				t.Fatal(err)
			}
			u, err := d.User(ctx, "alice")
			if err != nil || !u.Disabled || u.Version != 8 || u.PasswordHash != "h1" {
				t.Fatalf("after SetUser: %+v, %v", u, err)
			}
			if n, err := d.DeleteTokens(ctx, "bob", "aa"); err != nil || n != 0 {
				t.Fatalf("another user's prefix removed %d: %v", n, err)
			}
			if n, err := d.DeleteTokens(ctx, "alice", "aa"); err != nil || n != 2 {
				t.Fatalf("prefix aa removed %d: %v", n, err)
			}
			if ts, err := d.Tokens(ctx, "alice"); err != nil || len(ts) != 1 || ts[0].Hash != "bb33" {
				t.Fatalf("tokens left: %+v, %v", ts, err)
			}
			if err := d.DeleteUser(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			if _, err := d.User(ctx, "alice"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("removed user: %v", err)
			}
			if _, err := d.TokenUser(ctx, "bb33"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a removed user's token: %v", err)
			}
			if _, err := d.TokenUser(ctx, "cc44"); err != nil {
				t.Fatalf("another user's token: %v", err)
			}
			if err := d.DeleteUser(ctx, "alice"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("removing twice: %v", err)
			}
		})
	}
}
