package enroll

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var staticFS embed.FS

// routes is the HTTPS side.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern, route string, f http.HandlerFunc) { s.handle(mux, pattern, route, f) }

	// Health and metrics.
	h("GET /healthz", "healthz", s.handleHealth)
	h("GET /readyz", "readyz", s.handleReady)
	h("GET /metrics", "metrics", s.plainErr(s.handleMetrics))

	// JSON API.
	h("POST /api/v1/certificates", "api_submit", s.api(s.apiSubmit))
	h("GET /api/v1/requests", "api_requests", s.api(s.apiRequests))
	h("GET /api/v1/requests/{id}", "api_request", s.api(s.apiRequest))
	h("POST /api/v1/requests/{id}/approve", "api_approve", s.api(s.apiApprove))
	h("POST /api/v1/requests/{id}/deny", "api_deny", s.api(s.apiDeny))
	h("POST /api/v1/revocations", "api_revoke", s.api(s.apiRevoke))
	h("GET /api/v1/templates", "api_templates", s.api(s.apiTemplates))
	h("GET /api/v1/ca/certificate", "api_ca_cert", s.api(s.apiCACert))
	h("GET /api/v1/ca/chain", "api_ca_chain", s.api(s.apiCAChain))
	h("GET /api/v1/crl", "api_crl", s.api(s.apiCRL(false)))
	h("GET /api/v1/crl/delta", "api_crl_delta", s.api(s.apiCRL(true)))
	h("/api/", "api_unknown", s.api(unknownRoute(mux, func(w http.ResponseWriter, r *http.Request) error {
		return errStatus(http.StatusNotFound, "not_found", "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})))

	// ACME (acme.go), answered by the ACME server with problem documents.
	if s.cfg.ACME != nil {
		h("/acme/", "acme", s.handleACME)
	}

	// Publications, also over HTTPS.
	h("GET /crl/{file}", "crl", s.plainErr(s.handleCRLFile))
	h("GET /aia/{file}", "aia", s.plainErr(s.handleAIAFile))
	h("GET /ocsp/{req...}", "ocsp", s.plainErr(s.handleOCSPGet))
	h("POST /ocsp", "ocsp", s.plainErr(s.handleOCSPPost))

	// Pages.
	h("GET /{$}", "home", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/certsrv/", http.StatusSeeOther)
	})
	h("GET /certsrv/{$}", "home", s.page(s.pageHome))
	h("GET /certsrv/signin", "signin", s.page(s.pageSignin))
	h("POST /certsrv/signin", "signin", s.page(s.postSignin))
	h("POST /certsrv/signout", "signout", s.page(s.postSignout))
	h("GET /certsrv/download", "download", s.page(s.pageDownload))
	h("GET /certsrv/certnew.cer", "download_file", s.page(s.fileCACert))
	h("GET /certsrv/certnew.p7b", "download_file", s.page(s.fileChain))
	h("GET /certsrv/certcrl.crl", "download_file", s.page(s.fileCRL))
	h("GET /certsrv/request", "request", s.page(s.pageRequest))
	h("POST /certsrv/request", "request", s.page(s.postRequest))
	h("GET /certsrv/requests/{id}", "request_status", s.page(s.pageRequestStatus))
	h("GET /certsrv/requests/{id}/certnew.cer", "issued_file", s.page(s.fileIssuedCert))
	h("GET /certsrv/requests/{id}/certnew.p7b", "issued_file", s.page(s.fileIssuedChain))
	h("GET /certsrv/pending", "pending", s.page(s.pagePending))
	h("POST /certsrv/requests/{id}/approve", "approve", s.page(s.postApprove))
	h("POST /certsrv/requests/{id}/deny", "deny", s.page(s.postDeny))
	h("POST /certsrv/revoke", "revoke", s.page(s.postRevoke))
	h("/certsrv/", "unknown", s.page(unknownRoute(mux, noSuchPage)))

	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/static/", http.FileServerFS(static))
	h("GET /static/", "static", s.page(func(w http.ResponseWriter, r *http.Request) error {
		if strings.HasSuffix(r.URL.Path, "/") { // a folder: its listing is nobody's business
			return errStatus(http.StatusNotFound, "not_found", "There is no such page.")
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
		return nil
	}))
	h("/", "unknown", s.page(unknownRoute(mux, noSuchPage)))
	return s.withHeaders(mux, true)
}

func noSuchPage(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotFound, "not_found", "There is no such page.")
}

// unknownRoute answers what no route serves: 405 with Allow when a route
// serves the path with another method, else notFound.
func unknownRoute(mux *http.ServeMux, notFound handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return errStatus(http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		}
		return notFound(w, r)
	}
}

// allowedMethods lists the methods for which a route other than a
// catch-all ("/", "/api/", "/certsrv/") serves r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); strings.Contains(pattern, " ") { // the catch-alls have no method
			out = append(out, m)
		}
	}
	return out
}

// withHeaders sets the security headers every answer carries.
func (s *Server) withHeaders(next http.Handler, tls bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range securityHeaders {
			h[k] = v
		}
		if tls {
			h["Strict-Transport-Security"] = hstsHeader
		}
		next.ServeHTTP(w, r)
	})
}

// The headers of every answer, in canonical form. Their value slices are
// shared by all answers: net/http only reads them, Header.Set replaces a
// slice and Header.Add appends to a full one (a copy), so none is changed
// in place.
var (
	securityHeaders = http.Header{
		"X-Content-Type-Options":  {"nosniff"},
		"X-Frame-Options":         {"DENY"},
		"Referrer-Policy":         {"same-origin"},
		"Content-Security-Policy": {"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
	}
	hstsHeader     = []string{"max-age=31536000"}
	jsonTypeHeader = []string{"application/json"}
	noStoreHeader  = []string{"no-store"}
)

// handleHealth is liveness: 200 while the process serves, whatever the
// database does (a load balancer asks /readyz before sending issuance).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}

// handleReady is readiness: 200 only when the CA can issue now (its key
// signs, the database takes a write, the disk has room), else 503 with
// what is missing and Retry-After.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.eng.Ready(r.Context()); err != nil {
		s.log.Warn("not ready", "err", err)
		w.Header().Set("Retry-After", dbRetryAfter)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	w.Write([]byte("ready\n"))
}
