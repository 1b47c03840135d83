// Package testtool is for tests only: it finds the real external programs and
// services that integration tests run against (openssl, certtool, nginx,
// PostgreSQL, SoftHSM2, Chromium).
//
// When a tool is missing a test skips, unless EDGECERT_REQUIRE_TOOLS=1 or
// CI=true is set (as the project's test command does), in which case it
// fails: CI must never pass by skipping.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether missing tools must fail tests.
func Required() bool {
	return os.Getenv("EDGECERT_REQUIRE_TOOLS") == "1" || os.Getenv("CI") == "true"
}

// missing skips or fails t for a missing dependency.
func missing(t testing.TB, what string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required for this test but missing (run ./scripts/test.sh, which installs it)", what)
	}
	t.Skipf("%s not available (set EDGECERT_REQUIRE_TOOLS=1 to make this a failure)", what)
}

// Path returns the path of program name, or skips/fails t.
func Path(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "program "+name)
	}
	return p
}

// PostgresDSN returns the DSN of the test PostgreSQL server
// (EDGECERT_TEST_PG_DSN), or skips/fails t. Each test should create its own
// database or schema inside it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("EDGECERT_TEST_PG_DSN")
	if dsn == "" {
		missing(t, "PostgreSQL (EDGECERT_TEST_PG_DSN)")
	}
	return dsn
}

// SoftHSMModule returns the path of the SoftHSM2 PKCS#11 module, or skips/fails t.
func SoftHSMModule(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("EDGECERT_TEST_PKCS11_MODULE"), "/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing(t, "SoftHSM2 module libsofthsm2.so")
	return ""
}
