// Package acmeserver is the CA's RFC 8555 server: the protocol core on which
// the ACME endpoints of `ca serve` stand. It verifies JWS requests (RFC 8555
// §6.2-6.4: flattened serialization, RS256, ES256, ES384 and EdDSA, the
// jwk/kid rules, the url and nonce headers, a bounded body), issues and
// checks single-use nonces that several processes sharing a secret accept,
// verifies External Account Bindings (§7.3.4) and key rollovers (§7.3.5),
// writes problem documents (RFC 7807) with the RFC's error types, and
// serves the directory and newNonce of each template.
//
// It keeps no state of its own beyond the nonces' replay cache: accounts and
// External Account Binding keys are looked up through interfaces that the
// CA's database and user store implement. The clock and randomness are
// passed in.
package acmeserver
