package ca

import (
	"context"
	"errors"
	"os"
	"testing"
)

// TestTemplateNamesUniqueIgnoringCase: a template whose name differs from
// another's only in case cannot be created, and where such templates
// exist (written by hand), a request names exactly one of them (issue 14,
// item 9: 3 of 8 requests for WebServer were issued under webserver).
func TestTemplateNamesUniqueIgnoringCase(t *testing.T) {
	e, dir := newCA(t, "", "p256")
	ctx := context.Background()
	admin := mustPrincipal(t, e, "admin")
	for _, name := range []string{"webserver", "WEBSERVER", "WebServer"} {
		if _, err := SetTemplate(dir, name, TemplateChange{CopyFrom: "OCSPSigning"}); !errors.Is(err, ErrConflict) {
			t.Errorf("creating %s next to WebServer: %v", name, err)
		}
	}
	if _, err := os.Stat(templatePath(dir, "webserver")); err == nil {
		t.Fatal("a refused template was written")
	}
	// By hand: an unrestricted webserver next to a restricted WebServer.
	restricted := []string{"*.contoso.com"}
	if _, err := SetTemplate(dir, "WebServer", TemplateChange{AllowedDNS: &restricted}); err != nil {
		t.Fatal(err)
	}
	tm, _ := GetTemplate(dir, "WebServer")
	tm.Name, tm.AllowedDNS = "webserver", nil
	if err := saveTemplate(dir, tm); err != nil {
		t.Fatal(err)
	}
	e.loadTemplates(true)
	evil := makeCSR(t, csrSpec{cn: "www.evil.com"})
	for i := 0; i < 8; i++ {
		if res, err := e.Submit(ctx, admin, evil, "WebServer"); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("request %d for WebServer issued under %v (%v)", i, res.Template, err)
		}
	}
	if res, err := e.Submit(ctx, admin, evil, "webserver"); err != nil || res.Template != "webserver" {
		t.Fatalf("exact name webserver: %v", err)
	}
	if _, err := e.Submit(ctx, admin, evil, "WEBSERVER"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("an ambiguous name was resolved: %v", err)
	}
	if res, err := e.Submit(ctx, admin, makeCSR(t, csrSpec{cn: "a.contoso.com"}), "ocspsigning"); err != nil || res.Template != "OCSPSigning" {
		t.Fatalf("a name that differs in case from one template: %v", err)
	}
}
