package acmeserver

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNonces: single use, lifetime, forgery, restarts, other processes and
// the replay cache's bound.
func TestNonces(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, c *clock, n *Nonces) error
		want string // "" accepted; else a word of the badNonce detail
	}{
		{"fresh", func(t *testing.T, c *clock, n *Nonces) error {
			s, _ := n.New()
			return n.Use(s)
		}, ""},
		{"used twice", func(t *testing.T, c *clock, n *Nonces) error {
			s, _ := n.New()
			if err := n.Use(s); err != nil {
				t.Fatal(err)
			}
			return n.Use(s)
		}, "already used"},
		{"just within its lifetime", func(t *testing.T, c *clock, n *Nonces) error {
			s, _ := n.New()
			c.Add(n.Lifetime() - time.Millisecond)
			return n.Use(s)
		}, ""},
		{"expired", func(t *testing.T, c *clock, n *Nonces) error {
			s, _ := n.New()
			c.Add(n.Lifetime())
			return n.Use(s)
		}, "expired"},
		{"empty", func(t *testing.T, c *clock, n *Nonces) error { return n.Use("") }, "no nonce"},
		{"tag changed", func(t *testing.T, c *clock, n *Nonces) error {
			s, _ := n.New()
			i := len(s) - 5 // within the tag, away from the last character's zero bits
			ch := byte('A')
			if s[i] == 'A' {
				ch = 'B'
			}
			return n.Use(s[:i] + string(ch) + s[i+1:])
		}, "not one"},
		{"too long", func(t *testing.T, c *clock, n *Nonces) error {
			s, _ := n.New()
			return n.Use(s + "AA")
		}, "not one"},
		{"another process of the same CA", func(t *testing.T, c *clock, n *Nonces) error {
			other := newNonces(t, c)
			s, _ := other.New()
			if err := n.Use(s); err != nil {
				return err
			}
			return other.Use(s) // the documented window: once per process
		}, ""},
		{"issued before this process started", func(t *testing.T, c *clock, n *Nonces) error {
			s, _ := n.New()
			c.Add(time.Second)
			restarted := newNonces(t, c)
			return restarted.Use(s)
		}, "before this server started"},
		{"issued in the future by a skewed clock", func(t *testing.T, c *clock, n *Nonces) error {
			ahead := &clock{t: c.Now().Add(time.Minute)}
			other := newNonces(t, ahead)
			s, _ := other.New()
			return n.Use(s)
		}, "future"},
		{"cache full", func(t *testing.T, c *clock, _ *Nonces) error {
			n, err := NewNonces(testSecret, NonceOptions{Now: c.Now, MaxRemembered: 2})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				s, _ := n.New()
				if err := n.Use(s); err != nil {
					t.Fatal(err)
				}
			}
			s, _ := n.New()
			return n.Use(s)
		}, "too many"},
		{"cache frees expired nonces", func(t *testing.T, c *clock, _ *Nonces) error {
			n, _ := NewNonces(testSecret, NonceOptions{Now: c.Now, MaxRemembered: 2, Lifetime: time.Minute})
			for range 2 {
				s, _ := n.New()
				_ = n.Use(s)
			}
			c.Add(time.Minute + bucketMilli*time.Millisecond)
			s, _ := n.New()
			if err := n.Use(s); err != nil {
				return err
			}
			if r := n.Remembered(); r != 1 {
				t.Fatalf("remembered %d, want 1", r)
			}
			return nil
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			err := tc.run(t, c, newNonces(t, c))
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && err == nil:
				t.Fatal("accepted")
			case tc.want != "" && (problemType(t, err) != BadNonce || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want badNonce with %q", err, tc.want)
			}
		})
	}
}

func TestNonceSecretLength(t *testing.T) {
	if _, err := NewNonces(make([]byte, MinNonceSecret-1), NonceOptions{}); err == nil {
		t.Fatal("short secret accepted")
	}
}

// TestNoncesConcurrent: of many goroutines using one nonce, exactly one
// succeeds (run with -race).
func TestNoncesConcurrent(t *testing.T) {
	c := newClock()
	n := newNonces(t, c)
	s, _ := n.New()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 16 {
		wg.Go(func() {
			if n.Use(s) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d uses accepted", ok)
	}
}

func BenchmarkNonce(b *testing.B) {
	n, _ := NewNonces(testSecret, NonceOptions{})
	for b.Loop() {
		s, _ := n.New()
		if err := n.Use(s); err != nil {
			b.Fatal(err)
		}
	}
}
