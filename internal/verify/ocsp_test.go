package verify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/apply/standinca"
	"edgecert/internal/store"
	"edgecert/internal/verify"
)

// TestRevocationByOCSP: a certificate with no CRL distribution point but an
// OCSP responder is checked there, good then revoked.
func TestRevocationByOCSP(t *testing.T) {
	var ca *standinca.CA
	responder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		der, err := ca.OCSP(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(der)
	}))
	defer responder.Close()
	e := applytest.New(t, applytest.Example(t, "single-edge.yaml"), applytest.Options{})
	var err error
	ca, err = standinca.Open(filepath.Join(e.Dir, "ocsp-ca"), standinca.Options{OCSPURL: responder.URL})
	if err != nil {
		t.Fatal(err)
	}
	issuer := &applytest.StandIn{CA: ca}
	ws, err := apply.OpenWorkspace(filepath.Join(e.Dir, "ocsp-ws"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := e.Cert(t, "edge-internal").ID
	if _, err := apply.Run(context.Background(), e.Plan, ws, apply.Options{Issuer: issuer, Certificates: []string{id}}); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Offline(context.Background(), e.Plan, ws.Store, verify.Options{Certificates: []string{id}, RequireRevocation: true})
	if err != nil || rep.Failed() {
		t.Fatalf("good by OCSP: %v %+v", err, rep.Findings)
	}
	for _, c := range issuer.Issued {
		ca.Revoke(c)
	}
	rep, err = verify.Offline(context.Background(), e.Plan, ws.Store, verify.Options{Certificates: []string{id}})
	if err != nil || !rep.Has(verify.SeverityError, verify.CheckRevocation, "") {
		t.Fatalf("revoked by OCSP passed: %v %+v", err, rep.Findings)
	}
}
