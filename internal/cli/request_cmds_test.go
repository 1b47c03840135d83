package cli

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"edgecert/internal/ca"
	"edgecert/internal/csr"
	"edgecert/internal/enroll"
	"edgecert/internal/plan"
	"edgecert/internal/store"
	"edgecert/internal/testtool"
	"edgecert/internal/topology"
)

// TestRequestNewDefaults: RSA 2048, not exportable, PEM on standard
// output, the subject name repeated first in the SANs, KU critical and EKU
// serverAuth not critical.
func TestRequestNewDefaults(t *testing.T) {
	st := filepath.Join(t.TempDir(), "store")
	out := mustRun(t, "request", "new", "--store", st, "--cn", "webext.contoso.com", "--san", "meet.contoso.com", "--san", "10.0.0.5")
	if !strings.HasPrefix(out, "-----BEGIN CERTIFICATE REQUEST-----") {
		t.Fatalf("stdout is not a PEM request:\n%s", out)
	}
	req, err := csr.Parse([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	info := csr.Describe(req)
	if info.KeyAlgorithm != "RSA" || info.KeyBits != 2048 {
		t.Errorf("key %s %d, want RSA 2048", info.KeyAlgorithm, info.KeyBits)
	}
	if strings.Join(info.DNSNames, ",") != "webext.contoso.com,meet.contoso.com" || strings.Join(info.IPAddresses, ",") != "10.0.0.5" {
		t.Errorf("names %v %v", info.DNSNames, info.IPAddresses)
	}
	if !info.KeyUsageCritical || info.EKUCritical || usageNames(info.ExtKeyUsage) != "serverauth" {
		t.Errorf("extensions: %+v", info)
	}
	var es []store.Entry
	json.Unmarshal([]byte(mustRun(t, "store", "list", "--store", st, "--location", "request", "-o", "json")), &es)
	if len(es) != 1 || es[0].Exportable || !es[0].HasKey {
		t.Fatalf("pending entry: %+v", es)
	}
	der := mustRun(t, "request", "new", "--store", st, "--cn", "b.contoso.com", "--key", "p384", "--der")
	if req, err := x509.ParseCertificateRequest([]byte(der)); err != nil || csr.Describe(req).KeyBits != 384 {
		t.Fatalf("--der with p384: %v", err)
	}
}

// TestRequestNewFromPlan: every field of the request comes from the plan.
func TestRequestNewFromPlan(t *testing.T) {
	topo := filepath.Join("..", "..", "examples", "edge-pool-hlb-publicim.yaml")
	top, err := topology.Load(topo, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(top)
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range p.Certificates {
		t.Run(pc.ID, func(t *testing.T) {
			dir := t.TempDir()
			st, reqPath := filepath.Join(dir, "store"), filepath.Join(dir, "req.pem")
			mustRun(t, "request", "new", "--store", st, "--from-plan", pc.ID, "-t", topo, "--out", reqPath)
			data, _ := os.ReadFile(reqPath)
			req, err := csr.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			info := csr.Describe(req)
			if req.Subject.CommonName != pc.Subject.CommonName || strings.Join(info.DNSNames, ",") != strings.Join(pc.SANs, ",") {
				t.Errorf("names: %s %v, plan %s %v", req.Subject.CommonName, info.DNSNames, pc.Subject.CommonName, pc.SANs)
			}
			if pc.Subject.Organization != "" && (len(req.Subject.Organization) != 1 || req.Subject.Organization[0] != pc.Subject.Organization) {
				t.Errorf("organization %v, plan %q", req.Subject.Organization, pc.Subject.Organization)
			}
			if info.Template != pc.Template || info.KeyBits != pc.Key.Bits || info.KeyUsageCritical != pc.KeyUsageCritical || info.EKUCritical != pc.EKUCritical {
				t.Errorf("request %+v, plan %+v", info, pc)
			}
			if usageNames(info.ExtKeyUsage) != usageNames(pc.EKU) || usageNames(info.KeyUsage) != usageNames(pc.KeyUsage) {
				t.Errorf("usages %v %v, plan %v %v", info.KeyUsage, info.ExtKeyUsage, pc.KeyUsage, pc.EKU)
			}
			var es []store.Entry
			json.Unmarshal([]byte(mustRun(t, "store", "list", "--store", st, "-o", "json")), &es)
			if len(es) != 1 || es[0].Exportable != pc.Key.Exportable || es[0].FriendlyName != pc.FriendlyName {
				t.Errorf("store entry %+v, plan key %+v name %q", es, pc.Key, pc.FriendlyName)
			}
		})
	}
	_, errs, code := runStoreCLI(t, "request", "new", "--store", t.TempDir(), "--from-plan", "no-such-id", "-t", topo)
	if code != ExitUsage || !strings.Contains(errs, "its IDs are") {
		t.Fatalf("unknown plan ID: exit %d, %s", code, errs)
	}
}

// TestRequestAgainstRealCA submits through the CA's HTTPS API (a real CA
// engine and enrollment server on loopback): at once with request new
// --ca, and through approval with submit and retrieve.
func TestRequestAgainstRealCA(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	pass := []byte("ca passphrase")
	if err := ca.Init(ctx, caDir, ca.InitOptions{Name: "Contoso CLI", Key: "p256", Passphrase: pass, AdminName: "admin", AdminPassword: []byte("admin-password-1")}); err != nil {
		t.Fatal(err)
	}
	approval := true
	if _, err := ca.SetTemplate(caDir, "Approved", ca.TemplateChange{CopyFrom: "WebServer", Approval: &approval}); err != nil {
		t.Fatal(err)
	}
	eng, err := ca.Open(ctx, caDir, ca.OpenOptions{Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	tok, err := eng.NewToken(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	url, stop, err := enroll.StartLoopback(eng, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// The fingerprint of a CA certificate the server presents in TLS (the
	// issuing CA; the loopback server does not send the root itself).
	sum := sha256.Sum256(eng.Chain()[0].Raw)
	fp := hex.EncodeToString(sum[:])
	tokFile := writeFile(t, dir, "token", []byte(tok+"\n"))
	pins := filepath.Join(dir, "pins.json")
	caArgs := []string{"--ca", url, "--token-file", tokFile, "--ca-fingerprint", fp, "--pin-file", pins}

	st := filepath.Join(dir, "store")
	mustRun(t, append([]string{"request", "new", "--store", st, "--cn", "lsedge.contoso.net", "--key", "p256", "--template", "WebServer", "--friendly-name", "Edge Internal"}, caArgs...)...)
	mine, _ := listJSON(t, st, "my")
	if len(mine) != 1 || !mine[0].HasKey || mine[0].FriendlyName != "Edge Internal" {
		t.Fatalf("issued certificate not in my: %+v", mine)
	}
	mustRun(t, "assign", "--store", st, "--usage", "Internal", "--thumbprint", mine[0].Thumbprint)

	reqPath := filepath.Join(dir, "pending.csr")
	mustRun(t, "request", "new", "--store", st, "--cn", "sip.contoso.com", "--key", "p256", "--template", "Approved", "--exportable", "--out", reqPath)
	_, errs, code := runStoreCLI(t, append([]string{"request", "submit", "--store", st, reqPath}, caArgs...)...)
	if code != ExitWaiting || !strings.Contains(errs, "pending approval") {
		t.Fatalf("submit for approval: exit %d, want %d, %s", code, ExitWaiting, errs)
	}
	id := pendingID(t, errs)
	if _, err := eng.Approve(ctx, ca.Operator(), id); err != nil {
		t.Fatal(err)
	}
	// The printed command, as printed, joins the certificate to its key.
	_, hint, ok := strings.Cut(strings.TrimSpace(errs), "when approved: edgecert ")
	if !ok || !strings.Contains(hint, "--store "+st) {
		t.Fatalf("the retrieve hint does not name the store:\n%s", errs)
	}
	mustRun(t, strings.Fields(hint)...)
	mine, _ = listJSON(t, st, "my")
	if pending, _ := listJSON(t, st, "request"); len(mine) != 2 || len(pending) != 0 {
		t.Fatalf("after retrieve: my %d, request %d", len(mine), len(pending))
	}
	out := filepath.Join(dir, "retrieved.pem")
	mustRun(t, append([]string{"request", "retrieve", "--out", out, strconv.FormatInt(id, 10)}, caArgs...)...)
	if b, _ := os.ReadFile(out); strings.Count(string(b), "BEGIN CERTIFICATE") < 2 {
		t.Fatalf("--out holds no certificate with its chain:\n%s", b)
	}
	// A request made without --template: submit says to add it, and so
	// does request new --ca, before it makes a key.
	noTemplate := filepath.Join(dir, "no-template.csr")
	mustRun(t, "request", "new", "--store", st, "--cn", "meet.contoso.com", "--key", "p256", "--out", noTemplate)
	if _, errs, code := runStoreCLI(t, append([]string{"request", "submit", "--store", st, noTemplate}, caArgs...)...); code != ExitUsage || !strings.Contains(errs, "give --template NAME") {
		t.Fatalf("submit without a template: exit %d, %s", code, errs)
	}
	mustRun(t, append([]string{"request", "submit", "--store", st, "--template", "WebServer", noTemplate}, caArgs...)...)
	before, _ := listJSON(t, st, "request")
	if _, errs, code := runStoreCLI(t, append([]string{"request", "new", "--store", st, "--cn", "dialin.contoso.com", "--key", "p256"}, caArgs...)...); code != ExitUsage || !strings.Contains(errs, "give --template NAME") {
		t.Fatalf("request new --ca without a template: exit %d, %s", code, errs)
	}
	if after, _ := listJSON(t, st, "request"); len(after) != len(before) {
		t.Fatalf("a refused request new left a key: %d pending, had %d", len(after), len(before))
	}

	_, errs, code = runStoreCLI(t, "request", "submit", "--ca", url, "--token-file", writeFile(t, dir, "bad", []byte("nope")), "--ca-fingerprint", fp, "--pin-file", pins, reqPath)
	if code != ExitUsage {
		t.Fatalf("bad token: exit %d, %s", code, errs)
	}
}

func listJSON(t *testing.T, st, loc string) ([]store.Entry, error) {
	t.Helper()
	var es []store.Entry
	err := json.Unmarshal([]byte(mustRun(t, "store", "list", "--store", st, "--location", loc, "-o", "json")), &es)
	return es, err
}

func pendingID(t *testing.T, msg string) int64 {
	t.Helper()
	f := strings.Fields(msg)
	for i := range f {
		if f[i] == "request" && i+1 < len(f) {
			if id, err := strconv.ParseInt(f[i+1], 10, 64); err == nil {
				return id
			}
		}
	}
	t.Fatalf("no request ID in %q", msg)
	return 0
}

// usageNames compares usage lists across spellings ("Server Authentication",
// "serverAuth").
func usageNames(l []string) string {
	var out []string
	for _, n := range l {
		n = strings.ReplaceAll(strings.ToLower(n), " ", "")
		out = append(out, strings.Replace(n, "authentication", "auth", 1))
	}
	return strings.Join(out, ",")
}

// TestRequestShowOtherTools: request show decodes what OpenSSL writes, and
// the NEW CERTIFICATE REQUEST armour of certreq.
func TestRequestShowOtherTools(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	dir := t.TempDir()
	reqPath := filepath.Join(dir, "openssl.csr")
	cmd := exec.Command(openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", filepath.Join(dir, "k.pem"), "-out", reqPath, "-subj", "/CN=rp.contoso.com/O=Contoso",
		"-addext", "subjectAltName=DNS:rp.contoso.com,DNS:meet.contoso.com", "-addext", "keyUsage=critical,digitalSignature")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	var info csr.Info
	if err := json.Unmarshal([]byte(mustRun(t, "request", "show", reqPath, "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Subject != "CN=rp.contoso.com,O=Contoso" && !strings.Contains(info.Subject, "rp.contoso.com") || len(info.DNSNames) != 2 || !info.SignatureValid || !info.KeyUsageCritical {
		t.Fatalf("openssl request: %+v", info)
	}
	data, _ := os.ReadFile(reqPath)
	certreq := strings.ReplaceAll(string(data), "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
	out := mustRun(t, "request", "show", writeFile(t, dir, "certreq.req", []byte(certreq)))
	if !strings.Contains(out, "meet.contoso.com") || !strings.Contains(out, "valid") {
		t.Fatalf("certreq armour:\n%s", out)
	}
}

// TestFromPlanExamplesWork: every --from-plan example, in the commands'
// help and in the README and docs, names a topology of examples/ and a
// certificate of its plan, and makes the request it shows.
func TestFromPlanExamplesWork(t *testing.T) {
	var texts []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		texts = append(texts, c.Example, c.Long)
		for _, ch := range c.Commands() {
			walk(ch)
		}
	}
	walk(NewRootCmd(&Env{}))
	docs, _ := filepath.Glob("../../docs/*.md")
	for _, f := range append(docs, "../../README.md") {
		texts = append(texts, string(mustRead(t, f)))
	}
	idRE, topoRE := regexp.MustCompile(`--from-plan (\S+)`), regexp.MustCompile(`-t (\S+)`)
	seen := 0
	for _, text := range texts {
		for _, line := range strings.Split(strings.ReplaceAll(text, "\\\n", " "), "\n") {
			id := idRE.FindStringSubmatch(line)
			if id == nil || id[1] == "ID" || !strings.Contains(line, "edgecert request new ") {
				continue // prose or the usage line, not an example
			}
			seen++
			topo := topoRE.FindStringSubmatch(line)
			if topo == nil || !strings.HasPrefix(topo[1], "examples/") {
				t.Errorf("example without a topology of examples/: %s", line)
				continue
			}
			args := []string{"request", "new", "--store", t.TempDir(), "--from-plan", id[1], "-t", filepath.Join("..", "..", topo[1]), "--out", filepath.Join(t.TempDir(), "x.csr")}
			if _, errs, code := runStoreCLI(t, args...); code != ExitOK {
				t.Errorf("example %q: exit %d\n%s", line, code, errs)
			}
		}
	}
	if seen < 3 {
		t.Fatalf("found %d --from-plan examples; the test no longer finds them", seen)
	}
}
