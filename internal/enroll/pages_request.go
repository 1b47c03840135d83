package enroll

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"edgecert/internal/ca"
	"edgecert/internal/certfmt"
)

// revocationReasons are the RFC 5280 reason names the revoke form offers
// (not certificateHold: a revocation is final).
var revocationReasons = []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn"}

func (s *Server) pageRequest(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.requireSession(w, r)
	if sess == nil || err != nil {
		return err
	}
	d := pageData{Title: "Advanced certificate request"}
	if err := s.offerTemplates(r, sess, &d); err != nil {
		return err
	}
	return s.render(w, r, "request", d)
}

// offerTemplates fills the request page's template lists: the ordinary
// templates, none chosen beforehand (the first in the list used to be
// OCSP Response Signing), and for administrators the CA and OCSP signing
// ones apart.
func (s *Server) offerTemplates(r *http.Request, sess *signedIn, d *pageData) error {
	ts, err := s.eng.Templates(r.Context(), sess.principal)
	if err != nil {
		return err
	}
	for _, t := range ts {
		switch {
		case !t.Special:
			d.Templates = append(d.Templates, t)
		case sess.principal.Admin:
			d.Special = append(d.Special, t)
		}
	}
	return nil
}

// checkSpecial refuses, on the request page, a CA or OCSP signing
// template to anyone but an administrator who confirmed it.
func (s *Server) checkSpecial(r *http.Request, sess *signedIn, tmpl string) (int, string, error) {
	ts, err := s.eng.Templates(r.Context(), sess.principal)
	if err != nil {
		return 0, "", err
	}
	for _, t := range ts {
		if t.Name != tmpl || !t.Special {
			continue
		}
		if !sess.principal.Admin {
			return http.StatusForbidden, fmt.Sprintf("The template %q (a CA or OCSP signing certificate) is not offered here; ask an administrator.", tmpl), nil
		}
		if r.PostFormValue("confirm_special") != "yes" {
			return http.StatusBadRequest, fmt.Sprintf("The template %q issues a certificate that can sign certificates or revocation answers: tick the confirmation to request it.", tmpl), nil
		}
	}
	return 0, "", nil
}

