package results

import (
	"fmt"
	"strings"
)

// The targets of the scale benchmark, from a mount of ScaleTargetConfigs
// configs with one role and one cached token each.
const (
	// ScaleTargetConfigs is the number of configs the targets are set at;
	// the metrics targets grow in proportion for a run with another count.
	ScaleTargetConfigs = 2000
	// ScaleHitTarget: a cache-hit read spread over every role costs at
	// most this many times a read of one role (p50), at every concurrency.
	ScaleHitTarget = 1.25
	// ScaleBytesPerConfigTarget: the plugin's resident memory above the
	// empty mount, per config.
	ScaleBytesPerConfigTarget = 12_000
	// MetricsBytesTarget and MetricsMillisTarget: one GET of the metrics
	// at ScaleTargetConfigs configs.
	MetricsBytesTarget  = 1_500_000
	MetricsMillisTarget = 500
)

// scaleHitWorst is the largest ratio of the p50 of cache-hit reads spread
// over every role to that of reads of one role, and where.
func scaleHitWorst(s *Scale) (worst float64, where string) {
	for one, spread := range pairs(s.Hit, "one", "spread") {
		if v := div(spread.P50Micros, one.P50Micros); v > worst {
			worst, where = v, fmt.Sprintf("%d client%s", one.Clients, plural(one.Clients))
		}
	}
	return worst, where
}

// last is the checkpoint at all the configs.
func (s *Scale) last() ScaleCheckpoint {
	if len(s.Checkpoints) == 0 {
		return ScaleCheckpoint{}
	}
	return s.Checkpoints[len(s.Checkpoints)-1]
}

// rssPerConfig is the plugin's RSS above the empty mount, per config, in
// bytes.
func (s *Scale) rssPerConfig() float64 {
	return div(float64(s.last().RSSKiB-s.EmptyRSSKiB)*1024, float64(s.Configs))
}

// metricsTargets are the size and time targets of one metrics read, in
// proportion to the configs.
func (s *Scale) metricsTargets() (bytes, millis float64) {
	f := float64(s.Configs) / ScaleTargetConfigs
	return MetricsBytesTarget * f, MetricsMillisTarget * f
}

func (s *Scale) metricsOK() bool {
	b, ms := s.metricsTargets()
	m := s.last()
	return m.MetricsBytes > 0 && float64(m.MetricsBytes) < b && m.Metrics.P50Micros/1000 < ms
}

// window is the periodic window named what.
func (p Periodic) window(what string) (PeriodicWindow, bool) {
	for _, w := range p.Windows {
		if w.What == what {
			return w, true
		}
	}
	return PeriodicWindow{}, false
}

// periodicSteady reports whether the run after the first read no more
// than a hundredth of the configs from storage beyond a quiet window.
func (p Periodic) periodicSteady() (extra int64, ok bool) {
	next, ok1 := p.window(WindowNextRun)
	quiet, ok2 := p.window(WindowQuiet)
	if !ok1 || !ok2 || next.Runs == 0 {
		return 0, false
	}
	extra = next.Gets - quiet.Gets
	return extra, extra*100 < int64(p.StoredConfigs)
}

// scaleSummary adds the scale targets to the targets table.
func (r *renderer) scaleSummary() {
	s := r.in.Scale
	if s == nil {
		for _, t := range []string{
			fmt.Sprintf("cache-hit read at %s configs within %.2f× of one role", thousands(ScaleTargetConfigs), ScaleHitTarget),
			fmt.Sprintf("under %s per config at %s configs", kb(ScaleBytesPerConfigTarget), thousands(ScaleTargetConfigs)),
			fmt.Sprintf("`GET palo/metrics` at %s configs under %s and %g s", thousands(ScaleTargetConfigs), megabytes(MetricsBytesTarget), MetricsMillisTarget/1000.0),
		} {
			r.p("| %s | not measured: the scale benchmark did not run | %s |", t, verdict(false))
		}
		return
	}
	n := thousands(int64(s.Configs))
	worst, where := scaleHitWorst(s)
	r.p("| cache-hit read at %s configs, spread over every role, within %.2f× of reads of one role (p50), at every concurrency | worst %s (%s) | %s |",
		n, ScaleHitTarget, ratio(worst), where, verdict(worst > 0 && worst <= ScaleHitTarget))
	per := s.rssPerConfig()
	r.p("| plugin memory under %s per config (RSS above the empty mount, %s configs, one role and one cached token each) | %s B per config | %s |",
		kb(ScaleBytesPerConfigTarget), n, thousands(int64(per)), verdict(per > 0 && per < ScaleBytesPerConfigTarget))
	b, ms := s.metricsTargets()
	m := s.last()
	r.p("| `GET palo/metrics` at %s configs under %s and %s | %s, %s (median of %d) | %s |",
		n, megabytes(int64(b)), seconds(ms), megabytes(int64(m.MetricsBytes)), us(m.Metrics.P50Micros), m.Metrics.Reads, verdict(s.metricsOK()))
}

