package ca

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// TestMalformedTemplateIsSkipped: one bad template file (or one that
// defines another template than its name says) is skipped and reported;
// the CA opens and issues under the others, and a request for the bad
// one is a server fault that does not show the CA's paths (issue 14,
// item 12: it stopped all issuance with a 400 naming a server path).
func TestMalformedTemplateIsSkipped(t *testing.T) {
	_, dir := newCA(t, "", "p256")
	ctx := context.Background()
	tm, _ := GetTemplate(dir, "WebServer")
	tm.AllowedDNS = nil
	shadow, _ := TemplateYAML(tm) // name: WebServer, in Shadow.yaml
	writeFile(t, filepath.Join(dir, templatesDir), "Broken.yaml", []byte("name: Broken\nvalidity: [\n"))
	writeFile(t, filepath.Join(dir, templatesDir), "Shadow.yaml", shadow)
	writeFile(t, filepath.Join(dir, templatesDir), "Huge.yaml", bytes.Repeat([]byte("#"), maxTemplateBytes+1))
	var told []string
	e, err := Open(ctx, dir, OpenOptions{Passphrase: testPassphrase, OnTemplateProblem: func(p TemplateProblem) { told = append(told, p.Name) }})
	if err != nil {
		t.Fatalf("one bad template stopped the CA: %v", err)
	}
	defer e.Close()
	sort.Strings(told)
	if strings.Join(told, ",") != "Broken,Huge,Shadow" {
		t.Errorf("problems told: %v", told)
	}
	admin := mustPrincipal(t, e, "admin")
	if _, err := e.Submit(ctx, admin, makeCSR(t, csrSpec{cn: "a.contoso.com"}), "WebServer"); err != nil {
		t.Fatalf("issuance under a good template: %v", err)
	}
	for _, name := range []string{"Broken", "Shadow", "huge"} {
		_, err := e.Submit(ctx, admin, makeCSR(t, csrSpec{cn: "a.contoso.com"}), name)
		if !errors.Is(err, ErrServerFault) || errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v, want a server fault", name, err)
		}
		if err != nil && strings.Contains(err.Error(), dir) {
			t.Errorf("%s: the error shows the CA's path: %v", name, err)
		}
	}
	ts, problems, err := ListTemplates(dir)
	if err != nil || len(problems) != 3 || len(ts) != 4 {
		t.Fatalf("ListTemplates: %d templates, problems %v, %v", len(ts), problems, err)
	}
	if !strings.Contains(problems[0].Error(), "Broken.yaml") {
		t.Errorf("the administrator's message lacks the file: %v", problems[0])
	}
	infos, _ := e.Templates(ctx, admin)
	for _, i := range infos {
		if i.Name == "Broken" || i.Name == "Shadow" {
			t.Errorf("a bad template is offered: %v", i)
		}
	}
}

// TestSetTemplateIsAnAuditedAdminAction: only an administrator changes a
// template through the engine, and each change is audited with the
// values before and after.
func TestSetTemplateIsAnAuditedAdminAction(t *testing.T) {
	e, dir := newCA(t, "", "p256")
	ctx := context.Background()
	if err := e.AddUser(ctx, UserSpec{Name: "mallory", Groups: []string{"RTCUniversalServerAdmins"}}); err != nil {
		t.Fatal(err)
	}
	open := []string{}
	before, _ := os.ReadFile(templatePath(dir, "WebServer"))
	if _, err := e.SetTemplate(ctx, mustPrincipal(t, e, "mallory"), "WebServer", TemplateChange{AllowedDNS: &open}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a non-administrator changed a template: %v", err)
	}
	if after, _ := os.ReadFile(templatePath(dir, "WebServer")); !bytes.Equal(before, after) {
		t.Fatal("a refused change touched the template")
	}
	restricted := []string{"*.contoso.com"}
	if _, err := e.SetTemplate(ctx, mustPrincipal(t, e, "admin"), "WebServer", TemplateChange{AllowedDNS: &restricted}); err != nil {
		t.Fatal(err)
	}
	log, _ := e.AuditLog(ctx, 2)
	if len(log) != 2 || log[0].Action != "template-set" || log[0].Detail != "allowed_dns: [] -> [*.contoso.com]" || log[1].Result != "forbidden" {
		t.Fatalf("audit: %+v", log)
	}
	// The engine uses the change at once.
	if _, err := e.Submit(ctx, mustPrincipal(t, e, "admin"), makeCSR(t, csrSpec{cn: "www.evil.com"}), "WebServer"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("the restriction is not in force: %v", err)
	}
}
