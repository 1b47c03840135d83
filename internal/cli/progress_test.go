package cli

import (
	"bytes"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"edgecert/internal/apply"
)

// TestApplyProgressStableOrder: two runs of apply on fresh workspaces
// print the same progress, certificate by certificate in plan order under
// "[n/N] id" lines, and a sorted summary, whatever order the certificates
// finish in.
func TestApplyProgressStableOrder(t *testing.T) {
	dir := t.TempDir()
	caFlags := tourCA(t, dir)
	topo := examplePath("multi-site.yaml")
	hex := regexp.MustCompile(`[0-9A-F]{16,}`)
	var runs []string
	for i := 0; i < 2; i++ {
		ws := filepath.Join(dir, "ws", string(rune('a'+i)))
		out, errOut, code := runApplyCLI(t, append([]string{"apply", "-t", topo, "--workspace", ws}, caFlags...)...)
		if code != ExitOK && code != ExitWaiting {
			t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
		}
		runs = append(runs, hex.ReplaceAllString(strings.ReplaceAll(errOut+out, ws, "WS"), "HEX"))
	}
	if runs[0] != runs[1] {
		t.Fatalf("two runs printed different progress:\n%s\n---\n%s", runs[0], runs[1])
	}
	heads := regexp.MustCompile(`(?m)^\[(\d+)/(\d+)\] `).FindAllStringSubmatch(runs[0], -1)
	total := len(heads)
	for i, h := range heads {
		if h[1] != strconv.Itoa(i+1) || h[2] != strconv.Itoa(total) {
			t.Fatalf("progress line %d says %s/%s:\n%s", i+1, h[1], h[2], runs[0])
		}
	}
	if total < 4 {
		t.Fatalf("only %d progress lines:\n%s", total, runs[0])
	}
	var summary []string
	for _, l := range strings.Split(runs[0], "\n") {
		if strings.HasPrefix(l, "  waiting: ") || strings.HasPrefix(l, "  failed:  ") {
			summary = append(summary, l)
		}
	}
	if !sort.StringsAreSorted(summary) {
		t.Fatalf("the summary is not sorted:\n%s", strings.Join(summary, "\n"))
	}
}

// TestProgressBarOnlyOnATerminal: the bar (a line rewritten with \r) is
// drawn on a terminal only; blocks come out in plan order either way.
func TestProgressBarOnlyOnATerminal(t *testing.T) {
	for _, tty := range []bool{false, true} {
		var b bytes.Buffer
		p := newRunProgress(&b, tty)
		p.Start([]string{"a", "b"})
		p.Event(apply.Event{Step: apply.StepIssue, Certificate: "b", Status: apply.EventDone, Message: "issued"})
		p.Finished("b")
		p.Event(apply.Event{Step: apply.StepIssue, Certificate: "a", Status: apply.EventDone, Message: "issued"})
		p.Finished("a")
		p.End()
		out := b.String()
		if strings.Contains(out, "\r") != tty {
			t.Errorf("tty=%v: bar drawn=%v:\n%q", tty, strings.Contains(out, "\r"), out)
		}
		clean := regexp.MustCompile("\r(\033\\[K|\\[[#.]*\\] \\d+/\\d+ certificates)").ReplaceAllString(out, "")
		if want := "[1/2] a\n  ✓ issue    a: issued\n[2/2] b\n  ✓ issue    b: issued\n"; clean != want {
			t.Errorf("tty=%v: got %q, want %q", tty, clean, want)
		}
	}
}
