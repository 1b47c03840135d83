#!/usr/bin/env bash
# Runs every edgecert test, unit and integration, against real components.
# Installs what the tests need when it is missing (Debian packages: openssl,
# gnutls-bin, keytool (default-jre-headless) and NSS's tools for the file
# tests, nginx, postgresql, softhsm2, chromium, curl, jq, certbot, bind9 and
# bind9-dnsutils for the ACME tests; npm: playwright-core for the browser test,
# tree-sitter-powershell for the PowerShell scripts), starts a throwaway
# PostgreSQL on loopback, and makes
# any missing tool a test failure rather than a skip.
#
#   ./scripts/test.sh              # everything
#   ./scripts/test.sh ./internal/plan/...   # only some packages (go test patterns)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '==> %s\n' "$*"; }

# 1. Debian packages.
need_pkgs=()
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v certtool >/dev/null || need_pkgs+=(gnutls-bin)
command -v keytool >/dev/null || need_pkgs+=(default-jre-headless)
command -v pk12util >/dev/null || need_pkgs+=(libnss3-tools)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_pkgs+=(nginx-light)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_pkgs+=(postgresql)
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need_pkgs+=(softhsm2)
command -v chromium >/dev/null || need_pkgs+=(chromium)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v certbot >/dev/null || need_pkgs+=(certbot)
command -v named >/dev/null || [ -x /usr/sbin/named ] || need_pkgs+=(bind9)
command -v gcc >/dev/null || need_pkgs+=(gcc)
command -v jq >/dev/null || need_pkgs+=(jq)
command -v nsupdate >/dev/null || need_pkgs+=(bind9-dnsutils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

# 2. npm packages: the browser test, and the PowerShell grammar that parses
#    the scripts edgecert writes for Windows servers.
if [ -f internal/enroll/browsertest/package.json ] && [ ! -d internal/enroll/browsertest/node_modules/playwright-core ]; then
  say "installing npm packages for the browser test"
  (cd internal/enroll/browsertest && npm ci --no-audit --no-fund --silent 2>/dev/null || npm install --no-audit --no-fund --silent)
fi
if [ -f internal/windows/pstest/package.json ] && [ ! -d internal/windows/pstest/node_modules/tree-sitter-powershell ]; then
  say "installing npm packages for the PowerShell grammar check"
  (cd internal/windows/pstest && npm ci --no-audit --no-fund --silent 2>/dev/null || npm install --no-audit --no-fund --silent)
fi

# 3. A throwaway PostgreSQL on loopback.
work=$(mktemp -d /tmp/edgecert-test.XXXXXX)
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
pgdata="$work/pg"; pgport=${EDGECERT_TEST_PG_PORT:-55439}
run_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
mkdir -p "$pgdata"; [ "$(id -u)" = 0 ] && chown -R postgres "$work" 2>/dev/null || true
chmod 755 "$work"
cleanup() {
  run_pg "'$pgbin/pg_ctl' -D '$pgdata' -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
say "starting PostgreSQL on 127.0.0.1:$pgport"
run_pg "'$pgbin/initdb' -D '$pgdata' -U edgecert --auth=trust -E UTF8" >/dev/null
run_pg "'$pgbin/pg_ctl' -D '$pgdata' -l '$work/pg.log' -o \"-c listen_addresses=127.0.0.1 -p $pgport -k '$work' -c max_connections=300 -c fsync=on\" -w start" >/dev/null
export EDGECERT_TEST_PG_DSN="postgres://edgecert@127.0.0.1:$pgport/postgres?sslmode=disable"
export EDGECERT_REQUIRE_TOOLS=1
export EDGECERT_TEST_OUT="${EDGECERT_TEST_OUT:-$root/test-output}"
mkdir -p "$EDGECERT_TEST_OUT"

# 4. Static checks and the tests (with the PKCS#11 build, which needs cgo).
say "go vet"
go vet ./...
go vet -tags pkcs11 ./...
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change: $bad"; exit 1; fi

pkgs=("$@"); [ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
say "go test -tags pkcs11 ${pkgs[*]}"
set +e
CGO_ENABLED=1 go test -tags pkcs11 -count=1 -timeout 40m "${pkgs[@]}" 2>&1 | tee "$work/go-test.log"
status=${PIPESTATUS[0]}
set -e
# 5. The fuzz targets of the readers of outside files (PFX, PEM/Base64/DER
# certificates and keys, PKCS#7, PKCS#10, Topology Builder XML, the Windows
# servers' snapshots), 3 s each (about a minute in all
# with the builds); on a run of some packages only, those of the packages
# named. (FuzzBERToDER and FuzzNameString run inside these readers.)
fuzz_targets=(
  ./internal/certfmt:FuzzParseCertificates ./internal/certfmt:FuzzParseCertificate
  ./internal/certfmt:FuzzDecodePKCS7 ./internal/certfmt:FuzzDecodePFX ./internal/certfmt:FuzzDecodePFXAll
  ./internal/certfmt:FuzzParsePrivateKey ./internal/csr:FuzzParse ./internal/csr:FuzzDecode
  ./internal/topology:FuzzParseXML ./internal/windows:FuzzParse
)
for t in "${fuzz_targets[@]}"; do
  pkg=${t%%:*} target=${t##*:}
  wanted=$([ $# -eq 0 ] && echo yes || true)
  for a in "$@"; do
    case "$a" in "$pkg" | "$pkg/..." | ./... | ./internal/...) wanted=yes ;; esac
  done
  [ -n "$wanted" ] || continue
  say "fuzz $target ($pkg, 3s)"
  if ! go test -run '^$' -fuzz="^$target\$" -fuzztime=3s "$pkg" >"$work/fuzz.log" 2>&1; then
    cat "$work/fuzz.log"; echo "FAIL fuzz $target"
    echo "FAIL fuzz $target" >>"$work/go-test.log"
    status=1
  fi
done

passed=$(grep -c '^ok ' "$work/go-test.log" || true)
failed=$(grep -Ec '^(FAIL|--- FAIL)' "$work/go-test.log" || true)
echo
echo "packages: $passed passed, $failed failed"
exit "$status"
