package acmeserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ErrorType is an RFC 8555 §6.7 error type, the suffix of
// "urn:ietf:params:acme:error:".
type ErrorType string

// The RFC 8555 error types this server sends.
const (
	AccountDoesNotExist     ErrorType = "accountDoesNotExist"
	AlreadyReplaced         ErrorType = "alreadyReplaced" // RFC 9773
	AlreadyRevoked          ErrorType = "alreadyRevoked"
	BadCSR                  ErrorType = "badCSR"
	BadNonce                ErrorType = "badNonce"
	BadPublicKey            ErrorType = "badPublicKey"
	BadRevocationReason     ErrorType = "badRevocationReason"
	BadSignatureAlgorithm   ErrorType = "badSignatureAlgorithm"
	CAA                     ErrorType = "caa"
	Compound                ErrorType = "compound"
	Connection              ErrorType = "connection"
	DNS                     ErrorType = "dns"
	ExternalAccountRequired ErrorType = "externalAccountRequired"
	IncorrectResponse       ErrorType = "incorrectResponse"
	InvalidContact          ErrorType = "invalidContact"
	Malformed               ErrorType = "malformed"
	OrderNotReady           ErrorType = "orderNotReady"
	RateLimited             ErrorType = "rateLimited"
	RejectedIdentifier      ErrorType = "rejectedIdentifier"
	ServerInternal          ErrorType = "serverInternal"
	TLS                     ErrorType = "tls"
	Unauthorized            ErrorType = "unauthorized"
	UnsupportedContact      ErrorType = "unsupportedContact"
	UnsupportedIdentifier   ErrorType = "unsupportedIdentifier"
	UserActionRequired      ErrorType = "userActionRequired"
)

// URN is the type's full name as a problem document carries it.
func (t ErrorType) URN() string { return "urn:ietf:params:acme:error:" + string(t) }

// status is the HTTP status an error of type t is answered with when the
// Problem does not set one (RFC 8555 §6.7 and the statuses its examples and
// Boulder use).
func (t ErrorType) status() int {
	switch t {
	case AccountDoesNotExist:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusForbidden
	case RateLimited:
		return http.StatusTooManyRequests
	case ServerInternal:
		return http.StatusInternalServerError
	case OrderNotReady:
		return http.StatusForbidden
	case UserActionRequired:
		return http.StatusForbidden
	default:
		return http.StatusBadRequest
	}
}

// Identifier is an ACME identifier (RFC 8555 §9.7.7).
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Subproblem is a problem about one identifier of a request (RFC 8555
// §6.7.1).
type Subproblem struct {
	Type       ErrorType
	Detail     string
	Identifier Identifier
}

// Problem is an RFC 7807 problem document with an RFC 8555 error type. It
// is an error, so the verification functions return it and the handlers
// write it with WriteProblem.
type Problem struct {
	Type        ErrorType
	Detail      string
	Status      int          // 0: the type's status
	Subproblems []Subproblem // rejectedIdentifier and compound: one per identifier
	// Algorithms lists the algorithms the server accepts, for
	// badSignatureAlgorithm (RFC 8555 §6.2).
	Algorithms []string
	// RetryAfter, in seconds, is sent as Retry-After (rateLimited).
	RetryAfter int
	err        error
}

// Error reads as the type and the detail.
func (p *Problem) Error() string { return string(p.Type) + ": " + p.Detail }

// Unwrap returns the error the problem was made from, if any.
func (p *Problem) Unwrap() error { return p.err }

// HTTPStatus is the status the problem is answered with.
func (p *Problem) HTTPStatus() int {
	if p.Status != 0 {
		return p.Status
	}
	return p.Type.status()
}

// NewProblem makes a problem of type t with a detail from format and args;
// a %w in format is kept for errors.Is/As.
func NewProblem(t ErrorType, format string, args ...any) *Problem {
	err := fmt.Errorf(format, args...)
	p := &Problem{Type: t, Detail: err.Error()}
	if errors.Unwrap(err) != nil {
		p.err = err
	}
	return p
}

// RejectedIdentifiers is the problem for identifiers the policy refuses, one
// subproblem per identifier, each saying why.
func RejectedIdentifiers(subs []Subproblem) *Problem {
	p := &Problem{Type: RejectedIdentifier, Subproblems: subs}
	switch len(subs) {
	case 0:
		p.Detail = "identifiers rejected"
	case 1:
		p.Detail = fmt.Sprintf("%s %q: %s", subs[0].Identifier.Type, subs[0].Identifier.Value, subs[0].Detail)
	default:
		p.Detail = fmt.Sprintf("%d identifiers rejected, see subproblems", len(subs))
	}
	return p
}

// ProblemFrom returns err as a *Problem: itself when it is one (or wraps
// one), else a serverInternal problem that does not show err's text to the
// client (err is kept for the caller's logs through Unwrap).
func ProblemFrom(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return &Problem{Type: ServerInternal, Detail: "internal error", err: err}
}

type problemJSON struct {
	Type        string           `json:"type"`
	Detail      string           `json:"detail,omitempty"`
	Status      int              `json:"status"`
	Subproblems []subproblemJSON `json:"subproblems,omitempty"`
	Algorithms  []string         `json:"algorithms,omitempty"`
}

type subproblemJSON struct {
	Type       string     `json:"type"`
	Detail     string     `json:"detail,omitempty"`
	Identifier Identifier `json:"identifier"`
}

// MarshalJSON writes the problem document.
func (p *Problem) MarshalJSON() ([]byte, error) {
	doc := problemJSON{Type: p.Type.URN(), Detail: p.Detail, Status: p.HTTPStatus(), Algorithms: p.Algorithms}
	for _, s := range p.Subproblems {
		doc.Subproblems = append(doc.Subproblems, subproblemJSON{Type: s.Type.URN(), Detail: s.Detail, Identifier: s.Identifier})
	}
	return json.Marshal(doc)
}

// WriteProblem answers with err as a problem document (ProblemFrom), with
// a fresh Replay-Nonce from nonces when nonces is not nil (RFC 8555 §6.5:
// a client retries a badNonce with it) and the directory's Link when
// directory is not empty. It is the one place problems are written.
func WriteProblem(w http.ResponseWriter, err error, nonces *Nonces, directory string) {
	p := ProblemFrom(err)
	h := w.Header()
	if nonces != nil {
		if n, nerr := nonces.New(); nerr == nil {
			h.Set("Replay-Nonce", n)
		}
	}
	if directory != "" {
		h.Add("Link", "<"+directory+`>;rel="index"`)
	}
	if p.RetryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(p.RetryAfter))
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	body, _ := json.Marshal(p) // only strings and ints: cannot fail
	w.WriteHeader(p.HTTPStatus())
	_, _ = w.Write(append(body, '\n'))
}

// prefixed puts prefix before the detail of err's problem, saying which
// part of a request it is about.
func prefixed(prefix string, err error) error {
	var p *Problem
	if errors.As(err, &p) {
		p.Detail = prefix + p.Detail
	}
	return err
}
