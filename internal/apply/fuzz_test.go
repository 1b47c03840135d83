package apply_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/certfmt"
)

// FuzzImportResponse feeds arbitrary files as a public CA's response: each
// must be refused as invalid input (none can match the pending key),
// without a panic, leaving the request pending.
func FuzzImportResponse(f *testing.F) {
	e := applytest.New(f, applytest.Example(f, "single-edge.yaml"), applytest.Options{})
	if _, err := apply.Run(context.Background(), e.Plan, e.Workspace, e.Options()); err != nil {
		f.Fatal(err)
	}
	seeds, _ := filepath.Glob(filepath.Join("testdata", "responses", "*"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(certfmt.EncodeCertificatePEM(e.Public.Cert))
	if p7b, err := certfmt.EncodePKCS7(append(e.Internal.Issued, e.Public.Cert)); err == nil {
		f.Add(p7b)
	}
	f.Add([]byte("-----BEGIN PKCS7-----\nMIIB\n-----END PKCS7-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := apply.ImportResponses(context.Background(), e.Plan, e.Workspace, []apply.Response{{Name: "fuzz", Data: data}}, e.Options())
		if err == nil {
			t.Fatal("an arbitrary response was accepted")
		}
		if !errors.Is(err, apply.ErrInvalidInput) {
			t.Fatalf("not reported as invalid input: %v", err)
		}
	})
}
