package acmeserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"edgecert/internal/db"
)

// Template is what the ACME server needs of a CA template.
type Template struct {
	Name string
	// ExternalAccountRequired: new accounts need an External Account
	// Binding (the default for every template).
	ExternalAccountRequired bool
	TermsOfService          string // a URL, or ""
	Website                 string // a URL, or ""
}

// Templates looks up the templates that serve ACME; found is false for a
// template that does not exist or does not serve ACME.
type Templates interface {
	ACMETemplate(ctx context.Context, name string) (t Template, found bool, err error)
}

// Config configures a Server.
type Config struct {
	// BaseURL is the CA's public HTTPS URL ("https://ca.contoso.net:8443"),
	// which every URL the server gives out and every JWS url header
	// checked starts with; it may end in a path prefix.
	BaseURL   string
	Nonces    *Nonces
	Templates Templates

	// DB and CA serve accounts, orders, authorizations, challenges,
	// certificates, revocation and renewal information; without them
	// only the directory and newNonce are served.
	DB *db.DB
	CA CA
	// Validation configures the challenges the CA validates.
	Validation ValidationOptions
	// Unbound opens templates to accounts without External Account
	// Binding from the given networks (the weaker choice; docs/acme.md):
	// such accounts act as UnboundUser. A template listed here must say
	// ExternalAccountRequired false (the Templates lookup decides it).
	Unbound map[string][]netip.Prefix
	Now     func() time.Time // the clock (time.Now)
	Rand    io.Reader        // ids and tokens (crypto/rand.Reader)
	Observe Observer         // told of orders, challenges and errors; may be nil
}

// The endpoints under /acme/<template>/.
const (
	EndpointDirectory   = "directory"
	EndpointNewNonce    = "new-nonce"
	EndpointNewAccount  = "new-account"
	EndpointNewOrder    = "new-order"
	EndpointRevokeCert  = "revoke-cert"
	EndpointKeyChange   = "key-change"
	EndpointRenewalInfo = "renewal-info"
)

// Server serves the ACME resources of every template.
type Server struct {
	base      string
	origin    string // base's scheme and host
	prefix    string // base's path
	nonces    *Nonces
	templates Templates
	svc       *service // nil: directory and newNonce only
	unbound   map[string][]netip.Prefix
}

// NewServer checks c and returns a Server.
func NewServer(c Config) (*Server, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("acme base URL %q: not an absolute http(s) URL without query", c.BaseURL)
	}
	if c.Nonces == nil || c.Templates == nil {
		return nil, errors.New("acme server: no nonces or templates")
	}
	base := strings.TrimSuffix(c.BaseURL, "/")
	s := &Server{base: base, origin: u.Scheme + "://" + u.Host, prefix: strings.TrimSuffix(u.EscapedPath(), "/"), nonces: c.Nonces, templates: c.Templates, unbound: c.Unbound}
	if err := s.newService(c); err != nil {
		return nil, err
	}
	return s, nil
}

