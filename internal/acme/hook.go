package acme

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// maxHookOutput bounds what is kept of a hook's output for the error.
const maxHookOutput = 4 << 10

// runHook calls HOOK ACTION FQDN VALUE (the contract of lego's exec
// provider); a non-zero exit is an error that carries the last line the
// hook printed.
func runHook(ctx context.Context, hook, action, fqdn, value string) error {
	cmd := exec.CommandContext(ctx, hook, action, fqdn, value)
	var out bytes.Buffer
	cmd.Stdout = &limitedWriter{b: &out, n: maxHookOutput}
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		last := strings.TrimSpace(out.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		if last != "" {
			return fmt.Errorf("hook %s %s %s: %w: %s", hook, action, fqdn, err, last)
		}
		return fmt.Errorf("hook %s %s %s: %w", hook, action, fqdn, err)
	}
	return nil
}

type limitedWriter struct {
	b *bytes.Buffer
	n int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.n - w.b.Len(); room > 0 {
		w.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
