package enroll

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"edgecert/internal/certfmt"
)

// publications holds the CA's public objects, encoded once: the chain as
// DER, PEM and PKCS#7, and the PEM and dates of the CRLs last served.
type publications struct {
	eng       Engine
	now       func() time.Time
	name      string
	rootName  string // the root CA's file name (CDP and AIA of the issuing CA certificate)
	chain     []*x509.Certificate
	chainPEM  [][]byte // issuing CA first, up to the root
	chainStr  []string // the same, as strings for JSON answers
	chainJSON []byte   // chainStr as a JSON array (appendView)
	caDER     []byte   // issuing CA certificate
	caPEM     []byte
	p7b       []byte // issuing CA up to the root, DER
	p7bPEM    []byte

	mu   sync.Mutex
	crls [2]crlEntry // full, delta
}

type crlEntry struct {
	der  []byte
	pem  []byte
	this time.Time
	next time.Time
}

func newPublications(eng Engine, now func() time.Time) *publications {
	chain := eng.Chain()
	p := &publications{eng: eng, now: now, name: eng.FileName(), chain: chain}
	for _, c := range chain {
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		p.chainPEM = append(p.chainPEM, b)
		p.chainStr = append(p.chainStr, string(b))
	}
	p.chainJSON = appendJSONStrings(nil, p.chainStr)
	p.rootName = eng.RootFileName()
	p.caDER = chain[0].Raw
	p.caPEM = p.chainPEM[0]
	p.p7b = mustP7B(chain)
	p.p7bPEM = pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p.p7b})
	return p
}

func mustP7B(certs []*x509.Certificate) []byte {
	b, err := certfmt.EncodePKCS7(certs)
	if err != nil {
		panic(fmt.Sprintf("enroll: PKCS#7 of the CA chain: %v", err)) // parsed certificates always encode
	}
	return b
}

// crl returns the latest full or delta CRL. Every call asks the engine,
// which checks the database's latest CRL on each call: a cache here would
// let this process serve an older CRL than another process just did.
func (p *publications) crl(ctx context.Context, delta bool) (crlEntry, error) {
	der, err := p.eng.CRL(ctx, delta)
	if err != nil {
		return crlEntry{}, err
	}
	i := 0
	if delta {
		i = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// The engine hands out the CRL it holds: the same bytes, not a copy.
	if e := p.crls[i]; len(e.der) > 0 && len(e.der) == len(der) && &e.der[0] == &der[0] {
		return e, nil
	}
	e := crlEntry{der: der, pem: pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})}
	if rl, err := x509.ParseRevocationList(der); err == nil {
		e.this, e.next = rl.ThisUpdate, rl.NextUpdate
	}
	p.crls[i] = e
	return e, nil
}

// Content types of the objects served.
const (
	ctCert = "application/pkix-cert"
	ctCRL  = "application/pkix-crl"
	ctP7   = "application/pkcs7-mime"
	ctPEM  = "application/x-pem-file"
	ctOCSP = "application/ocsp-response"
)