// unboundAllowed reports whether r comes from a network template is
// opened to for unbound accounts.
func (s *Server) unboundAllowed(template string, r *http.Request) bool {
	nets := s.unbound[template]
	if len(nets) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, n := range nets {
		if n.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// URL is the absolute URL of a template's endpoint.
func (s *Server) URL(template, endpoint string) string {
	return s.base + "/acme/" + template + "/" + endpoint
}

// RequestURL is the absolute URL of r as this server names it: the
// configured base's scheme and host, and r's path (never r's Host header).
// It is the url a JWS to r must carry, for resources whose path holds an id
// (accounts, orders).
func (s *Server) RequestURL(r *http.Request) string {
	return s.origin + r.URL.EscapedPath()
}

// Directory is the directory document (RFC 8555 §7.1.1, RFC 9773 §4).
type Directory struct {
	NewNonce    string        `json:"newNonce"`
	NewAccount  string        `json:"newAccount"`
	NewOrder    string        `json:"newOrder"`
	RevokeCert  string        `json:"revokeCert"`
	KeyChange   string        `json:"keyChange"`
	RenewalInfo string        `json:"renewalInfo"`
	Meta        DirectoryMeta `json:"meta"`
}

// DirectoryMeta is the directory's meta object.
type DirectoryMeta struct {
	TermsOfService          string `json:"termsOfService,omitempty"`
	Website                 string `json:"website,omitempty"`
	ExternalAccountRequired bool   `json:"externalAccountRequired"`
}

// Directory is the directory of template t.
func (s *Server) Directory(t Template) Directory {
	return Directory{
		NewNonce:    s.URL(t.Name, EndpointNewNonce),
		NewAccount:  s.URL(t.Name, EndpointNewAccount),
		NewOrder:    s.URL(t.Name, EndpointNewOrder),
		RevokeCert:  s.URL(t.Name, EndpointRevokeCert),
		KeyChange:   s.URL(t.Name, EndpointKeyChange),
		RenewalInfo: s.URL(t.Name, EndpointRenewalInfo),
		Meta: DirectoryMeta{
			TermsOfService:          t.TermsOfService,
			Website:                 t.Website,
			ExternalAccountRequired: t.ExternalAccountRequired,
		},
	}
}

// Handler serves every ACME resource under /acme/<template>/ (under
// BaseURL's path): the directory and newNonce always, the others when the
// Server has a database and a CA (docs/acme.md).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(s.prefix+"/acme/{template}/{rest...}", s.serve)
	none := func(w http.ResponseWriter, r *http.Request) {
		p := NewProblem(Malformed, "no ACME resource at %s", quoteShort(r.URL.Path))
		p.Status = http.StatusNotFound
		WriteProblem(w, p, nil, "")
	}
	mux.HandleFunc(s.prefix+"/acme/{template}", none) // not redirected to .../
	mux.HandleFunc("/", none)
	return mux
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	name, rest := r.PathValue("template"), r.PathValue("rest")
	path := strings.Split(rest, "/")
	endpoint := rest // one segment for the directory and newNonce
	notFound := func() {
		p := NewProblem(Malformed, "no ACME directory for template %s", quoteShort(name))
		p.Status = http.StatusNotFound
		WriteProblem(w, p, nil, "")
	}
	if !validTemplateName(name) {
		notFound()
		return
	}
	t, found, err := s.templates.ACMETemplate(r.Context(), name)
	if err != nil {
		WriteProblem(w, err, nil, "")
		return
	}
	if !found {
		notFound()
		return
	}
	dir := s.URL(name, EndpointDirectory)
	switch endpoint {
	case EndpointDirectory:
		if !allow(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		body, _ := json.MarshalIndent(s.Directory(t), "", "  ")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(append(body, '\n'))
		}
	case EndpointNewNonce:
		if !allow(w, r, http.MethodHead, http.MethodGet) {
			return
		}
		n, err := s.nonces.New()
		if err != nil {
			WriteProblem(w, err, nil, dir)
			return
		}
		h := w.Header()
		h.Set("Replay-Nonce", n)
		h.Set("Cache-Control", "no-store")
		h.Add("Link", "<"+dir+`>;rel="index"`)
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		if s.svc == nil || len(path) > 3 || len(rest) > 512 {
			p := NewProblem(Malformed, "the ACME resource %s is not served", quoteShort(rest))
			p.Status = http.StatusNotFound
			WriteProblem(w, p, s.nonces, dir)
			return
		}
		(&call{s: s, w: w, r: r, t: t, dir: dir, path: path}).route()
	}
}

// allow answers 405 with Allow unless r's method is one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	p := NewProblem(Malformed, "method %s is not allowed here", quoteShort(r.Method))
	p.Status = http.StatusMethodNotAllowed
	WriteProblem(w, p, nil, "")
	return false
}

// validTemplateName is the CA's rule for template names (internal/ca).
func validTemplateName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
