package enroll

import (
	"bytes"
	"context"
	"embed"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"edgecert/internal/ca"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageTemplates holds one template set per page, each with the layout.
var pageTemplates = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"date": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02T15:04:05Z") // ISO 8601, with its zone
		},
		"join": strings.Join,
		"short": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02T15:04Z")
		},
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"home", "signin", "download", "request", "status", "pending", "errorpage"} {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}()

// pageData is what every page template receives.
type pageData struct {
	Title  string
	CAName string
	User   *ca.Principal
	CSRF   string
	Error  string
	Notice string

	// Page-specific fields.
	Next      string
	Templates []ca.TemplateInfo
	// Special are the CA and OCSP signing templates, offered to
	// administrators only, apart, and with a confirmation.
	Special  []ca.TemplateInfo
	Result   *ca.Result
	Requests []ca.Result
	Older    string // the next page of Requests ("" on the last)
	Filter   string
	Pasted   string
	Chosen   string
	CRLName  string
	Reasons  []string
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, d pageData) error {
	s.renderStatus(w, r, http.StatusOK, name, d)
	return nil
}

// renderStatus renders page name into a buffer first, so that a template
// error never leaves a half-written page.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	if sess, _ := s.sessionOf(r); sess != nil {
		d.User, d.CSRF = sess.principal, sess.csrf
	}
	d.CAName = s.pub.chain[0].Subject.CommonName
	var buf bytes.Buffer
	if err := pageTemplates[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// requireSession returns the session, or redirects to the sign-in page and
// returns nil.
func (s *Server) requireSession(w http.ResponseWriter, r *http.Request) (*signedIn, error) {
	sess, err := s.sessionOf(r)
	if err != nil {
		return nil, err
	}
	if sess == nil {
		http.Redirect(w, r, "/certsrv/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	}
	return sess, nil
}

// postForm parses a form post of at most MaxBodyBytes (multipart or not)
// and checks the session's CSRF token. It returns the session.
func (s *Server) postForm(w http.ResponseWriter, r *http.Request) (*signedIn, error) {
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, &http.MaxBytesError{Limit: s.cfg.MaxBodyBytes}
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(s.cfg.MaxBodyBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || strings.Contains(err.Error(), "too large") {
			return nil, &http.MaxBytesError{Limit: s.cfg.MaxBodyBytes}
		}
		return nil, badRequest("The form could not be read: " + err.Error())
	}
	sess, err := s.sessionOf(r)
	if err != nil {
		return nil, err
	}
	if sess == nil && hadSession(r) {
		return nil, errSignedOut
	}
	if err := checkCSRF(r, sess); err != nil {
		return nil, err
	}
	return sess, nil
}

func (s *Server) pageHome(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, "home", pageData{Title: "Welcome"})
}

// safeNext keeps sign-in redirects on this site's pages.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/certsrv/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/certsrv/"
	}
	return next
}

// signinCookie carries the sign-in form's CSRF token before there is a session.
const signinCookie = "__Host-edgecert-signin"

func (s *Server) pageSignin(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.sess.token()
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: tok, Path: "/", MaxAge: 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	d := pageData{Title: "Sign in", Next: safeNext(r.URL.Query().Get("next"))}
	s.renderSignin(w, r, http.StatusOK, d, tok)
	return nil
}

// renderSignin renders the sign-in form with the pre-session token (the
// layout's CSRF field is the session's, which does not exist yet).
func (s *Server) renderSignin(w http.ResponseWriter, r *http.Request, status int, d pageData, tok string) {
	d.Pasted = tok
	s.renderStatus(w, r, status, "signin", d)
}

