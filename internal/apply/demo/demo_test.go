package demo_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/apply"
	"edgecert/internal/apply/demo"
)

// TestDemo runs the bundled demo twice in one directory: the first run does
// everything and verifies clean; the second finds everything done.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	var events []apply.Event
	res, err := demo.Run(context.Background(), demo.Options{Dir: dir, Log: &log, Progress: func(e apply.Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Status.Complete || res.Report.Failed() || res.Report.Warnings() != 0 {
		t.Fatalf("demo: complete=%v report=%+v", res.Status.Complete, res.Report.Findings)
	}
	if !strings.Contains(log.String(), "stand-in public CA signs 2 request(s)") {
		t.Fatalf("the public CA round trip did not happen:\n%s", log.String())
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-passphrase")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated passphrase file: %v %v", fi, err)
	}
	events = nil
	res, err = demo.Run(context.Background(), demo.Options{Dir: dir, Progress: func(e apply.Event) { events = append(events, e) }})
	if err != nil || !res.Status.Complete || res.Report.Failed() {
		t.Fatalf("second run: %v %+v", err, res)
	}
	for _, e := range events {
		if e.Status == apply.EventDone && (e.Step == apply.StepRequest || e.Step == apply.StepIssue) {
			t.Fatalf("the second run redid a step: %+v", e)
		}
	}
}
