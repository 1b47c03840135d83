package apply_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
	"edgecert/internal/plan"
	"edgecert/internal/store"
)

// TestApplyEndToEnd runs the whole procedure with the product's CA engine
// and a stand-in public CA on several topologies, then checks every store
// and the verification report.
func TestApplyEndToEnd(t *testing.T) {
	cases := []struct {
		name, example string
		wantKinds     []string
	}{
		{"single edge", "single-edge.yaml", []string{plan.KindEdgeInternal, plan.KindEdgeExternal}},
		{"edge pool of 3", "edge-pool-hlb-publicim.yaml", []string{plan.KindEdgeInternal, plan.KindEdgeExternal}},
		{"two sites", "multi-site.yaml", []string{plan.KindEdgeInternal, plan.KindEdgeExternal, plan.KindReverseProxy}},
		{"combined edge and reverse proxy", "combined-edge-rp.yaml", []string{plan.KindEdgeInternal, plan.KindEdgeExternalAndProxy}},
		{"reverse proxy farm", "demo.yaml", []string{plan.KindEdgeInternal, plan.KindEdgeExternal, plan.KindReverseProxy}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := applytest.New(t, applytest.Example(t, tc.example), applytest.Options{EngineCA: true})
			for _, k := range tc.wantKinds {
				if !hasKind(e.Plan, k) {
					t.Fatalf("the plan of %s has no %s certificate", tc.example, k)
				}
			}
			res := e.ApplyAll(t, e.Options())
			if !res.Complete() {
				t.Fatalf("not complete: waiting %v, failed %v", res.Waiting, res.Failed)
			}
			if res.Report == nil || res.Report.Errors() != 0 || res.Report.Warnings() != 0 {
				t.Fatalf("verify report: %+v", res.Report)
			}
			checkStores(t, e)
			st, err := apply.Status(e.Plan, e.Workspace)
			if err != nil || !st.Complete {
				t.Fatalf("status: complete=%v err=%v run again=%v", st != nil && st.Complete, err, st.RunAgain)
			}
			// A second run changes nothing, and writes nothing: not even
			// the journal (state.json) with new stamps.
			before := snapshotThumbprints(t, e)
			journal := filepath.Join(e.Workspace.Dir, "state.json")
			j0, err := os.ReadFile(journal)
			if err != nil {
				t.Fatal(err)
			}
			fi0, _ := os.Stat(journal)
			tree0 := treeStamps(t, e.Workspace.Dir)
			res2, err := apply.Run(context.Background(), e.Plan, e.Workspace, e.Options())
			if err != nil || !res2.Complete() {
				t.Fatalf("rerun: %v %+v", err, res2)
			}
			if after := snapshotThumbprints(t, e); after != before {
				t.Fatalf("a rerun changed the stores:\n%s\n%s", before, after)
			}
			j1, _ := os.ReadFile(journal)
			fi1, _ := os.Stat(journal)
			if !bytes.Equal(j0, j1) || !os.SameFile(fi0, fi1) || !fi0.ModTime().Equal(fi1.ModTime()) {
				t.Fatalf("a rerun that changed nothing rewrote state.json:\n%s\n---\n%s", j0, j1)
			}
			if tree1 := treeStamps(t, e.Workspace.Dir); tree1 != tree0 {
				t.Fatalf("a rerun that changed nothing wrote in the workspace:\n%s\n---\n%s", tree0, tree1)
			}
		})
	}
}

