package enroll

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"edgecert/internal/ca"
	"edgecert/internal/certfmt"
)

// submitRequest is the body of POST /api/v1/certificates.
type submitRequest struct {
	CSR      string `json:"csr"`
	Template string `json:"template"`
}

// requestView is a request's state as the API shows it.
type requestView struct {
	RequestID   int64     `json:"request_id"`
	Status      ca.Status `json:"status"`
	Requester   string    `json:"requester,omitempty"`
	Template    string    `json:"template,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	SANs        []string  `json:"sans,omitempty"`
	Submitted   time.Time `json:"submitted,omitzero"`
	Serial      string    `json:"serial,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Key         string    `json:"key,omitempty"`
	Certificate string    `json:"certificate,omitempty"`
	Chain       []string  `json:"chain,omitempty"`
}

// bearer authenticates the request's bearer token.
func (s *Server) bearer(r *http.Request) (*ca.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, errStatus(http.StatusUnauthorized, "unauthenticated", "missing bearer token: send Authorization: Bearer TOKEN")
	}
	return s.toks.authenticate(r.Context(), s.eng, strings.TrimSpace(tok))
}

// decodeJSON reads exactly one JSON object of at most MaxBodyBytes into v.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return &http.MaxBytesError{Limit: s.cfg.MaxBodyBytes}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("malformed JSON: unexpected data after the object")
	}
	return nil
}

// jsonError turns a decoding error into a clear 400 (or the 413 of an
// oversized body).
func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("malformed JSON: the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: the body ends early")
	case errors.As(err, &se):
		return badRequest(fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se))
	case errors.As(err, &te) && te.Field == "":
		return badRequest("malformed JSON: the body must be a JSON object")
	case errors.As(err, &te):
		return badRequest(fmt.Sprintf("malformed JSON: field %q must be %s", te.Field, jsonKind(te.Type)))
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return badRequest("malformed JSON: " + strings.TrimPrefix(err.Error(), "json: "))
	}
	return badRequest("malformed JSON") // the decoder's words name Go types
}

// jsonKind names what a Go type is in JSON, for messages to API clients.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// apiSubmit is the hot path: authenticate, decode, submit, answer with the
// certificate and the pre-encoded chain.
func (s *Server) apiSubmit(w http.ResponseWriter, r *http.Request) error {
	p, err := s.bearer(r)
	if err != nil {
		return err
	}
	var req submitRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.CSR) == "" {
		return badRequest(`field "csr" is required: a PEM certificate request`)
	}
	start := time.Now()
	res, err := s.eng.Submit(r.Context(), p, []byte(req.CSR), req.Template)
	s.met.observeSubmit(time.Since(start), res)
	if err != nil {
		return err
	}
	status := http.StatusOK
	switch res.Status {
	case ca.StatusIssued:
		status = http.StatusCreated
	case ca.StatusPending:
		status = http.StatusAccepted
	}
	s.writeView(w, status, s.view(res))
	return nil
}

// view renders a result, reusing the pre-encoded chain when it is the CA's.
func (s *Server) view(res *ca.Result) requestView {
	v := requestView{
		RequestID: res.RequestID, Status: res.Status, Requester: res.Requester,
		Template: res.Template, Subject: res.Subject, SANs: res.SANs, Submitted: res.Submitted,
		Serial: res.Serial, Reason: res.Reason, Key: res.Key,
	}
	if res.Certificate == nil {
		return v
	}
	v.Certificate = string(certfmt.EncodeCertificatePEM(res.Certificate))
	if v.Serial == "" {
		v.Serial = strings.ToUpper(res.Certificate.SerialNumber.Text(16))
	}
	v.Chain = s.chainStrings(res.Chain)
	return v
}

func (s *Server) chainStrings(chain []*x509.Certificate) []string {
	if len(chain) == 0 || (len(chain) == len(s.pub.chain) && bytes.Equal(chain[0].Raw, s.pub.chain[0].Raw)) {
		return s.pub.chainStr
	}
	out := make([]string, len(chain))
	for i, c := range chain {
		out[i] = string(certfmt.EncodeCertificatePEM(c))
	}
	return out
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errStatus(http.StatusNotFound, "not_found", fmt.Sprintf("request id %q is not a positive number", r.PathValue("id")))
	}
	return id, nil
}

func (s *Server) apiRequest(w http.ResponseWriter, r *http.Request) error {
	p, err := s.bearer(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	res, err := s.eng.Request(r.Context(), p, id)
	if err != nil {
		return err
	}
	s.writeView(w, http.StatusOK, s.view(res))
	return nil
}

func parseStatus(q string) (ca.Status, error) {
	switch st := ca.Status(q); st {
	case "", ca.StatusPending, ca.StatusIssued, ca.StatusDenied, ca.StatusRevoked:
		return st, nil
	}
	return "", badRequest(fmt.Sprintf("unknown status %q: use pending, issued, denied or revoked", q))
}

// parsePage reads a listing's before= and limit= (default and most: max).
func parsePage(r *http.Request, max int) (ca.Page, error) {
	pg := ca.Page{Limit: max}
	q := r.URL.Query()
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return pg, badRequest(fmt.Sprintf("before=%q: want the id of a request (a positive integer), as in the answer's \"next\"", v))
		}
		pg.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > max {
			return pg, badRequest(fmt.Sprintf("limit=%q: want a number from 1 to %d", v, max))
		}
		pg.Limit = n
	}
	return pg, nil
}

