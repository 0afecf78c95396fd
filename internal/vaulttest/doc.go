// Package vaulttest runs the real processes the end-to-end tests need, on
// loopback only: a Vault server (dev mode today; the Server type is the unit
// a cluster of integrated-storage nodes would be built from), the vault CLI
// and Go API client against it, the fake vendor command over TLS with a
// client for its admin API, and Vault Agent.
//
// Every process is started in its own process group, with its output in a
// log file, and is stopped by its process id in t.Cleanup: first gently
// (SIGTERM), then, after a bounded wait, with SIGKILL sent to its group so
// that no plugin it started outlives the test. If the test failed, the end
// of each log is printed. Every wait is bounded.
//
// The binaries under test come from the environment that `make e2e` sets
// (see LoadBinaries).
package vaulttest
