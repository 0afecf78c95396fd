// Package results holds what `make bench` measures and turns it into
// BENCHMARKS.md. The measuring is done by the end-to-end benchmark in
// bench/vaultbench (against a real Vault), by `go test -bench` of the hot
// paths, and by the load test in e2e/; bench/report renders the lot.
package results

// Results is everything the end-to-end benchmark measured in one run.
type Results struct {
	// VaultVersion is what the server reports, such as "1.21.0".
	VaultVersion string `json:"vault_version"`
	// Command is the command line that produced these results.
	Command string `json:"command"`
	// Rounds is how many times each hit-path run was repeated, interleaved
	// with the others; the samples of all rounds are merged.
	Rounds int `json:"rounds"`
	// RunSeconds is the measured length of one run in one round.
	RunSeconds float64 `json:"run_seconds"`

	// HitPath are cache-hit reads of the engine ("palo"), the minimal
	// plugin's leased read ("const") and a KV-v1 read ("kv") on a dev
	// Vault, at several concurrencies.
	HitPath []Run `json:"hit_path"`
	// VendorCalls is the sustained-read run at several concurrencies with
	// a short token lifetime.
	VendorCalls []VendorCalls `json:"vendor_calls"`
	// Cold is the cache-miss read against the bare vendor exchange.
	Cold Cold `json:"cold"`
	// Memory is the plugin process's memory with many cached tokens.
	Memory Memory `json:"memory"`
	// Raft are reads on a single-node integrated-storage Vault: the engine
	// with and without a lease ("palo", "palo-unleased") and the minimal
	// plugin ("const", "const-unleased").
	Raft []Run `json:"raft"`
	// Profile is a CPU profile of the plugin process during cache-hit
	// reads, if one was taken.
	Profile *Profile `json:"profile,omitempty"`
}

// Run is the summary of reads of one path by a number of concurrent
// clients, each reading back to back over a keep-alive connection.
type Run struct {
	Target     string  `json:"target"`
	Path       string  `json:"path"`
	Clients    int     `json:"clients"`
	Reads      int     `json:"reads"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	MeanMicros float64 `json:"mean_us"`
	PerSecond  float64 `json:"reads_per_second"`
	// VendorCalls is the number of token requests the fake vendor saw
	// during the run (engine targets only).
	VendorCalls int64 `json:"vendor_calls,omitempty"`
}

// VendorCalls is one sustained run of readers of one role whose token
// lifetime is short enough that the run spans several tokens.
type VendorCalls struct {
	Clients int     `json:"clients"`
	Reads   int     `json:"reads"`
	Errors  int     `json:"errors"`
	Seconds float64 `json:"seconds"`
	// LifetimeSeconds is the token lifetime the fake vendor grants.
	LifetimeSeconds float64 `json:"lifetime_seconds"`
	// WindowSeconds is how long one token may be handed out: its lifetime
	// less the least remaining life a reader accepts (min_ttl, by default
	// half the lifetime, and never under the lease margin plus 1 s).
	WindowSeconds float64 `json:"window_seconds"`
	// RefreshEverySeconds is how often the background refresh replaces a
	// token that is being read: the window less the refresh lead.
	RefreshEverySeconds float64 `json:"refresh_every_seconds"`
	// Calls is the number of token requests the fake vendor answered for
	// this role's account during the run, the first (cold) one included.
	Calls int64 `json:"calls"`
	// PeakInFlight is the most token requests of this run's account the
	// fake vendor was answering at once.
	PeakInFlight int64 `json:"peak_in_flight"`
	// DistinctTokens is the number of different tokens the readers got.
	DistinctTokens int `json:"distinct_tokens"`
}

// Cold compares cache-miss reads with the bare vendor exchange, sampled
// alternately, one at a time.
type Cold struct {
	Samples int `json:"samples"`
	// MissP50Micros and MissMeanMicros: a creds read right after
	// cache/purge, through Vault.
	MissP50Micros  float64 `json:"miss_p50_us"`
	MissMeanMicros float64 `json:"miss_mean_us"`
	// HitP50Micros and HitMeanMicros: a creds read of the cached token,
	// sampled the same way.
	HitP50Micros  float64 `json:"hit_p50_us"`
	HitMeanMicros float64 `json:"hit_mean_us"`
	// BareP50Micros and BareMeanMicros: provider.Client.Fetch against the
	// same fake vendor from the benchmark process, with a kept-alive
	// connection like the plugin's.
	BareP50Micros  float64 `json:"bare_p50_us"`
	BareMeanMicros float64 `json:"bare_mean_us"`
	// VendorDelayMillis is the delay the fake vendor added to each token
	// response in a second set of samples, to model a vendor across a
	// network; 0 if that set was not taken.
	VendorDelayMillis float64 `json:"vendor_delay_ms"`
	// Delayed is that second set.
	Delayed *Cold `json:"delayed,omitempty"`
}

// Memory is the plugin process's resident memory (VmRSS) at three points.
type Memory struct {
	Roles int `json:"roles"`
	// CachedEntries is what the cache endpoint listed at the end.
	CachedEntries int `json:"cached_entries"`
	// BaselineKiB: one role, one cached token.
	BaselineKiB int64 `json:"baseline_kib"`
	// RolesKiB: after writing Roles roles (each read once from storage, so
	// the engine holds them parsed), before reading their tokens.
	RolesKiB int64 `json:"roles_kib"`
	// TokensKiB: after one creds read of every role, each with its own
	// token.
	TokensKiB int64 `json:"tokens_kib"`
	// TokenBytes is the length of one fake vendor token.
	TokenBytes int `json:"token_bytes"`
	// The live heap (HeapAlloc right after a forced GC) at the same three
	// points, of a second plugin process given the same roles and reads:
	// bench/profplugin, the same engine with net/http/pprof, which can
	// report it. 0 when not measured.
	HeapBaselineBytes int64 `json:"heap_baseline_bytes"`
	HeapRolesBytes    int64 `json:"heap_roles_bytes"`
	HeapTokensBytes   int64 `json:"heap_tokens_bytes"`
}

// Profile is the top of two CPU profiles taken at the same time: of the
// plugin process and of the Vault server.
type Profile struct {
	// What says what was profiled, for how long, under which load.
	What string `json:"what"`
	// Plugin and Vault are the output of `go tool pprof -top -cum`,
	// trimmed; PluginCreds is the plugin's profile focused on the creds
	// handler (-focus=pathCredsRead), percentages still of the whole.
	Plugin      []string `json:"plugin"`
	PluginCreds []string `json:"plugin_creds"`
	Vault       []string `json:"vault"`
	// CredsCalls is the same focus showing only the creds handler and the
	// SystemView calls (-show), whatever their rank: what the explanation
	// of a slow creds read is computed from.
	CredsCalls []string `json:"creds_calls"`
}
