package enroll

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"edgecert/internal/ca"
)

// handlerFunc is a handler that returns its error; one adapter per kind of
// route (JSON or HTML) renders it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// httpError is an error decided at the edge (not from the engine): a status,
// a stable code and a message safe to show.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.message }

func errStatus(status int, code, msg string) error {
	return &httpError{status: status, code: code, message: msg}
}

func badRequest(msg string) error { return errStatus(http.StatusBadRequest, "bad_request", msg) }

// classify chooses the status, stable code and message for err. Messages of
// the engine's error kinds are one-line and safe to show; anything else is
// an internal error whose detail stays in the log.
func classify(err error) (status int, code, msg string) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.status, he.code, he.message
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "too_large", "request body is larger than the limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes"
	case errors.Is(err, ca.ErrBadRequest):
		return http.StatusBadRequest, "bad_request", err.Error()
	case errors.Is(err, ca.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated", err.Error()
	case errors.Is(err, ca.ErrForbidden):
		return http.StatusForbidden, "forbidden", err.Error()
	case errors.Is(err, ca.ErrNotFound):
		return http.StatusNotFound, "not_found", err.Error()
	case errors.Is(err, ca.ErrConflict):
		return http.StatusConflict, "conflict", err.Error()
	case errors.As(err, new(*ca.MaybeIssuedError)):
		return http.StatusServiceUnavailable, "unavailable", err.Error()
	case errors.Is(err, ca.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "unavailable", "the CA database is unavailable; try again later"
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

// statusClientClosed is what a request whose client went away is counted
// as (nginx's 499): no answer reaches the client, and it is no server fault.
const statusClientClosed = 499

// clientGone reports whether err is the request's own end: its client
// closed the connection or gave up, and the handler stopped with it.
func clientGone(r *http.Request, err error) bool {
	return r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// failed handles what all adapters share: a request whose client went away
// is logged for debugging only and answered with nothing. It reports
// whether it handled err.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, err error) bool {
	if !clientGone(r, err) {
		return false
	}
	s.log.Debug("client went away", "method", r.Method, "path", r.URL.Path, "err", err)
	w.WriteHeader(statusClientClosed)
	return true
}

// apiError is the JSON error body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// api adapts a JSON handler: errors become {"code","message"} with the
// status chosen by classify.
func (s *Server) api(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil || s.failed(w, r, err) {
			return
		}
		status, code, msg := classify(err)
		s.logError(r, status, err)
		retryLater(w, status)
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="edgecert"`)
		}
		writeJSON(w, status, apiError{Code: code, Message: msg})
	}
}

// page adapts an HTML handler: errors become an error page.
func (s *Server) page(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r = withSessionLookup(r)
		err := h(w, r)
		if err == nil || s.failed(w, r, err) {
			return
		}
		status, _, msg := classify(err)
		s.logError(r, status, err)
		retryLater(w, status)
		s.renderStatus(w, r, status, "errorpage", pageData{Title: http.StatusText(status), Error: msg})
	}
}

// plainErr adapts a publication handler: errors become short text.
func (s *Server) plainErr(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil || s.failed(w, r, err) {
			return
		}
		status, _, msg := classify(err)
		s.logError(r, status, err)
		retryLater(w, status)
		http.Error(w, msg, status)
	}
}

// dbRetryAfter is the Retry-After of a 503 for a database that does not
// answer, in seconds.
const dbRetryAfter = "5"

// retryLater tells the client of a 503 when to try again, unless the
// handler said it already (a busy sign-in says 1 s).
func retryLater(w http.ResponseWriter, status int) {
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", dbRetryAfter)
	}
}

// logError logs a failed request: a server fault as an error, a refusal
// (a client's mistake, or one decided here, such as "busy") for debugging.
func (s *Server) logError(r *http.Request, status int, err error) {
	var he *httpError
	if status >= 500 && !errors.As(err, &he) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
		return
	}
	s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBufs.Get().(*bytes.Buffer)
	defer putJSONBuf(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil { // Encode ends the line
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	sendJSON(w, status, buf.Bytes())
}

// sendJSON writes an encoded JSON answer (ending in a line feed).
func sendJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonTypeHeader
	h["Cache-Control"] = noStoreHeader
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// jsonBufs holds answer buffers: an issuance's answer is a few KB, written
// thousands of times a second.
var jsonBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putJSONBuf(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 { // a large listing's buffer is not kept
		jsonBufs.Put(b)
	}
}
