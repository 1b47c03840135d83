package enroll

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"edgecert/internal/ca"
)

// sessionCookie is the session cookie's name; the __Host- prefix makes
// browsers insist on Secure, Path=/ and no Domain.
const sessionCookie = "__Host-edgecert-session"

// maxSessions bounds memory: the oldest sessions go first beyond it.
const maxSessions = 10000

// session is a signed-in browser: who (the user and the version of its
// record at sign-in), and the CSRF token of its forms. What the user may do
// is read again on every request (Server.sessionOf), never kept here.
type session struct {
	id       string
	user     string
	version  int64
	csrf     string
	created  time.Time
	lastSeen time.Time
	flash    string // a notice for the next page
}

// sessions live in memory: a restart signs everyone out. A session ends
// after ttl without a request, and maxAge after sign-in whatever its use.
type sessions struct {
	rand   io.Reader
	now    func() time.Time
	ttl    time.Duration
	maxAge time.Duration

	mu sync.Mutex
	m  map[string]*session
}

func newSessions(rand io.Reader, now func() time.Time, ttl, maxAge time.Duration) *sessions {
	return &sessions{rand: rand, now: now, ttl: ttl, maxAge: maxAge, m: map[string]*session{}}
}

// expired reports whether s has ended at now.
func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.lastSeen) > ss.ttl || now.Sub(s.created) >= ss.maxAge
}

func (ss *sessions) token() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(ss.rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// create starts a session for p.
func (ss *sessions) create(p *ca.Principal) (*session, error) {
	id, err := ss.token()
	if err != nil {
		return nil, err
	}
	csrf, err := ss.token()
	if err != nil {
		return nil, err
	}
	now := ss.now()
	s := &session{id: id, user: p.Name, version: p.Version, csrf: csrf, created: now, lastSeen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sweepLocked()
	ss.m[id] = s
	return s, nil
}

// get returns the live session with id, refreshing its idle timer.
func (ss *sessions) get(id string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil {
		return nil
	}
	now := ss.now()
	if ss.expired(s, now) {
		delete(ss.m, id)
		return nil
	}
	s.lastSeen = now
	return s
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

func (ss *sessions) setFlash(s *session, msg string) {
	ss.mu.Lock()
	s.flash = msg
	ss.mu.Unlock()
}

func (ss *sessions) takeFlash(s *session) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	msg := s.flash
	s.flash = ""
	return msg
}

// sweepLocked drops expired sessions, and the oldest when over maxSessions.
func (ss *sessions) sweepLocked() {
	now := ss.now()
	var oldest *session
	for id, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, id)
			continue
		}
		if oldest == nil || s.lastSeen.Before(oldest.lastSeen) {
			oldest = s
		}
	}
	if len(ss.m) >= maxSessions && oldest != nil {
		delete(ss.m, oldest.id)
	}
}

// signedIn is a live session during one request, with what its user may
// do now.
type signedIn struct {
	*session
	principal *ca.Principal
}

// sessionLookup remembers a request's session lookup, so that a page and
// its layout ask the database once.
type sessionLookup struct {
	done bool
	sess *signedIn
	err  error
}

type sessionLookupKey struct{}

// withSessionLookup prepares r to remember its session lookup.
func withSessionLookup(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionLookupKey{}, &sessionLookup{}))
}

// sessionOf returns the request's live session, or nil. The user is read
// again from the CA on every request: a session whose user was removed,
// disabled or changed since sign-in ends here, and an administrator who
// was demoted acts as what they are now.
func (s *Server) sessionOf(r *http.Request) (*signedIn, error) {
	memo, _ := r.Context().Value(sessionLookupKey{}).(*sessionLookup)
	if memo != nil && memo.done {
		return memo.sess, memo.err
	}
	sess, err := s.lookupSession(r)
	if memo != nil {
		memo.done, memo.sess, memo.err = true, sess, err
	}
	return sess, err
}

func (s *Server) lookupSession(r *http.Request) (*signedIn, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	sess := s.sess.get(c.Value)
	if sess == nil {
		return nil, nil
	}
	p, err := s.eng.SessionPrincipal(r.Context(), sess.user, sess.version)
	if errors.Is(err, ca.ErrUnauthenticated) {
		s.sess.delete(sess.id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &signedIn{session: sess, principal: p}, nil
}

// hadSession reports whether r carries a session cookie (live or not).
func hadSession(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	return err == nil && c.Value != ""
}

// errSignedOut refuses a form post of a session that has ended.
var errSignedOut = errStatus(http.StatusUnauthorized, "unauthenticated", "Your session has ended (it expired, you signed out, or your account was changed): sign in again.")

func setSessionCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
}

// errCSRF refuses a form post without the session's token.
var errCSRF = errStatus(http.StatusForbidden, "csrf", "the form's security token is missing or wrong; reload the page and try again")

// checkCSRF compares the form's csrf field with the session's token.
func checkCSRF(r *http.Request, sess *signedIn) error {
	got := r.PostFormValue("csrf")
	if sess == nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
		return errCSRF
	}
	return nil
}