// writeObject sends a public object with caching headers.
func writeObject(w http.ResponseWriter, r *http.Request, ctype, filename string, body []byte, maxAge time.Duration) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if filename != "" {
		h.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	}
	if maxAge > 0 {
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// crlMaxAge lets caches keep a CRL until shortly before its next update.
func crlMaxAge(e crlEntry, now time.Time) time.Duration {
	if e.next.IsZero() {
		return 0
	}
	d := e.next.Sub(now) / 2
	if d > time.Hour {
		d = time.Hour
	}
	if d < 0 {
		return 0
	}
	return d
}

// handleCRLFile serves /crl/<name>.crl and /crl/<name>+.crl, and the root
// CA's CRL at /crl/<root>.crl (the issuing CA certificate's CDP).
func (s *Server) handleCRLFile(w http.ResponseWriter, r *http.Request) error {
	var delta bool
	switch file := r.PathValue("file"); {
	case file == s.pub.name+".crl":
	case file == s.pub.name+"+.crl":
		delta = true
	case s.pub.rootName != "" && file == s.pub.rootName+".crl":
		der, err := s.pub.eng.RootCRL()
		if err != nil {
			return err
		}
		writeObject(w, r, ctCRL, "", der, time.Hour)
		return nil
	default:
		return errStatus(http.StatusNotFound, "not_found", "no such CRL")
	}
	e, err := s.pub.crl(r.Context(), delta)
	if err != nil {
		return err
	}
	writeObject(w, r, ctCRL, "", e.der, crlMaxAge(e, s.now()))
	return nil
}

// handleAIAFile serves /aia/<name>.crt, the issuing CA certificate, and
// /aia/<root>.crt, the root (the issuing CA certificate's AIA), both DER.
func (s *Server) handleAIAFile(w http.ResponseWriter, r *http.Request) error {
	switch file := r.PathValue("file"); {
	case file == s.pub.name+".crt":
		writeObject(w, r, ctCert, "", s.pub.caDER, time.Hour)
	case s.pub.rootName != "" && file == s.pub.rootName+".crt":
		writeObject(w, r, ctCert, "", s.pub.chain[len(s.pub.chain)-1].Raw, time.Hour)
	default:
		return errStatus(http.StatusNotFound, "not_found", "no such certificate")
	}
	return nil
}

// maxOCSPRequest bounds an OCSP request body: real ones are a few hundred bytes.
const maxOCSPRequest = 16 << 10

// handleOCSPPost answers an RFC 6960 POST (application/ocsp-request body).
func (s *Server) handleOCSPPost(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOCSPRequest))
	if err != nil {
		return err
	}
	return s.answerOCSP(w, r, body, false)
}

// handleOCSPGet answers an RFC 6960 GET: /ocsp/<base64 DER request>.
func (s *Server) handleOCSPGet(w http.ResponseWriter, r *http.Request) error {
	enc := r.PathValue("req")
	if len(enc) > maxOCSPRequest {
		return errStatus(http.StatusRequestEntityTooLarge, "too_large", "OCSP request too large")
	}
	der, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		if der, err = base64.RawURLEncoding.DecodeString(enc); err != nil {
			return badRequest("OCSP GET request is not base64")
		}
	}
	return s.answerOCSP(w, r, der, true)
}

func (s *Server) answerOCSP(w http.ResponseWriter, r *http.Request, req []byte, cacheable bool) error {
	if len(req) == 0 {
		return badRequest("empty OCSP request")
	}
	resp, err := s.eng.OCSP(r.Context(), req)
	if err != nil && resp == nil {
		return err
	}
	var maxAge time.Duration
	if cacheable {
		maxAge = time.Minute
	}
	writeObject(w, r, ctOCSP, "", resp, maxAge)
	return nil
}

// errNotPlain is what the plain-HTTP listener answers for anything but the
// publications.
var errNotPlain = errors.New("only CRL, AIA and OCSP are served over plain HTTP")

// plainRoutes is the plain-HTTP side: nothing but the publications.
func (s *Server) plainRoutes() http.Handler {
	mux := http.NewServeMux()
	s.handle(mux, "GET /crl/{file}", "crl", s.plainErr(s.handleCRLFile))
	s.handle(mux, "GET /aia/{file}", "aia", s.plainErr(s.handleAIAFile))
	s.handle(mux, "GET /ocsp/{req...}", "ocsp", s.plainErr(s.handleOCSPGet))
	s.handle(mux, "POST /ocsp", "ocsp", s.plainErr(s.handleOCSPPost))
	s.handle(mux, "/", "other", s.plainErr(unknownRoute(mux, func(w http.ResponseWriter, r *http.Request) error {
		return errStatus(http.StatusNotFound, "not_found", errNotPlain.Error())
	})))
	return s.withHeaders(mux, false)
}
