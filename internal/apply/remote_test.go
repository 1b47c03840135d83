package apply_test

import (
	"context"
	"testing"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/caclient"
	"edgecert/internal/certfmt"
	"edgecert/internal/enroll"
)

// TestApplyThroughTheCAAPI runs apply against the CA's HTTPS API (apply
// --ca URL --token-file F), served by the real enrollment server.
func TestApplyThroughTheCAAPI(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "edge-pool-dns.yaml"), applytest.Options{EngineCA: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := enroll.New(e.Engine, enroll.Config{Listen: "127.0.0.1:0", ServerNames: []string{"127.0.0.1"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	token, err := e.Engine.NewToken(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	chain := e.Engine.Chain()
	client, err := caclient.New(srv.URL(), caclient.Options{Token: token, Fingerprint: certfmt.FingerprintSHA256(chain[len(chain)-1]),
		PinFile: t.TempDir() + "/pins.json"})
	if err != nil {
		t.Fatal(err)
	}
	opts := apply.Options{Issuer: apply.RemoteCA(client)}
	res := e.ApplyAll(t, opts)
	if !res.Complete() || res.Report.Errors() != 0 {
		t.Fatalf("apply through the API: %+v", res)
	}
	checkStores(t, e)
}
