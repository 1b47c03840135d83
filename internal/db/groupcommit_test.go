package db

import (
	"context"
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
}

func (r *rounds) commit(_ context.Context, ops []*writeOp) error {
	r.mu.Lock()
	r.sizes = append(r.sizes, len(ops))
	r.mu.Unlock()
	return nil
}

func (r *rounds) writers() int { return 1 }
func (r *rounds) close() error { return nil }

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
		{name: "announced writers join one round", policy: lingerPolicy{target: 16, max: forever}, announced: 5, writes: 5, want: []int{5}},
		{name: "a round at its target does not wait for more", policy: lingerPolicy{target: 4, max: forever}, announced: 7, writes: 4, want: []int{4}},
		{name: "a writer that never comes costs the max", policy: lingerPolicy{target: 16, max: time.Millisecond}, announced: 3, writes: 1, want: []int{1}},
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