// postRequest submits a pasted or uploaded request. A refused request
// re-renders the form with the reason, keeping what was pasted.
func (s *Server) postRequest(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.postForm(w, r)
	if err != nil {
		return err
	}
	csr := []byte(strings.TrimSpace(r.PostFormValue("csr")))
	if up, err := readUpload(r, "file"); err != nil {
		return err
	} else if len(up) > 0 {
		csr = up
	}
	tmpl := r.PostFormValue("template")
	refuse := func(status int, msg string) error {
		d := pageData{Title: "Advanced certificate request", Error: msg, Pasted: r.PostFormValue("csr"), Chosen: tmpl}
		if err := s.offerTemplates(r, sess, &d); err != nil {
			return err
		}
		s.renderStatus(w, r, status, "request", d)
		return nil
	}
	if len(csr) == 0 {
		return refuse(http.StatusBadRequest, "Paste a Base64-encoded certificate request or choose a request file.")
	}
	if tmpl == "" {
		return refuse(http.StatusBadRequest, "Choose a certificate template.")
	}
	if status, msg, err := s.checkSpecial(r, sess, tmpl); err != nil {
		return err
	} else if status != 0 {
		return refuse(status, msg)
	}
	start := time.Now()
	res, err := s.eng.Submit(r.Context(), sess.principal, csr, tmpl)
	s.met.observeSubmit(time.Since(start), res)
	switch {
	case errors.Is(err, ca.ErrBadRequest):
		return refuse(http.StatusBadRequest, "The request was refused: "+err.Error())
	case errors.Is(err, ca.ErrForbidden):
		return refuse(http.StatusForbidden, fmt.Sprintf("You may not enroll in the template %q: %v", tmpl, err))
	case errors.Is(err, ca.ErrNotFound):
		return refuse(http.StatusBadRequest, fmt.Sprintf("There is no template %q.", tmpl))
	case err != nil:
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/certsrv/requests/%d", res.RequestID), http.StatusSeeOther)
	return nil
}

// sessionRequest loads the request in the path as the signed-in user sees it.
func (s *Server) sessionRequest(w http.ResponseWriter, r *http.Request) (*signedIn, *ca.Result, error) {
	sess, err := s.requireSession(w, r)
	if sess == nil || err != nil {
		return nil, nil, err
	}
	id, err := pathID(r)
	if err != nil {
		return nil, nil, err
	}
	res, err := s.eng.Request(r.Context(), sess.principal, id)
	return sess, res, err
}

func (s *Server) pageRequestStatus(w http.ResponseWriter, r *http.Request) error {
	sess, res, err := s.sessionRequest(w, r)
	if sess == nil || err != nil {
		return err
	}
	d := pageData{Title: fmt.Sprintf("Request %d", res.RequestID), Result: res, Reasons: revocationReasons}
	switch res.Status {
	case ca.StatusIssued:
		d.Notice = "The certificate you requested was issued to you."
	case ca.StatusPending:
		d.Notice = fmt.Sprintf("Your certificate request is pending: an administrator must approve it. Your request id is %d.", res.RequestID)
	}
	return s.render(w, r, "status", d)
}

// issued returns the issued certificate of the request in the path.
func (s *Server) issued(w http.ResponseWriter, r *http.Request) (*ca.Result, bool, error) {
	sess, res, err := s.sessionRequest(w, r)
	if sess == nil || err != nil {
		return nil, false, err
	}
	if res.Certificate == nil {
		return nil, false, errStatus(http.StatusConflict, "conflict", fmt.Sprintf("Request %d has no certificate (it is %s).", res.RequestID, res.Status))
	}
	b64, err := encoding(r)
	return res, b64, err
}

func (s *Server) fileIssuedCert(w http.ResponseWriter, r *http.Request) error {
	res, b64, err := s.issued(w, r)
	if res == nil || err != nil {
		return err
	}
	sendFile(w, r, b64, ctCert, "certnew.cer", "CERTIFICATE", res.Certificate.Raw)
	return nil
}

func (s *Server) fileIssuedChain(w http.ResponseWriter, r *http.Request) error {
	res, b64, err := s.issued(w, r)
	if res == nil || err != nil {
		return err
	}
	chain := res.Chain
	if len(chain) == 0 {
		chain = s.pub.chain
	}
	p7, err := certfmt.EncodePKCS7(append([]*x509.Certificate{res.Certificate}, chain...))
	if err != nil {
		return err
	}
	sendFile(w, r, b64, ctP7, "certnew.p7b", "PKCS7", p7)
	return nil
}

// pendingPageSize is how many requests the status page lists at a time.
const pendingPageSize = 100

func (s *Server) pagePending(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.requireSession(w, r)
	if sess == nil || err != nil {
		return err
	}
	filter := r.URL.Query().Get("status")
	st, err := parseStatus(filter)
	if err != nil {
		return err
	}
	pg, err := parsePage(r, pendingPageSize)
	if err != nil {
		return err
	}
	rs, next, err := s.eng.Requests(r.Context(), sess.principal, st, pg)
	if err != nil {
		return err
	}
	title := "Your certificate requests"
	if sess.principal.Admin {
		title = "Certificate requests"
	}
	d := pageData{Title: title, Requests: rs, Filter: filter, Reasons: revocationReasons, Notice: s.sess.takeFlash(sess.session)}
	if next != 0 {
		q := url.Values{"before": {strconv.FormatInt(next, 10)}}
		if filter != "" {
			q.Set("status", filter)
		}
		d.Older = "/certsrv/pending?" + q.Encode()
	}
	return s.render(w, r, "pending", d)
}

// backToPending redirects after an administrator's action, with a notice
// kept in the session for the next page.
func (s *Server) backToPending(w http.ResponseWriter, r *http.Request, sess *signedIn, notice string) {
	s.sess.setFlash(sess.session, notice)
	http.Redirect(w, r, "/certsrv/pending", http.StatusSeeOther)
}

func (s *Server) postApprove(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.postForm(w, r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	res, err := s.eng.Approve(r.Context(), sess.principal, id)
	if err != nil {
		return err
	}
	s.backToPending(w, r, sess, fmt.Sprintf("Request %d approved: certificate %s issued.", id, res.Serial))
	return nil
}

func (s *Server) postDeny(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.postForm(w, r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if sess.principal.Admin && r.PostFormValue("confirm") != "yes" { // others are refused by the engine
		return badRequest(fmt.Sprintf("Tick confirm to deny request %d.", id))
	}
	if err := s.eng.Deny(r.Context(), sess.principal, id, strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		return err
	}
	s.backToPending(w, r, sess, fmt.Sprintf("Request %d denied.", id))
	return nil
}

func (s *Server) postRevoke(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.postForm(w, r)
	if err != nil {
		return err
	}
	serial, err := parseSerial(r.PostFormValue("serial"))
	if err != nil {
		return err
	}
	reason := r.PostFormValue("reason")
	if reason == "" {
		reason = "unspecified"
	}
	if sess.principal.Admin && r.PostFormValue("confirm") != "yes" { // others are refused by the engine
		return badRequest(fmt.Sprintf("Tick confirm to revoke certificate %s.", strings.ToUpper(serial.Text(16))))
	}
	if err := s.eng.Revoke(r.Context(), sess.principal, serial, reason); err != nil {
		return err
	}
	s.backToPending(w, r, sess, fmt.Sprintf("Certificate %s revoked (%s).", strings.ToUpper(serial.Text(16)), reason))
	return nil
}
