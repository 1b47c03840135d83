package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"edgecert/internal/bench"
	"edgecert/internal/ca"
)

// runBenchSignRate opens the CA with its key and measures the raw signing
// rate of the issuing key (SHA-256 digests, GOMAXPROCS goroutines).
func runBenchSignRate(env *Env, dir, passFile string, d time.Duration, output string) error {
	if err := checkFormat(output); err != nil {
		return err
	}
	if d <= 0 {
		return invalidInput(fmt.Errorf("--duration must be positive, not %s", d))
	}
	pass, err := readCAPassphrase(env, passFile)
	if err != nil {
		return err
	}
	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	eng, err := ca.Open(ctx, dir, ca.OpenOptions{Passphrase: pass, Now: env.Now, Rand: env.Rand})
	if err != nil {
		if errors.Is(err, ca.ErrUnauthenticated) || errors.Is(err, ca.ErrBadRequest) {
			return invalidInput(err)
		}
		return err
	}
	defer eng.Close()
	r := bench.MeasureSignRate(eng.Signer(), d)
	return render(env.Out, output, r, func(w io.Writer, width int) error {
		_, err := fmt.Fprintf(w, "%.0f signatures/s with %d goroutines (%s)\n", r.PerSecond, r.Goroutines, r.Algorithm)
		return err
	})
}
