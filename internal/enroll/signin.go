package enroll

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A password check costs an argon2id hash: tens of milliseconds of a core
// and 19 MiB of memory. The sign-in guard keeps a flood of sign-ins from
// taking the server's memory and CPU: at most a few checks run at once, a
// bounded number wait for one (beyond it: 503 at once), and a user name or
// a source address with too many recent failures is refused without a
// check for a delay that doubles with each further failure.
const (
	signinBodyMax       = 16 << 10 // a sign-in form is small
	signinQueue         = 32       // sign-ins waiting for a check before 503
	userFreeFailures    = 5        // failures of a user name before delays
	addrFreeFailures    = 20       // failures from an address before delays
	throttleFirstDelay  = time.Second
	throttleMaxDelay    = 5 * time.Minute
	throttleForgetAfter = 15 * time.Minute // failures older than this are forgotten
	throttleMaxKeys     = 10000            // names or addresses remembered
	signinAuditTimeout  = 10 * time.Second // writing a sign-in's audit entry
)

// errSigninBusy answers a sign-in that finds every check and waiting place taken.
var errSigninBusy = errStatus(http.StatusServiceUnavailable, "busy", "The server is busy checking other sign-ins; try again in a moment.")

// signinGuard bounds and throttles password checks.
type signinGuard struct {
	now     func() time.Time
	slots   chan struct{}
	waiting atomic.Int64

	inFlight, maxInFlight atomic.Int64 // checks running, and the most at once (tests)

	mu    sync.Mutex
	users throttleMap
	addrs throttleMap
}

// throttleMap is the recent failures of each user name or address.
type throttleMap struct {
	free int
	m    map[string]*failures
}

type failures struct {
	n     int
	last  time.Time // the last failure
	until time.Time // refused until
	told  bool      // a refusal since the last failure was audited
}

func newSigninGuard(concurrency int, now func() time.Time) *signinGuard {
	return &signinGuard{
		now:   now,
		slots: make(chan struct{}, concurrency),
		users: throttleMap{free: userFreeFailures, m: map[string]*failures{}},
		addrs: throttleMap{free: addrFreeFailures, m: map[string]*failures{}},
	}
}

// blocked returns how long sign-ins of user from addr are refused (0: not
// refused), and whether this refusal is the first since the last failure
// (the one that is audited).
func (g *signinGuard) blocked(user, addr string) (retry time.Duration, first bool) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, f := range []*failures{g.users.m[userKey(user)], g.addrs.m[addr]} {
		if f == nil || !now.Before(f.until) {
			continue
		}
		retry = max(retry, f.until.Sub(now))
		if !f.told {
			f.told, first = true, true
		}
	}
	return retry, first
}

// failed records a failed check of user from addr.
func (g *signinGuard) failed(user, addr string) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users.failed(userKey(user), now)
	g.addrs.failed(addr, now)
}

// succeeded forgets user's failures (not its address's: one good account
// does not buy an address more guesses at others).
func (g *signinGuard) succeeded(user string) {
	g.mu.Lock()
	delete(g.users.m, userKey(user))
	g.mu.Unlock()
}

func (t *throttleMap) failed(key string, now time.Time) {
	f := t.m[key]
	if f == nil {
		if len(t.m) >= throttleMaxKeys {
			t.sweep(now)
		}
		f = &failures{}
		t.m[key] = f
	}
	if now.Sub(f.last) > throttleForgetAfter && !now.Before(f.until) {
		f.n = 0
	}
	f.n++
	f.last, f.told = now, false
	if over := f.n - t.free; over > 0 {
		f.until = now.Add(throttleDelay(over))
	}
}

// throttleDelay is the delay after the over-th failure beyond the free ones.
func throttleDelay(over int) time.Duration {
	if over > 16 {
		return throttleMaxDelay
	}
	return min(throttleFirstDelay<<(over-1), throttleMaxDelay)
}

// sweep forgets what is old, and when that is not enough the entry with
// the oldest failure.
func (t *throttleMap) sweep(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, f := range t.m {
		if now.Sub(f.last) > throttleForgetAfter && !now.Before(f.until) {
			delete(t.m, k)
			continue
		}
		if oldest == "" || f.last.Before(oldestAt) {
			oldest, oldestAt = k, f.last
		}
	}
	if len(t.m) >= throttleMaxKeys {
		delete(t.m, oldest)
	}
}

// userKey bounds a user name as typed (a valid one has at most 128 bytes).
func userKey(user string) string {
	if len(user) > 129 {
		return user[:129]
	}
	return user
}

// acquire waits for a check's place; the caller runs release when done.
func (g *signinGuard) acquire(ctx context.Context) (release func(), err error) {
	if g.waiting.Add(1) > int64(signinQueue+cap(g.slots)) {
		g.waiting.Add(-1)
		return nil, errSigninBusy
	}
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	n := g.inFlight.Add(1)
	for {
		m := g.maxInFlight.Load()
		if n <= m || g.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	return func() {
		g.inFlight.Add(-1)
		<-g.slots
	}, nil
}

// sourceAddress is the throttling key of a request's peer: its IPv4
// address, or the /64 of its IPv6 address (one host's usual share).
func sourceAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// retryAfter is a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64(max((d+time.Second-1)/time.Second, 1)), 10)
}
