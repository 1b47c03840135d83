// Package bench measures certificate issuance through the CA's real HTTPS
// API, the way operators size a CA: it creates a CA with a fresh on-disk
// database, starts `edgecert ca serve` as a child process, pre-generates the
// requests, drives the API with keep-alive clients, verifies every
// certificate it gets back, and reports certificates per second, latency
// percentiles, errors and the server's CPU time, next to the raw signing rate
// of the same key measured in the same run.
package bench
