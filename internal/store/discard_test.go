package store

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"edgecert/internal/csr"
)

// contentHash is treeHash without modification times: the bytes and modes.
func contentHash(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(treeHash(t, dir), "\n") {
		f := strings.Fields(l)
		out = append(out, strings.Join(f[:min(len(f), 3)], " "))
	}
	return strings.Join(out, "\n")
}

// TestDiscardRequest: a request nothing used is discarded with its key;
// when no other change came in between, the store is byte for byte as it
// was before the request (index and spare included), else the request is
// removed by an ordinary change and the other change stays.
func TestDiscardRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		between bool // another change is committed after the request
		noSwap  bool // the file system cannot swap names
	}{
		{"nothing in between: byte-identical", false, false},
		{"another change in between: removed", true, false},
		{"without swap, nothing in between: byte-identical", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noSwap {
				old := exchangeNames
				exchangeNames = func(a, b string) error { return syscall.EINVAL }
				t.Cleanup(func() { exchangeNames = old })
			}
			dir := t.TempDir()
			s := openTest(t, dir, "")
			// Two earlier changes, so that the spare holds an index too.
			for _, n := range []string{"a.contoso.com", "b.contoso.com"} {
				if _, err := s.NewRequest(RequestSpec{Request: csrRequest(n), Key: csr.P256, FriendlyName: n}); err != nil {
					t.Fatal(err)
				}
			}
			before := contentHash(t, dir)
			p, err := s.NewRequest(RequestSpec{Request: csrRequest("c.contoso.com"), Key: csr.P256, FriendlyName: "c"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.between {
				if _, err := s.NewRequest(RequestSpec{Request: csrRequest("d.contoso.com"), Key: csr.P256, FriendlyName: "d"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.DiscardRequest(p); err != nil {
				t.Fatal(err)
			}
			if after := contentHash(t, dir); !tc.between && after != before {
				t.Errorf("the store changed:\n%s\n---\n%s", before, after)
			}
			ps, err := s.Pending()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, q := range ps {
				names = append(names, q.FriendlyName)
			}
			want := "a.contoso.com b.contoso.com"
			if tc.between {
				want += " d"
			}
			if strings.Join(names, " ") != want {
				t.Errorf("pending %v, want %s", names, want)
			}
			mustCheck(t, s)
			// A second store object (another process) reads the same.
			if ps2, err := openTest(t, dir, "").Pending(); err != nil || len(ps2) != len(ps) {
				t.Errorf("reopened: %d pending, %v", len(ps2), err)
			}
			// Discarding again changes nothing.
			mid := contentHash(t, dir)
			if err := s.DiscardRequest(p); err != nil || contentHash(t, dir) != mid {
				t.Errorf("a second discard: %v, or it changed the store", err)
			}
		})
	}
}

// TestDiscardRequestCrash: a discard killed after its commit point leaves
// a store whose request is gone, that checks clean, and whose next change
// removes the request's files.
func TestDiscardRequestCrash(t *testing.T) {
	for _, stage := range []string{"discard-after-index", "discard-after-files"} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			s := openTest(t, dir, "")
			if _, err := s.NewRequest(RequestSpec{Request: csrRequest("a.contoso.com"), Key: csr.P256, FriendlyName: "a"}); err != nil {
				t.Fatal(err)
			}
			p, err := s.NewRequest(RequestSpec{Request: csrRequest("c.contoso.com"), Key: csr.P256, FriendlyName: "c"})
			if err != nil {
				t.Fatal(err)
			}
			idx, err := s.snapshot()
			if err != nil {
				t.Fatal(err)
			}
			r, err := idx.find(p.Thumbprint)
			if err != nil {
				t.Fatal(err)
			}
			files := []string{r.certFile(), r.keyFile()}
			for _, f := range files {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Fatalf("the request's file %s: %v", f, err)
				}
			}
			func() {
				defer func() { _ = recover() }()
				crashPoint = func(st string) {
					if st == stage {
						panic("killed")
					}
				}
				defer func() { crashPoint = func(string) {} }()
				_ = s.DiscardRequest(p)
				t.Fatal("the crash point was not reached")
			}()
			// Another process opens the store.
			s2 := openTest(t, dir, "")
			ps, err := s2.Pending()
			if err != nil || len(ps) != 1 || ps[0].FriendlyName != "a" {
				t.Fatalf("pending after the crash: %+v %v", ps, err)
			}
			mustCheck(t, s2)
			if _, err := s2.NewRequest(RequestSpec{Request: csrRequest("d.contoso.com"), Key: csr.P256, FriendlyName: "d"}); err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s of the discarded request is still there", f)
				}
			}
			mustCheck(t, s2)
		})
	}
}
