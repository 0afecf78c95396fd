// Package vaulttest runs the real processes the end-to-end tests need, on
// loopback only: a Vault dev server, a 3-node Vault cluster on integrated
// storage (which scripts/cluster.sh forms, restarts and stops; see
// StartCluster), the vault CLI and Go API client against either, the fake
// vendor command over TLS with a client for its admin API, Vault Agent, and
// Ory Hydra, a real OAuth2 server, with a client for its admin API
// (StartHydra).
//
// Every process it starts itself is in its own process group, with its
// output in a log file, and is stopped by its process id in t.Cleanup:
// first gently (SIGTERM), then, after a bounded wait, with SIGKILL sent to
// its group so that no plugin it started outlives the test. A cluster's
// nodes are the script's, stopped by `scripts/cluster.sh stop` in the same
// way. If the test failed, the end of each log is printed. Every wait is
// bounded.
//
// The plugin is registered, mounted and configured by the configure package
// (bootstrap/configure: RegisterPlugin, MountPalo, WriteSetup), the code
// that palo-configure runs for operators, the scripts and the cluster, and
// each provider's config and role are the demo's fixtures (internal/demo:
// VendorSetups).
//
// The binaries under test come from the environment that `make e2e` sets
// (see LoadBinaries and LoadHydra).
package vaulttest
