package enroll

import (
	"crypto/subtle"
	"encoding/base64"
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

// session is a signed-in browser: who, and the CSRF token of its forms.
type session struct {
	id        string
	principal *ca.Principal
	csrf      string
	lastSeen  time.Time
	flash     string // a notice for the next page
}

// sessions live in memory: a restart signs everyone out.
type sessions struct {
	rand io.Reader
	now  func() time.Time
	ttl  time.Duration

	mu sync.Mutex
	m  map[string]*session
}

func newSessions(rand io.Reader, now func() time.Time, ttl time.Duration) *sessions {
	return &sessions{rand: rand, now: now, ttl: ttl, m: map[string]*session{}}
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
	s := &session{id: id, principal: p, csrf: csrf, lastSeen: ss.now()}
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
	if now.Sub(s.lastSeen) > ss.ttl {
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
		if now.Sub(s.lastSeen) > ss.ttl {
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

// sessionOf returns the request's session, or nil.
func (s *Server) sessionOf(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	return s.sess.get(c.Value)
}

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
func checkCSRF(r *http.Request, sess *session) error {
	got := r.PostFormValue("csrf")
	if sess == nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
		return errCSRF
	}
	return nil
}
