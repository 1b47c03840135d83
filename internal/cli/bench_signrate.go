package cli

import (
	"errors"
	"time"
)

// runBenchSignRate is wired to the CA engine's signer once it is available.
func runBenchSignRate(env *Env, dir, passFile string, d time.Duration, output string) error {
	return errors.New("bench sign-rate: not available yet")
}