func (s *Server) apiRequests(w http.ResponseWriter, r *http.Request) error {
	p, err := s.bearer(r)
	if err != nil {
		return err
	}
	st, err := parseStatus(r.URL.Query().Get("status"))
	if err != nil {
		return err
	}
	pg, err := parsePage(r, ca.MaxPage)
	if err != nil {
		return err
	}
	rs, next, err := s.eng.Requests(r.Context(), p, st, pg)
	if err != nil {
		return err
	}
	out := struct {
		Requests []requestView `json:"requests"`
		// Next is the before= of the next page, absent on the last one.
		Next int64 `json:"next,omitempty"`
	}{Requests: make([]requestView, 0, len(rs)), Next: next}
	for i := range rs {
		v := s.view(&rs[i])
		v.Certificate, v.Chain = "", nil
		out.Requests = append(out.Requests, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiApprove(w http.ResponseWriter, r *http.Request) error {
	p, err := s.bearer(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	res, err := s.eng.Approve(r.Context(), p, id)
	if err != nil {
		return err
	}
	s.writeView(w, http.StatusOK, s.view(res))
	return nil
}

func (s *Server) apiDeny(w http.ResponseWriter, r *http.Request) error {
	p, err := s.bearer(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := s.decodeJSON(w, r, &body); err != nil {
			return err
		}
	}
	if err := s.eng.Deny(r.Context(), p, id, body.Reason); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, requestView{RequestID: id, Status: ca.StatusDenied, Reason: body.Reason})
	return nil
}

// parseSerial reads a hex serial number (colons and spaces allowed).
func parseSerial(s string) (*big.Int, error) {
	clean := strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s))
	clean = strings.TrimPrefix(strings.TrimPrefix(clean, "0x"), "0X")
	n, ok := new(big.Int).SetString(clean, 16)
	if clean == "" || !ok || n.Sign() <= 0 {
		return nil, badRequest(fmt.Sprintf("serial %q is not a positive hexadecimal number", s))
	}
	return n, ca.CheckSerialLength(n)
}

func (s *Server) apiRevoke(w http.ResponseWriter, r *http.Request) error {
	p, err := s.bearer(r)
	if err != nil {
		return err
	}
	var body struct {
		Serial string `json:"serial"`
		Reason string `json:"reason"`
	}
	if err := s.decodeJSON(w, r, &body); err != nil {
		return err
	}
	serial, err := parseSerial(body.Serial)
	if err != nil {
		return err
	}
	if body.Reason == "" {
		body.Reason = "unspecified"
	}
	if err := s.eng.Revoke(r.Context(), p, serial, body.Reason); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"serial": strings.ToUpper(serial.Text(16)), "status": string(ca.StatusRevoked), "reason": body.Reason,
	})
	return nil
}

func (s *Server) apiTemplates(w http.ResponseWriter, r *http.Request) error {
	p, err := s.bearer(r)
	if err != nil {
		return err
	}
	ts, err := s.eng.Templates(r.Context(), p)
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []ca.TemplateInfo{}
	}
	writeJSON(w, http.StatusOK, struct {
		Templates []ca.TemplateInfo `json:"templates"`
	}{ts})
	return nil
}

// wantPEM reports whether the caller asked for PEM (?format=pem) rather
// than DER.
func wantPEM(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "der":
		return false, nil
	case "pem":
		return true, nil
	default:
		return false, badRequest(fmt.Sprintf("unknown format %q: use der or pem", f))
	}
}

func (s *Server) apiCACert(w http.ResponseWriter, r *http.Request) error {
	asPEM, err := wantPEM(r)
	if err != nil {
		return err
	}
	if asPEM {
		writeObject(w, r, ctPEM, "", s.pub.caPEM, time.Hour)
	} else {
		writeObject(w, r, ctCert, "", s.pub.caDER, time.Hour)
	}
	return nil
}

func (s *Server) apiCAChain(w http.ResponseWriter, r *http.Request) error {
	asPEM, err := wantPEM(r)
	if err != nil {
		return err
	}
	if asPEM {
		writeObject(w, r, ctPEM, "", s.pub.p7bPEM, time.Hour)
	} else {
		writeObject(w, r, ctP7, "", s.pub.p7b, time.Hour)
	}
	return nil
}

func (s *Server) apiCRL(delta bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		asPEM, err := wantPEM(r)
		if err != nil {
			return err
		}
		e, err := s.pub.crl(r.Context(), delta)
		if err != nil {
			return err
		}
		if asPEM {
			writeObject(w, r, ctPEM, "", e.pem, crlMaxAge(e, s.now()))
		} else {
			writeObject(w, r, ctCRL, "", e.der, crlMaxAge(e, s.now()))
		}
		return nil
	}
}