// treeStamps lists every file under dir with its inode, size and
// modification time: what a write changes.
func treeStamps(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "apply.lock" { // the lock names its holder
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		var ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		fmt.Fprintf(&b, "%s %d %d %s\n", p, ino, fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func hasKind(p *plan.Plan, kind string) bool {
	for _, c := range p.Certificates {
		if c.Kind == kind {
			return true
		}
	}
	return false
}

// checkStores checks that every server holds its certificates with their
// key and has each usage assigned to the same certificate as the other
// members, and that each certificate has exactly one key.
func checkStores(t *testing.T, e *applytest.Env) {
	t.Helper()
	for _, c := range e.Plan.Certificates {
		thumb, err := apply.Current(e.Workspace, &c, c.RequestOn)
		if err != nil || thumb == "" {
			t.Fatalf("%s: no current certificate on %s (%v)", c.ID, c.RequestOn, err)
		}
		for _, srv := range c.Servers {
			st := e.Store(t, srv)
			entry, cert, err := st.Certificate(thumb)
			if err != nil || !entry.HasKey || entry.Location != store.My {
				t.Fatalf("%s on %s: certificate %s not in my with its key (%v)", c.ID, srv, thumb, err)
			}
			if !strings.EqualFold(cert.Subject.CommonName, c.Subject.CommonName) {
				t.Errorf("%s on %s: CN %s, want %s", c.ID, srv, cert.Subject.CommonName, c.Subject.CommonName)
			}
			as, err := st.Assignments()
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range c.Usages {
				found := false
				for _, a := range as {
					if a.Usage == u && a.Thumbprint == thumb {
						found = true
					}
				}
				if !found {
					t.Errorf("%s on %s: %s not assigned to %s: %+v", c.ID, srv, u, thumb, as)
				}
			}
		}
		if n := keysOf(t, e, &c); n != 1 {
			t.Errorf("%s: %d keys, want exactly one", c.ID, n)
		}
	}
}

// keysOf counts the distinct keys held for certificate c across its
// servers: pending requests and certificates of my named like c.
func keysOf(t *testing.T, e *applytest.Env, c *plan.Certificate) int {
	t.Helper()
	keys := map[string]bool{}
	for _, srv := range c.Servers {
		st := e.Store(t, srv)
		es, err := st.List("")
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range es {
			if !en.HasKey || !strings.HasPrefix(en.FriendlyName, c.FriendlyName) {
				continue
			}
			if en.Location == store.Request {
				keys["request:"+en.Thumbprint] = true
				continue
			}
			_, cert, err := st.Certificate(en.Thumbprint)
			if err != nil {
				t.Fatal(err)
			}
			keys[string(cert.RawSubjectPublicKeyInfo)] = true
		}
	}
	return len(keys)
}

func snapshotThumbprints(t *testing.T, e *applytest.Env) string {
	t.Helper()
	var b strings.Builder
	for _, srv := range allServers(e.Plan) {
		es, err := e.Store(t, srv).List("")
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range es {
			b.WriteString(srv + " " + string(en.Location) + " " + en.Thumbprint + "\n")
		}
	}
	return b.String()
}

func allServers(p *plan.Plan) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Certificates {
		for _, s := range c.Servers {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// TestDryRunChangesNothing checks that --dry-run reports planned steps and
// creates no store.
func TestDryRunChangesNothing(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "demo.yaml"), applytest.Options{})
	var planned int
	opts := e.Options()
	opts.DryRun = true
	opts.Progress = func(ev apply.Event) {
		if ev.Status == apply.EventPlanned {
			planned++
		}
	}
	if _, err := apply.Run(context.Background(), e.Plan, e.Workspace, opts); err != nil {
		t.Fatal(err)
	}
	if planned == 0 {
		t.Fatal("a dry run reported no planned step")
	}
	if srv := allServers(e.Plan); len(srv) > 0 {
		if _, ok, _ := e.Workspace.ExistingStore(srv[0]); ok {
			t.Fatal("a dry run created a store")
		}
	}
}

// TestPublicResponseMatchesByKey checks that a response for no pending
// request is refused as invalid input and changes nothing.
func TestPublicResponseMatchesByKey(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "single-edge.yaml"), applytest.Options{})
	if _, err := apply.Run(context.Background(), e.Plan, e.Workspace, e.Options()); err != nil {
		t.Fatal(err)
	}
	// A certificate of the other (internal) CA is not the public CA's answer.
	stray := e.Internal.Issued[0]
	p7b, err := e.Public.Response(stray)
	if err != nil {
		t.Fatal(err)
	}
	_, err = apply.ImportResponses(context.Background(), e.Plan, e.Workspace, []apply.Response{{Name: "stray.p7b", Data: p7b}}, e.Options())
	if err == nil || !strings.Contains(err.Error(), "no request waiting") {
		t.Fatalf("stray response: err = %v", err)
	}
	st, err := apply.Status(e.Plan, e.Workspace)
	if err != nil || st.Complete {
		t.Fatalf("status after a stray response: %+v %v", st, err)
	}
}

// TestOneRunPerWorkspace checks the workspace's run lock: while one apply
// works, a second (from another process or, as here, another open of the
// lock file) is refused at once with ErrBusy and changes nothing; a dry run
// still reads; once the first is done, apply runs again.
func TestOneRunPerWorkspace(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "single-edge.yaml"), applytest.Options{})
	started, proceed := make(chan struct{}), make(chan struct{})
	opts := e.Options()
	var once sync.Once
	opts.Progress = func(apply.Event) {
		once.Do(func() { close(started); <-proceed })
	}
	first := make(chan error, 1)
	go func() {
		_, err := apply.Run(context.Background(), e.Plan, e.Workspace, opts)
		first <- err
	}()
	<-started // the first run holds the lock and waits in its first event
	journal := filepath.Join(e.Workspace.Dir, "state.json")
	before, _ := os.ReadFile(journal)
	other, err := apply.OpenWorkspace(e.Workspace.Dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = apply.Run(context.Background(), e.Plan, other, e.Options())
	if !errors.Is(err, apply.ErrBusy) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("second run: err = %v, want ErrBusy naming this process", err)
	}
	if _, err := apply.Renew(context.Background(), e.Plan, other, 30*24*time.Hour, e.Options()); !errors.Is(err, apply.ErrBusy) {
		t.Fatalf("renew during apply: err = %v, want ErrBusy", err)
	}
	if after, _ := os.ReadFile(journal); !bytes.Equal(before, after) {
		t.Fatal("a refused run changed the journal")
	}
	dry := e.Options()
	dry.DryRun = true
	if _, err := apply.Run(context.Background(), e.Plan, other, dry); err != nil {
		t.Fatalf("a dry run during apply: %v", err)
	}
	close(proceed)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Run(context.Background(), e.Plan, other, e.Options()); err != nil {
		t.Fatalf("after the first run: %v", err)
	}
}
