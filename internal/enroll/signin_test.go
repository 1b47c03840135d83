package enroll

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"edgecert/internal/ca"
)

// signinAttempt gets a sign-in form's token and posts user and password with
// it, as a new browser; it returns the status and the Retry-After header.
func (ts *testServer) signinAttempt(t *testing.T, user, password string) (int, string) {
	t.Helper()
	ts.client.Jar, _ = cookiejar.New(nil)
	tok := ts.csrf(t, "/certsrv/signin")
	resp, err := ts.client.PostForm(ts.url+"/certsrv/signin", url.Values{"csrf": {tok}, "user": {user}, "password": {password}})
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// TestSigninThrottle: past a few failures, a user name is refused without
// a check for a delay that doubles; the right password waits too; the
// delay passes with the (injected) clock; a success forgets the failures;
// every attempt is audited.
func TestSigninThrottle(t *testing.T) {
	tc := newTestCA(t)
	clock := newTestClock()
	ts := startServerAt(t, tc, Config{}, clock.now)
	e := realEngine(t, tc)
	for i := 0; i < userFreeFailures; i++ {
		if st, _ := ts.signinAttempt(t, "alice", "wrong"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i+1, st)
		}
	}
	// The next failure starts a delay of 1 s, the one after 2 s, then 4 s.
	for i, want := range []string{"1", "2", "4"} {
		if st, _ := ts.signinAttempt(t, "alice", "wrong"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", userFreeFailures+i+1, st)
		}
		st, retry := ts.signinAttempt(t, "alice", tc.passAlice)
		if st != http.StatusTooManyRequests || retry != want {
			t.Fatalf("while throttled: status %d, Retry-After %q, want 429 and %s", st, retry, want)
		}
		clock.advance(time.Duration(i+1) * 2 * time.Second)
	}
	// Another user is not held up by alice's failures.
	if st, _ := ts.signinAttempt(t, "bob", tc.passBob); st != http.StatusSeeOther {
		t.Fatalf("bob: status %d", st)
	}
	if st, _ := ts.signinAttempt(t, "alice", tc.passAlice); st != http.StatusSeeOther {
		t.Fatalf("after the delay: status %d", st)
	}
	if st, _ := ts.signinAttempt(t, "alice", "wrong"); st != http.StatusUnauthorized {
		t.Fatalf("a success forgets the failures: status %d", st)
	}
	log, err := e.AuditLog(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range log {
		if a.Action == "signin" {
			got[a.Result]++
			if !strings.HasPrefix(a.Detail, "from 127.0.0.1") {
				t.Errorf("a sign-in audited without its address: %+v", a)
			}
		}
	}
	if want := map[string]int{ca.SigninDenied: userFreeFailures + 4, ca.SigninThrottled: 3, ca.SigninOK: 2}; !mapsEqual(got, want) {
		t.Errorf("audited sign-ins %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSigninThrottleByAddress: one address guessing at many user names is
// held up too, unknown names included; other addresses are not.
func TestSigninThrottleByAddress(t *testing.T) {
	now := time.Now()
	g := newSigninGuard(2, func() time.Time { return now })
	for i := 0; i < addrFreeFailures; i++ {
		if wait, _ := g.blocked("user"+string(rune('a'+i)), "192.0.2.1"); wait != 0 {
			t.Fatalf("attempt %d refused", i)
		}
		g.failed("user"+string(rune('a'+i)), "192.0.2.1")
	}
	g.failed("nobody-at-all", "192.0.2.1")
	if wait, first := g.blocked("someone-new", "192.0.2.1"); wait != time.Second || !first {
		t.Fatalf("address past its failures: wait %v, first %v", wait, first)
	}
	if _, first := g.blocked("someone-new", "192.0.2.1"); first {
		t.Fatalf("the second refusal is reported as the first")
	}
	if wait, _ := g.blocked("someone-new", "192.0.2.2"); wait != 0 {
		t.Fatalf("another address is held up: %v", wait)
	}
	now = now.Add(throttleForgetAfter + time.Hour)
	g.failed("x", "192.0.2.1")
	if wait, _ := g.blocked("y", "192.0.2.1"); wait != 0 {
		t.Fatalf("old failures were not forgotten: %v", wait)
	}
	for over, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 9: 256 * time.Second, 10: throttleMaxDelay, 1000: throttleMaxDelay} {
		if got := throttleDelay(over); got != want {
			t.Errorf("delay after %d: %v, want %v", over, got, want)
		}
	}
	for addr, want := range map[string]string{"192.0.2.7:443": "192.0.2.7", "[2001:db8:1:2:3:4:5:6]:1": "2001:db8:1:2::/64", "[::ffff:192.0.2.8]:9": "192.0.2.8"} {
		if got := sourceAddress(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("source of %s: %q, want %q", addr, got, want)
		}
	}
}

// TestSigninThrottleMemoryBounded: a flood of distinct names and
// addresses keeps at most throttleMaxKeys of each.
func TestSigninThrottleMemoryBounded(t *testing.T) {
	now := time.Now()
	g := newSigninGuard(2, func() time.Time { return now })
	for i := 0; i < throttleMaxKeys+500; i++ {
		now = now.Add(time.Millisecond)
		g.failed(strings.Repeat("n", 200)+string(rune(i)), "10.0.0.1:"+string(rune(i)))
	}
	if len(g.users.m) > throttleMaxKeys || len(g.addrs.m) > throttleMaxKeys {
		t.Fatalf("remembered %d names, %d addresses", len(g.users.m), len(g.addrs.m))
	}
	for k := range g.users.m {
		if len(k) > 129 {
			t.Fatalf("a name of %d bytes is kept whole", len(k))
		}
	}
}

// TestSigninFlood: a flood of wrong passwords runs at most
// SigninConcurrency password checks at once (each 19 MiB), answers the
// excess with 503 or 429 rather than queueing it without bound, and
// /healthz keeps answering meanwhile.
func TestSigninFlood(t *testing.T) {
	tc := newTestCA(t)
	ts := startServer(t, tc, Config{})
	const flooders = 60
	tok := ts.csrf(t, "/certsrv/signin")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < flooders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", ts.url+"/certsrv/signin", strings.NewReader(url.Values{"csrf": {tok}, "user": {"admin"}, "password": {"guess"}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(&http.Cookie{Name: signinCookie, Value: tok})
				resp, err := ts.client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	var worst time.Duration
	for i := 0; i < 20; i++ {
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		resp, err := ts.client.Get(ts.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		worst = max(worst, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %d", resp.StatusCode)
		}
	}
	close(stop)
	wg.Wait()
	if worst > 3*time.Second { // 12.9 s before the bound
		t.Errorf("/healthz took up to %v during the flood", worst)
	}
	if m := ts.srv.signin.maxInFlight.Load(); m > 2 || m == 0 {
		t.Errorf("%d password checks ran at once, want 1 to 2", m)
	}
	if statuses[http.StatusUnauthorized] == 0 || statuses[http.StatusTooManyRequests]+statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("answers %v: want some checked (401) and the rest refused (429/503)", statuses)
	}
	t.Logf("healthz worst %v; answers %v", worst, statuses)
}