func (r *renderer) scale() {
	s := r.in.Scale
	r.p("## Scale")
	r.p("")
	if s == nil {
		r.p("Not run: %s", r.in.ScaleNote)
		r.p("")
		return
	}
	n := thousands(int64(s.Configs))
	r.p("One mount with %s `oauth2` configs and one role each, on a dev Vault %s of its own, so that its plugin process", n, s.VaultVersion)
	r.p("serves this mount alone. Every config logs into the same fake vendor account; each still has its own token in")
	r.p("the cache. %d writers write the configs and roles through the API (each config write verifies the credentials", s.Writers)
	r.p("with a token), then %d readers read every role once (a cache miss and a vendor call each); the first half of", s.ColdReaders)
	r.p("the configs, then the second, with the measurements after each half. Comparing the two halves is what says what")
	r.p("grows with the number of configs: a ratio near 2 grows in proportion, near 1 does not grow. From `%s`,", s.Command)
	if s.Seconds > 0 {
		r.p("which took %.1f minutes.", s.Seconds/60)
	} else {
		r.p("run once.")
	}
	r.p("")
	if len(s.Checkpoints) != 2 {
		r.p("The run has %d checkpoints, not two: no comparison.", len(s.Checkpoints))
		r.p("")
		return
	}
	a, z := s.Checkpoints[0], s.Checkpoints[1]
	na, nz := thousands(int64(a.Configs)), thousands(int64(z.Configs))
	r.p("### What grows with the configs")
	r.p("")
	r.p("| | at %s configs | at %s | ratio | per config at %s |", na, nz, nz)
	r.p("|---|---:|---:|---:|---:|")
	rssA, rssZ := (a.RSSKiB-s.EmptyRSSKiB)*1024, (z.RSSKiB-s.EmptyRSSKiB)*1024
	r.p("| plugin RSS above the empty mount (%s empty) | %s | %s | %s | %s B |", mib(s.EmptyRSSKiB*1024), mib(rssA), mib(rssZ),
		ratio(div(float64(rssZ), float64(rssA))), thousands(int64(s.rssPerConfig())))
	r.p("| `GET palo/metrics`: size | %s | %s | %s | %s B |", megabytes(int64(a.MetricsBytes)), megabytes(int64(z.MetricsBytes)),
		ratio(div(float64(z.MetricsBytes), float64(a.MetricsBytes))), thousands(int64(div(float64(z.MetricsBytes), float64(z.Configs)))))
	r.p("| `GET palo/metrics`: samples | %s | %s | %s | %.1f |", thousands(int64(a.MetricsSeries)), thousands(int64(z.MetricsSeries)),
		ratio(div(float64(z.MetricsSeries), float64(a.MetricsSeries))), div(float64(z.MetricsSeries), float64(z.Configs)))
	r.p("| `GET palo/metrics`: time, median of %d (fastest, slowest) | %s | %s | %s | %s |", z.Metrics.Reads, timed(a.Metrics), timed(z.Metrics),
		ratio(div(z.Metrics.P50Micros, a.Metrics.P50Micros)), us(div(z.Metrics.P50Micros, float64(z.Configs))))
	r.p("| `GET palo/cache`: size (%s tokens listed at the end) | %s | %s | %s | %s B |", thousands(int64(z.CachedEntries)), megabytes(int64(a.CacheBytes)),
		megabytes(int64(z.CacheBytes)), ratio(div(float64(z.CacheBytes), float64(a.CacheBytes))), thousands(int64(div(float64(z.CacheBytes), float64(z.Configs)))))
	r.p("| `GET palo/cache`: time, median of %d (fastest, slowest) | %s | %s | %s | %s |", z.Cache.Reads, timed(a.Cache), timed(z.Cache),
		ratio(div(z.Cache.P50Micros, a.Cache.P50Micros)), us(div(z.Cache.P50Micros, float64(z.Configs))))
	r.p("")
	per := s.rssPerConfig()
	r.p("Memory: %s B per config above the empty mount, target under %s: %s. Between the two halves RSS grew by %s B",
		thousands(int64(per)), kb(ScaleBytesPerConfigTarget), verdict(per > 0 && per < ScaleBytesPerConfigTarget),
		thousands(int64(div(float64(rssZ-rssA), float64(z.Configs-a.Configs)))))
	r.p("per config. RSS includes garbage not yet collected or returned, so it bounds the memory from above; after the")
	r.p("cache-hit reads below it was %s above the empty mount.", mib((s.AfterHitsRSSKiB-s.EmptyRSSKiB)*1024))
	if h := s.Heap; h.ConfigsBytes > 0 {
		live := div(float64(h.ConfigsBytes-h.EmptyBytes), float64(s.Configs))
		r.p("The live heap (HeapAlloc right after a forced GC) of a second plugin process given the same configs, roles and")
		r.p("reads on a mount of its own (bench/profplugin, the same engine with `net/http/pprof`) went from %s empty to %s:", mib(h.EmptyBytes), mib(h.ConfigsBytes))
		r.p("**%s B per config**; RSS per config is %s that. The difference is the Go runtime's: it lets the heap grow", thousands(int64(live)), ratio(div(per, live)))
		r.p("to twice the live heap before it collects (GOGC=100), and returns freed pages to the system lazily.")
		if len(h.Top) > 0 {
			r.p("Where the live heap is at %s configs (`go tool pprof -top -sample_index=inuse_space`, an allocation sampled", nz)
			r.p("every %s bytes on average):", thousands(int64(h.MemProfileRate)))
			r.p("")
			r.code(h.Top)
		}
	}
	b, ms := s.metricsTargets()
	r.p("Metrics: %s and %s at %s configs, target under %s and %s: %s.", megabytes(int64(z.MetricsBytes)), us(z.Metrics.P50Micros), nz, megabytes(int64(b)), seconds(ms), verdict(s.metricsOK()))
	if g, ok := Find(r.in.GoBench, "/backend", "BenchmarkMetricsScrapeAtScale"); ok {
		r.p("In process, without Vault and the gRPC hop (`MetricsScrapeAtScale`, the same number of configs from `%s`): the", "PALO_SCALE_CONFIGS")
		r.p("fastest scrape took %.1f ms, %s B and %.1f samples per config.", g.Metrics["ms-fastest"], thousands(int64(g.Metrics["bytes/config"])), g.Metrics["series/config"])
	}
	r.p("")

	r.p("### What should not grow")
	r.p("")
	r.p("| | at %s configs | at %s | ratio |", na, nz)
	r.p("|---|---:|---:|---:|")
	r.p("| configs and roles written per second (%d writers) | %s | %s | %s |", s.Writers, rate(a.Configs, a.WriteSeconds), rate(z.Configs-a.Configs, z.WriteSeconds),
		ratio(div(float64(z.Configs-a.Configs)/z.WriteSeconds, float64(a.Configs)/a.WriteSeconds)))
	r.p("| one config write, p50 | %s | %s | %s |", us(a.ConfigWriteP50Micros), us(z.ConfigWriteP50Micros), ratio(div(z.ConfigWriteP50Micros, a.ConfigWriteP50Micros)))
	r.p("| one role write, p50 | %s | %s | %s |", us(a.RoleWriteP50Micros), us(z.RoleWriteP50Micros), ratio(div(z.RoleWriteP50Micros, a.RoleWriteP50Micros)))
	r.p("| first reads per second (%d readers) | %s | %s | %s |", s.ColdReaders, rate(a.Cold.Reads, a.Cold.Seconds), rate(z.Cold.Reads, z.Cold.Seconds),
		ratio(div(float64(z.Cold.Reads)/z.Cold.Seconds, float64(a.Cold.Reads)/a.Cold.Seconds)))
	r.p("| one first read, p50 | %s | %s | %s |", us(a.Cold.P50Micros), us(z.Cold.P50Micros), ratio(div(z.Cold.P50Micros, a.Cold.P50Micros)))
	r.p("| one first read, p99 | %s | %s | %s |", us(a.Cold.P99Micros), us(z.Cold.P99Micros), ratio(div(z.Cold.P99Micros, a.Cold.P99Micros)))
	r.p("| connections the plugin opened to the vendor during the writes | %d | %d | %s |", a.VendorConnsWriting, z.VendorConnsWriting,
		ratio(div(float64(z.VendorConnsWriting), float64(a.VendorConnsWriting))))
	r.p("| the same during the first reads | %d | %d | %s |", a.VendorConnsReading, z.VendorConnsReading,
		ratio(div(float64(z.VendorConnsReading), float64(a.VendorConnsReading))))
	r.p("")
	r.p("Writing all %s configs and roles took %.1f s (%s); reading every role once %.1f s (%s).",
		nz, a.WriteSeconds+z.WriteSeconds, rate(z.Configs, a.WriteSeconds+z.WriteSeconds), a.Cold.Seconds+z.Cold.Seconds, rate(a.Cold.Reads+z.Cold.Reads, a.Cold.Seconds+z.Cold.Seconds))
	r.p("Configs of one CA bundle and proxy share one HTTP client, which keeps a few idle connections per vendor host")
	r.p("(GOMAXPROCS + 1); the connections are counted from `/proc/<pid>/fd` and `/proc/<pid>/net/tcp` of the plugin,")
	r.p("ten times a second, so one opened and closed between two looks is missed.")
	if max(a.VendorConnsReading, z.VendorConnsReading) > s.ColdReaders {
		r.p("During the first reads %d readers fetch at once, more than the idle connections kept, so the connections", s.ColdReaders)
		r.p("beyond those are closed and opened again: %d and %d in the two halves.", a.VendorConnsReading, z.VendorConnsReading)
	}
	if a.VendorConnsWriting > 2*max(z.VendorConnsWriting, 1) {
		r.p("**The writes on the empty mount opened %d connections, those of the second half %d.** While no config is", a.VendorConnsWriting, z.VendorConnsWriting)
		r.p("loaded, nothing but the write in flight holds the shared client (`provider.Transports` holds it weakly), so")
		r.p("between writes the garbage collector lets it go and the next write builds a new one: its own copy of the")
		r.p("system roots and the CA, and its own TLS connections, which close only after 90 s idle. Once configs are")
		r.p("loaded (the second half), the writes share their client. This inflates the memory and the handshakes of")
		r.p("bulk writes on a new mount, or after a reload, for a minute and a half; it does not last. The memory figures")
		r.p("above include it (in the heap profile: `crypto/x509.(*CertPool).Clone` and the connections' `bufio` buffers).")
	}
	r.p("")
	r.p("Cache hits at %s configs: reads spread over every role (each client reads them in turn) against reads of one", nz)
	r.p("role, interleaved (%d round%s of %gs each, order rotated every round); the fake vendor saw %d token requests", s.Rounds, plural(s.Rounds), s.RunSeconds, s.HitVendorCalls)
	r.p("during them.")
	r.p("")
	r.p("| clients | one role: p50 | p99 | reads/s | every role: p50 | p99 | reads/s | p50 ratio |")
	r.p("|---:|---:|---:|---:|---:|---:|---:|---:|")
	for one, spread := range pairs(s.Hit, "one", "spread") {
		r.p("| %d | %s | %s | %s | %s | %s | %s | %s |", one.Clients, us(one.P50Micros), us(one.P99Micros), thousands(int64(one.PerSecond)),
			us(spread.P50Micros), us(spread.P99Micros), thousands(int64(spread.PerSecond)), ratio(div(spread.P50Micros, one.P50Micros)))
	}
	worst, where := scaleHitWorst(s)
	r.p("")
	r.p("Worst p50 ratio %s (%s), target within %.2f×: %s.", ratio(worst), where, ScaleHitTarget, verdict(worst > 0 && worst <= ScaleHitTarget))
	r.p("")
	p := s.Periodic
	r.p("Plugin reloads (`sys/plugins/reload/backend`, as `vault plugin reload` does), each followed by reads of one")
	r.p("role until one succeeds (a cache miss: the tokens live in memory):")
	r.p("")
	r.p("| configs | reload request | until a read succeeded | reads |")
	r.p("|---:|---:|---:|---:|")
	for _, x := range s.Reloads {
		r.p("| %s | %s | %s | %d |", nz, millis(x.CallMillis), millis(x.UntilReadMillis), x.Attempts)
	}
	r.p("| %s (before the periodic check below) | %s | %s | %d |", thousands(int64(p.StoredConfigs)), millis(p.Reload.CallMillis), millis(p.Reload.UntilReadMillis), p.Reload.Attempts)
	r.p("")
	r.p("A new plugin process reads no config when it starts (the mount's initialize has nothing to migrate), so a")
	r.p("reload should not grow with the configs; the first periodic run after it does (below). Reloads at one count")
	r.p("only, on a shared machine, cannot show the growth either way.")
	r.p("")
	r.periodic(p)
}

