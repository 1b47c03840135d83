#!/usr/bin/env bash
# A local ACME lab for trying edgecert's ACME path (README, "Public
# certificates from an ACME CA"): BIND 9 serving the zone contoso.test on
# 127.0.0.1:15353 with RFC 2136 updates signed by a TSIG key it makes, and
# pebble (Let's Encrypt's test CA, run with `go tool pebble`) on
# 127.0.0.1:14600 validating against that BIND. It writes into DIR the TSIG
# secret, pebble's HTTPS CA and roots, and DIR/topology.yaml: an edge pool
# of two in contoso.test whose acme: block points at the lab.
#
#   ./scripts/acme-lab.sh start DIR    # returns once both answer
#   ./scripts/acme-lab.sh stop DIR
#
# Needs named (Debian bind9) and Go. Ports: ACME_LAB_DNS_PORT (15353),
# ACME_LAB_PEBBLE_PORT (14600), ACME_LAB_PEBBLE_MGMT_PORT (15600).
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
cd "$(dirname "$0")/.."
dns_port=${ACME_LAB_DNS_PORT:-15353}
acme_port=${ACME_LAB_PEBBLE_PORT:-14600}
mgmt_port=${ACME_LAB_PEBBLE_MGMT_PORT:-15600}

stop() {
  for p in "$dir/pebble.pid" "$dir/named.pid"; do
    if [ -s "$p" ]; then kill "$(cat "$p")" 2>/dev/null || true; rm -f "$p"; fi
  done
}

case "$cmd" in
stop) stop; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

named=$(command -v named || echo /usr/sbin/named)
[ -x "$named" ] || { echo "named not found: install Debian's bind9" >&2; exit 1; }
go=$(command -v go || echo "$(go env GOROOT 2>/dev/null)/bin/go")
chmod 755 "$dir"
stop

# BIND: the zone, the TSIG key, updates allowed with it.
secret=$(head -c 32 /dev/urandom | base64)
printf '%s\n' "$secret" > "$dir/tsig.key"; chmod 600 "$dir/tsig.key"
cat > "$dir/zone.db" <<EOF
\$TTL 60
@ IN SOA ns.contoso.test. hostmaster.contoso.test. 1 60 60 600 60
@ IN NS ns.contoso.test.
@ IN A 127.0.0.1
* IN A 127.0.0.1
EOF
cat > "$dir/named.conf" <<EOF
options {
  directory "$dir";
  listen-on port $dns_port { 127.0.0.1; };
  listen-on-v6 { none; };
  pid-file "$dir/named.pid";
  recursion no;
  dnssec-validation no;
};
key "acme-update" { algorithm hmac-sha256; secret "$secret"; };
controls { };
zone "contoso.test" { type primary; file "$dir/zone.db"; allow-update { key "acme-update"; }; };
EOF
"$named" -c "$dir/named.conf" >"$dir/named.log" 2>&1

# pebble, with its test certificate for its HTTPS, validating against BIND.
pebble_dir=$("$go" list -m -f '{{.Dir}}' github.com/letsencrypt/pebble/v2)
cp "$pebble_dir/test/certs/pebble.minica.pem" "$dir/pebble-ca.pem"
cat > "$dir/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$acme_port", "managementListenAddress": "127.0.0.1:$mgmt_port",
  "certificate": "$pebble_dir/test/certs/localhost/cert.pem", "privateKey": "$pebble_dir/test/certs/localhost/key.pem",
  "httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false,
  "retryAfter": {"authz": 1, "order": 1}, "keyAlgorithm": "ecdsa",
  "profiles": {"classic": {"description": "with the subject name", "validityPeriod": 7776000, "promoteCommonName": true},
               "tlsserver": {"description": "without it", "validityPeriod": 7776000}}}}
EOF
PEBBLE_VA_NOSLEEP=1 nohup "$go" tool pebble -config "$dir/pebble.json" -dnsserver "127.0.0.1:$dns_port" >"$dir/pebble.log" 2>&1 &
echo $! > "$dir/pebble.pid"

for _ in $(seq 1 600); do
  if curl -sf --cacert "$dir/pebble-ca.pem" "https://127.0.0.1:$mgmt_port/roots/0" -o "$dir/acme-roots.pem" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
[ -s "$dir/acme-roots.pem" ] || { echo "pebble did not start; see $dir/pebble.log" >&2; stop; exit 1; }

cat > "$dir/topology.yaml" <<EOF
# An edge pool of two in contoso.test; its external certificate comes from
# the lab's ACME CA through dns-01 (RFC 2136 updates into the lab's BIND).
version: 1
organization: {name: Contoso Ltd, unit: IT, locality: Redmond, state: Washington, country: US}
sip_domains: [contoso.test]
simple_urls:
  meet: {contoso.test: https://meet.contoso.test}
  dialin: https://dialin.contoso.test
sites:
  - name: Redmond
    edge_pools:
      - fqdn: lsedge.contoso.net
        servers: [edge01.contoso.net, edge02.contoso.net]
        access: sip.contoso.test
        webconf: webcon.contoso.test
        av: av.contoso.test
acme:
  directory: https://127.0.0.1:$acme_port/dir
  contact: [mailto:pki@contoso.test]
  accept_tos: true
  profile: classic
  directory_ca: pebble-ca.pem
  trusted_roots: acme-roots.pem
  resolvers: [127.0.0.1:$dns_port]
  challenges:
    - domains: [contoso.test]
      dns01:
        rfc2136: {server: 127.0.0.1:$dns_port, zone: contoso.test., tsig_key: acme-update, tsig_secret_file: tsig.key}
EOF
echo "ACME lab ready: pebble https://127.0.0.1:$acme_port/dir, BIND 127.0.0.1:$dns_port; topology $dir/topology.yaml"
