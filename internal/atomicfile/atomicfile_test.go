package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		data string
		perm os.FileMode
	}{
		{"new file", "a.txt", "one", 0o644},
		{"replace", "a.txt", "two", 0o644},
		{"private key mode", "k.key", "secret", 0o600},
		{"missing parent", "sub/dir/c.txt", "three", 0o644},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.path)
			if err := Write(p, []byte(tc.data), tc.perm); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != tc.data {
				t.Fatalf("content %q, %v; want %q", got, err, tc.data)
			}
			st, _ := os.Stat(p)
			if st.Mode().Perm() != tc.perm {
				t.Fatalf("mode %v, want %v", st.Mode().Perm(), tc.perm)
			}
		})
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestWriteFailureKeepsOldContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "target")
	if err := Write(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory where the file should go makes the rename fail.
	if err := Write(filepath.Join(dir, "target", "x"), []byte("new"), 0o644); err == nil {
		t.Fatal("writing under a regular file succeeded")
	}
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Fatalf("old content lost: %q", got)
	}
}
