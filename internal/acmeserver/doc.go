// Package acmeserver is the CA's RFC 8555 server, served by `ca serve` under
// /acme/<template>/. It verifies JWS requests (RFC 8555 §6.2-6.4:
// flattened serialization, RS256, ES256, ES384 and EdDSA, the jwk/kid
// rules, the url and nonce headers, a bounded body), issues and checks
// single-use nonces that several processes sharing a secret accept,
// verifies External Account Bindings (§7.3.4) and key rollovers (§7.3.5),
// writes problem documents (RFC 7807) with the RFC's error types, and
// serves the directory, newNonce, accounts, orders, authorizations,
// challenges it validates itself (http-01, tls-alpn-01, dns-01),
// finalize, certificate download, revocation and renewal information
// (RFC 9773).
//
// Accounts, orders, authorizations and challenges are records of the CA
// database (package db); the CA itself (policy, permission, issuance,
// revocation) is reached through the CA interface, which internal/enroll
// implements over the engine. Its only state of its own is the nonces'
// replay cache. The clock and randomness are passed in.
package acmeserver