// periodic renders the periodic rotation check.
func (r *renderer) periodic(p Periodic) {
	r.p("### The periodic rotation check")
	r.p("")
	r.p("Vault runs each mount's periodic function about once a minute on the active node. To know which configs to")
	r.p("rotate, the engine keeps when each config is next due in memory; the first run after the mount starts fills")
	r.p("it by reading every config, and later runs read only the configs that are due, that changed, or whose rotation")
	r.p("is pending or failing. Measured here: %s of the configs (paloalto_scm, `rotation_period=2h`, none due during", thousands(int64(p.RotatingConfigs)))
	r.p("the run) were added, %s in all, and the plugin was reloaded 20 s after a run; then Vault's in-memory metrics", thousands(int64(p.StoredConfigs)))
	r.p("(`sys/metrics`, with `add_mount_point_rollback_metrics` so that the mount's own run time is reported) and the")
	r.p("CPU time of both processes (`/proc/<pid>/stat`) were followed over the next two runs. Each window is two of")
	r.p("Vault's 10-second metric intervals: the interval that holds the end of a run and the one before.")
	r.p("")
	r.p("| window | runs | run time | storage reads | storage lists | plugin CPU | Vault CPU |")
	r.p("|---|---:|---:|---:|---:|---:|---:|")
	for _, w := range p.Windows {
		run := "–"
		if w.Runs > 0 {
			run = millis(w.RunMillis)
		}
		r.p("| %s (%g s) | %d | %s | %s | %s | %s | %s |", w.What, w.Seconds, w.Runs, run, thousands(w.Gets), thousands(w.Lists),
			millis(w.PluginCPUMillis), millis(w.VaultCPUMillis))
	}
	r.p("")
	first, ok1 := p.window(WindowFirstRun)
	quiet, ok2 := p.window(WindowQuiet)
	if ok1 && ok2 {
		r.p("The first run grows with the configs: %s storage reads above the quiet window for %s configs (%.2f per config:",
			thousands(first.Gets-quiet.Gets), thousands(int64(p.StoredConfigs)), div(float64(first.Gets-quiet.Gets), float64(p.StoredConfigs)))
		r.p("each config, and the rotation record of each rotating one), %s of run time. It happens once per start of", millis(first.RunMillis))
		r.p("the mount (a reload, an unseal, a failover) and, for a config, once after each write to it.")
	}
	if extra, ok := p.periodicSteady(); ok {
		r.p("The next run does not grow: %s storage reads above the quiet window, fewer than one per hundred configs.", thousands(extra))
	} else {
		r.p("**The next run read %s more from storage than the quiet window**: more than one per hundred configs, so the", thousands(extra))
		r.p("check still scans configs that are not due.")
	}
	r.p("")
	r.p("Not measured: a run with configs due (each is a rotation, with its vendor calls); the walk over the in-memory")
	r.p("index on its own (it is inside the run time, with the gRPC round trips of the storage calls); performance")
	r.p("standbys, which skip the check. The storage counts are Vault's for every mount (the other mounts' own periodic")
	r.p("runs fall in the same windows, which the quiet window does not hold). The storage is the dev server's memory,")
	r.p("so a read costs less than on integrated storage. CPU time is counted in 10 ms ticks, sampled four times a second.")
	r.p("")
}

// timed is "p50 (fastest, slowest)".
func timed(t Timed) string {
	return fmt.Sprintf("%s (%s, %s)", us(t.P50Micros), us(t.MinMicros), us(t.MaxMicros))
}

// rate is n per seconds, as "1,234/s".
func rate(n int, seconds float64) string {
	return thousands(int64(div(float64(n), seconds))) + "/s"
}

// millis formats milliseconds: "2.5 ms", "12 ms", "1.23 s" from a second
// up.
func millis(ms float64) string {
	switch {
	case ms >= 1000:
		return seconds(ms)
	case ms < 10:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// seconds formats milliseconds as seconds: "0.5 s".
func seconds(ms float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", ms/1000), "0"), ".") + " s"
}

// megabytes formats a size in decimal megabytes: "1.5 MB".
func megabytes(b int64) string { return fmt.Sprintf("%.2f MB", float64(b)/1e6) }

// kb formats a size in decimal kilobytes: "12 KB".
func kb(b int64) string { return fmt.Sprintf("%s KB", thousands(b/1000)) }
