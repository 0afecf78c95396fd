package results

// Scale is what the scale benchmark (TestScale in bench/vaultbench)
// measured: one mount of a dev Vault with Configs oauth2 configs, one role
// and one cached token each, served by a plugin process of its own.
type Scale struct {
	VaultVersion string `json:"vault_version"`
	// Command is the command line that produced these results, and
	// Seconds the time it took.
	Command string  `json:"command"`
	Seconds float64 `json:"seconds"`
	// Configs is the number of oauth2 configs, each with one role.
	Configs int `json:"configs"`
	// Writers wrote configs and roles at once; ColdReaders read every role
	// once at once.
	Writers     int `json:"writers"`
	ColdReaders int `json:"cold_readers"`
	// Checkpoints are taken after writing and reading the first half of
	// the configs, and then the second.
	Checkpoints []ScaleCheckpoint `json:"checkpoints"`
	// Rounds and RunSeconds are those of the cache-hit comparison.
	Rounds     int     `json:"rounds"`
	RunSeconds float64 `json:"run_seconds"`
	// Hit are cache-hit reads of one role ("one") and spread over every
	// role ("spread"), interleaved, at Configs configs.
	Hit []Run `json:"hit"`
	// HitVendorCalls is the number of token requests the fake vendor saw
	// during the cache-hit reads.
	HitVendorCalls int64 `json:"hit_vendor_calls"`
	// EmptyRSSKiB is the plugin process's VmRSS with the mount empty;
	// AfterHitsRSSKiB after the cache-hit reads.
	EmptyRSSKiB     int64 `json:"empty_rss_kib"`
	AfterHitsRSSKiB int64 `json:"after_hits_rss_kib"`
	// AfterHitsVendorConns is the connections the plugin had open to the
	// fake vendor after the cache-hit reads, which make no vendor call.
	AfterHitsVendorConns int `json:"after_hits_vendor_conns"`
	// Reloads are plugin reloads at Configs configs, one after the other.
	Reloads []Reload `json:"reloads"`
	// Periodic is the periodic rotation check after a second reload.
	Periodic Periodic `json:"periodic"`
	// Heap is the live heap of a second plugin process given the same
	// configs, roles and reads.
	Heap ScaleHeap `json:"heap"`
}

// ScaleHeap is the live heap (HeapAlloc right after a forced GC) of
// bench/profplugin, the same engine with net/http/pprof, on a mount of its
// own, empty and then with Scale.Configs configs, roles and cached tokens.
type ScaleHeap struct {
	EmptyBytes   int64 `json:"empty_bytes"`
	ConfigsBytes int64 `json:"configs_bytes"`
	// Top is `go tool pprof -top -sample_index=inuse_space` of its heap
	// profile at the end (an allocation sampled every MemProfileRate
	// bytes), without the header lines.
	MemProfileRate int      `json:"mem_profile_rate"`
	Top            []string `json:"top"`
}

// ScaleCheckpoint is the mount after the configs up to Configs were
// written and their roles read once.
type ScaleCheckpoint struct {
	Configs int `json:"configs"`
	// WriteSeconds is the time to write the configs and roles since the
	// previous checkpoint; ConfigWriteP50Micros and RoleWriteP50Micros
	// the median time of one write of each.
	WriteSeconds         float64 `json:"write_seconds"`
	ConfigWriteP50Micros float64 `json:"config_write_p50_us"`
	RoleWriteP50Micros   float64 `json:"role_write_p50_us"`
	// Cold is the first read of each role written since the previous
	// checkpoint.
	Cold ScaleCold `json:"cold"`
	// RSSKiB is the plugin process's VmRSS.
	RSSKiB int64 `json:"rss_kib"`
	// VendorConnsWriting and VendorConnsReading are the TCP connections
	// to the fake vendor the plugin process opened during the writes and
	// during the reads (seen open at least once, looking ten times a
	// second).
	VendorConnsWriting int `json:"vendor_conns_writing"`
	VendorConnsReading int `json:"vendor_conns_reading"`
	// Metrics is GET <mount>/metrics: its times, the size of its body and
	// its number of samples.
	Metrics       Timed `json:"metrics"`
	MetricsBytes  int   `json:"metrics_bytes"`
	MetricsSeries int   `json:"metrics_series"`
	// Cache is GET <mount>/cache, and the tokens it listed.
	Cache         Timed `json:"cache"`
	CacheBytes    int   `json:"cache_bytes"`
	CachedEntries int   `json:"cached_entries"`
}

// ScaleCold is the first read of many roles, each a cache miss and one
// vendor call.
type ScaleCold struct {
	Readers   int     `json:"readers"`
	Reads     int     `json:"reads"`
	Seconds   float64 `json:"seconds"`
	P50Micros float64 `json:"p50_us"`
	P99Micros float64 `json:"p99_us"`
}

// Timed are the times of the same read repeated one after the other.
type Timed struct {
	Reads     int     `json:"reads"`
	P50Micros float64 `json:"p50_us"`
	MinMicros float64 `json:"min_us"`
	MaxMicros float64 `json:"max_us"`
}

// Reload is one plugin reload (sys/plugins/reload/backend) followed by
// reads of one role until one succeeds.
type Reload struct {
	// CallMillis is the time of the reload request; UntilReadMillis the
	// time from its start to the end of the first successful read (a
	// cache miss: the token cache lives in memory).
	CallMillis      float64 `json:"call_ms"`
	UntilReadMillis float64 `json:"until_read_ms"`
	// Attempts is the number of reads, the successful one included.
	Attempts int `json:"attempts"`
}

// Periodic follows the mount's periodic function over two runs after a
// reload: the first fills the rotation index with a scan of every config,
// the next reads only the configs that are due.
type Periodic struct {
	// RotatingConfigs is the number of paloalto_scm configs with a
	// rotation_period (none due) written before the reload; StoredConfigs
	// the number of configs in all.
	RotatingConfigs int `json:"rotating_configs"`
	StoredConfigs   int `json:"stored_configs"`
	// Reload is the reload that emptied the index.
	Reload  Reload           `json:"reload"`
	Windows []PeriodicWindow `json:"windows"`
}

// What the windows of Periodic are.
const (
	WindowFirstRun = "first run after the reload"
	WindowQuiet    = "between the runs"
	WindowNextRun  = "next run, a minute later"
)

// PeriodicWindow is what Vault's in-memory metrics (two of its 10-second
// intervals) and the processes' CPU time show over one window.
type PeriodicWindow struct {
	What    string  `json:"what"`
	Seconds float64 `json:"seconds"`
	// Runs is the number of runs of the mount's periodic function
	// (vault.route.rollback.<mount>-) and RunMillis their total time.
	Runs      int64   `json:"runs"`
	RunMillis float64 `json:"run_ms"`
	// Gets and Lists are Vault's storage reads and lists of every mount
	// (vault.barrier.get and .list).
	Gets  int64 `json:"gets"`
	Lists int64 `json:"lists"`
	// PluginCPUMillis and VaultCPUMillis are the CPU time (user and
	// system) of the plugin and Vault processes.
	PluginCPUMillis float64 `json:"plugin_cpu_ms"`
	VaultCPUMillis  float64 `json:"vault_cpu_ms"`
}