// postSignin checks a password: cheap refusals first (form, CSRF token,
// throttling), then one bounded argon2id check, every result audited.
func (s *Server) postSignin(w http.ResponseWriter, r *http.Request) error {
	limit := min(s.cfg.MaxBodyBytes, signinBodyMax)
	if r.ContentLength > limit {
		return &http.MaxBytesError{Limit: limit}
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("The form could not be read.")
	}
	c, err := r.Cookie(signinCookie)
	if err != nil || c.Value == "" || r.PostFormValue("csrf") != c.Value {
		return errCSRF
	}
	next := safeNext(r.PostFormValue("next"))
	user, from := r.PostFormValue("user"), sourceAddress(r)
	form := pageData{Title: "Sign in", Next: next}
	// A sign-in is audited even when its client does not wait for the answer.
	actx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), signinAuditTimeout)
	defer cancel()
	if wait, first := s.signin.blocked(user, from); wait > 0 {
		if first {
			if err := s.eng.RecordSignin(actx, user, from, ca.SigninThrottled); err != nil {
				return err
			}
		}
		w.Header().Set("Retry-After", retryAfter(wait))
		form.Error = fmt.Sprintf("Too many failed sign-ins for this user or from this address: try again in %s s.", retryAfter(wait))
		s.renderSignin(w, r, http.StatusTooManyRequests, form, c.Value)
		return nil
	}
	release, err := s.signin.acquire(r.Context())
	if err != nil {
		w.Header().Set("Retry-After", "1")
		return err
	}
	p, err := s.eng.Authenticate(r.Context(), user, []byte(r.PostFormValue("password")))
	release()
	if errors.Is(err, ca.ErrUnauthenticated) {
		s.signin.failed(user, from)
		if err := s.eng.RecordSignin(actx, user, from, ca.SigninDenied); err != nil {
			return err
		}
		form.Error = "Unknown user or wrong password."
		s.renderSignin(w, r, http.StatusUnauthorized, form, c.Value)
		return nil
	}
	if err != nil {
		return err
	}
	s.signin.succeeded(user)
	if err := s.eng.RecordSignin(actx, user, from, ca.SigninOK); err != nil {
		return err
	}
	sess, err := s.sess.create(p)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	setSessionCookie(w, sess.id, 0)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) postSignout(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.postForm(w, r)
	if err != nil {
		return err
	}
	s.sess.delete(sess.id)
	setSessionCookie(w, "", -1)
	http.Redirect(w, r, "/certsrv/", http.StatusSeeOther)
	return nil
}

func (s *Server) pageDownload(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, "download", pageData{Title: "Download a CA certificate, certificate chain, or CRL", CRLName: s.pub.name})
}

// encoding reads ?enc=der|b64 (Base64 is PEM, as certsrv offers it).
func encoding(r *http.Request) (b64 bool, err error) {
	switch e := r.URL.Query().Get("enc"); e {
	case "", "der":
		return false, nil
	case "b64":
		return true, nil
	default:
		return false, badRequest(fmt.Sprintf("Unknown encoding %q: choose DER or Base64.", e))
	}
}

// sendFile sends a download in DER, or Base64 (PEM) with label.
func sendFile(w http.ResponseWriter, r *http.Request, b64 bool, ctype, name, label string, der []byte) {
	if b64 {
		writeObject(w, r, ctPEM, name, pem.EncodeToMemory(&pem.Block{Type: label, Bytes: der}), 0)
		return
	}
	writeObject(w, r, ctype, name, der, 0)
}

func (s *Server) fileCACert(w http.ResponseWriter, r *http.Request) error {
	b64, err := encoding(r)
	if err != nil {
		return err
	}
	sendFile(w, r, b64, ctCert, "certnew.cer", "CERTIFICATE", s.pub.caDER)
	return nil
}

func (s *Server) fileChain(w http.ResponseWriter, r *http.Request) error {
	b64, err := encoding(r)
	if err != nil {
		return err
	}
	sendFile(w, r, b64, ctP7, "certnew.p7b", "PKCS7", s.pub.p7b)
	return nil
}

func (s *Server) fileCRL(w http.ResponseWriter, r *http.Request) error {
	b64, err := encoding(r)
	if err != nil {
		return err
	}
	var delta bool
	switch t := r.URL.Query().Get("type"); t {
	case "", "full":
	case "delta":
		delta = true
	default:
		return badRequest(fmt.Sprintf("Unknown CRL type %q: choose full or delta.", t))
	}
	e, err := s.pub.crl(r.Context(), delta)
	if err != nil {
		return err
	}
	sendFile(w, r, b64, ctCRL, "certcrl.crl", "X509 CRL", e.der)
	return nil
}

// readUpload returns the content of the form's file field, if any.
func readUpload(r *http.Request, field string) ([]byte, error) {
	f, _, err := r.FormFile(field)
	if errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart) {
		return nil, nil
	}
	if err != nil {
		return nil, badRequest("The uploaded file could not be read.")
	}
	defer f.Close()
	return io.ReadAll(f)
}
