package db

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// rounds is a backend that records the size of each commit round: what is
// under test here is the group commit's policy, not a database (the
// backends' own commits are tested against SQLite and PostgreSQL).
type rounds struct {
	backend // nil: the group commit calls only the methods below
	mu      sync.Mutex
	sizes   []int
	onHost  bool
	started chan struct{} // when set, each commit says it started
	release chan struct{} // when set, each commit waits for it
}

func (r *rounds) commit(_ context.Context, ops []*writeOp) error {
	if r.started != nil {
		r.started <- struct{}{}
	}
	if r.release != nil {
		<-r.release
	}
	r.mu.Lock()
	r.sizes = append(r.sizes, len(ops))
	r.mu.Unlock()
	return nil
}

func (r *rounds) writers() int       { return 1 }
func (r *rounds) serverOnHost() bool { return r.onHost }
func (r *rounds) close() error       { return nil }

func TestGroupCommitRounds(t *testing.T) {
	const forever = time.Hour // a round that waits this long fails the test
	tests := []struct {
		name      string
		policy    lingerPolicy
		announced int // Coming calls before any write
		writes    int // of the announced, how many write
		want      []int
	}{
		{name: "a lone caller commits at once", policy: lingerPolicy{target: 16, max: forever}, announced: 1, writes: 1, want: []int{1}},
		{name: "a round waits for half of the announced writers", policy: lingerPolicy{target: 16, max: forever}, announced: 8, writes: 4, want: []int{4}},
		{name: "a round at its target does not wait for more", policy: lingerPolicy{target: 4, max: forever}, announced: 20, writes: 4, want: []int{4}},
		{name: "a writer that never comes costs the max", policy: lingerPolicy{target: 16, max: time.Millisecond}, announced: 4, writes: 1, want: []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &rounds{}
			d := start(r, "test", tc.policy)
			defer d.Close()
			var dones []func()
			for range tc.announced {
				dones = append(dones, d.Coming())
			}
			var wg sync.WaitGroup
			for i := range tc.writes {
				wg.Go(func() {
					defer dones[i]()
					if _, err := d.enqueue(context.Background(), &writeOp{kind: opAudit}); err != nil {
						t.Error(err)
					}
				})
			}
			finished := make(chan struct{})
			go func() { wg.Wait(); close(finished) }()
			select {
			case <-finished:
			case <-time.After(30 * time.Second):
				t.Fatalf("the writes did not commit: a round waited for writers it should not wait for")
			}
			for _, done := range dones[tc.writes:] {
				done()
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if !slices.Equal(r.sizes, tc.want) {
				t.Errorf("rounds %v, want %v", r.sizes, tc.want)
			}
		})
	}
}

// TestServerRound: while a round is at a database server on this host,
// ServerRound hands out a channel that closes when the round ends; with
// SQLite (no server) there never is one.
func TestServerRound(t *testing.T) {
	for _, onHost := range []bool{true, false} {
		t.Run(fmt.Sprintf("server on this host %v", onHost), func(t *testing.T) {
			r := &rounds{onHost: onHost, started: make(chan struct{}), release: make(chan struct{})}
			d := start(r, "test", defaultLinger)
			defer d.Close()
			if d.ServerRound() != nil {
				t.Fatal("a round before any write")
			}
			done := make(chan error)
			go func() {
				_, err := d.enqueue(context.Background(), &writeOp{kind: opAudit})
				done <- err
			}()
			<-r.started
			ch := d.ServerRound()
			if (ch != nil) != onHost {
				t.Fatalf("during the commit: round %v, want one: %v", ch, onHost)
			}
			if ch != nil {
				select {
				case <-ch:
					t.Fatal("the round's channel closed before the round ended")
				default:
				}
			}
			close(r.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if ch != nil {
				<-ch // closed when the round ended; a hang fails the test
			}
			if d.ServerRound() != nil {
				t.Fatal("a round after the commit")
			}
		})
	}
}

func TestOnThisHost(t *testing.T) {
	for _, c := range []struct {
		host string
		want bool
	}{
		{"", false},
		{"/var/run/postgresql", true},
		{"localhost", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.3.2.1", true},
		{"::1", true},
		{"[::1]", true},
		{"db.example.com", false},
		{"192.0.2.10", false}, // TEST-NET-1: no interface has it
	} {
		if got := onThisHost(c.host); got != c.want {
			t.Errorf("onThisHost(%q) = %v, want %v", c.host, got, c.want)
		}
	}
	// An address of one of this machine's interfaces is this host.
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
			if !onThisHost(n.IP.String()) {
				t.Errorf("onThisHost(%s), an interface's address, = false", n.IP)
			}
		}
	}
}
