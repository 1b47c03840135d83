// Package testtool is for tests only: it finds the real external programs and
// services that integration tests run against (openssl, certtool, nginx,
// PostgreSQL, SoftHSM2, Chromium).
//
// When a tool is missing a test skips, unless EDGECERT_REQUIRE_TOOLS=1 or
// CI=true is set (as the project's test command does), in which case it
// fails: CI must never pass by skipping.
package testtool

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

var schemaSeq atomic.Int64

// PostgresSchema creates a schema of its own for one test in the test
// PostgreSQL server (see [PostgresDSN]), drops it when the test ends, and
// returns a DSN whose search_path is that schema.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", base, err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("t_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
