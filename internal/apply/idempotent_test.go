package apply_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
)

// treeState lists every file under dir with its content hash, mode and
// modification time: what "writes nothing" means.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "apply.lock" {
			return nil // the run lock: every run takes it
		}
		line := fmt.Sprintf("%s %v %s", rel, info.Mode(), info.ModTime().Format(time.RFC3339Nano))
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestFinishedWorkspaceRerunWritesNothing: apply on a finished workspace,
// an hour later, leaves state.json byte for byte, and every other file of
// the workspace, as they were (the run lock apply.lock aside).
func TestFinishedWorkspaceRerunWritesNothing(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "demo.yaml"), applytest.Options{})
	if res := e.ApplyAll(t, e.Options()); !res.Complete() {
		t.Fatalf("not complete: waiting %v, failed %v", res.Waiting, res.Failed)
	}
	journal := filepath.Join(e.Workspace.Dir, "state.json")
	before, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	tree := treeState(t, e.Workspace.Dir)
	for _, later := range []time.Duration{time.Hour, 2 * time.Hour} {
		opts := e.Options()
		opts.Now = applytest.Now(later)
		res, err := apply.Run(context.Background(), e.Plan, e.Workspace, opts)
		if err != nil || !res.Complete() {
			t.Fatalf("rerun: %v %+v", err, res)
		}
		after, err := os.ReadFile(journal)
		if err != nil {
			t.Fatal(err)
		}
		if string(after) != string(before) {
			t.Fatalf("a run that changed nothing rewrote state.json:\n%s\n---\n%s", before, after)
		}
		if now := treeState(t, e.Workspace.Dir); now != tree {
			t.Fatalf("a run that changed nothing wrote in the workspace:\n%s\n---\n%s", tree, now)
		}
	}
}
