//go:build e2e

package vaultbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/vault-palo/vault-plugin-secrets-palo/bench/results"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// Environment of the scale benchmark.
const (
	// scaleResultsEnv names the JSON file (results.Scale) TestScale
	// writes; without it the test is skipped.
	scaleResultsEnv = "BENCH_SCALE_RESULTS"
	// scaleConfigsEnv is the number of configs, one role each; the
	// in-process BenchmarkMetricsScrapeAtScale of backend/ reads it too.
	scaleConfigsEnv = "PALO_SCALE_CONFIGS"
)

// scalePlan is how much the scale benchmark does besides its N configs.
type scalePlan struct {
	configs int
	// writers write configs and roles at once; coldReaders read every
	// role once at once.
	writers, coldReaders int
	// rounds, warmup, run and clients are the cache-hit comparison's.
	rounds      int
	warmup, run time.Duration
	clients     []int
	// repeats is how many times the metrics and the cache view are read
	// at each checkpoint; reloads how many times the plugin is reloaded.
	repeats, reloads int
	// rotating is the number of paloalto_scm configs with a
	// rotation_period written for the periodic check (none comes due).
	rotating int
}

func fullScalePlan(n int) scalePlan {
	return scalePlan{
		configs: n, writers: 8, coldReaders: 8,
		rounds: 5, warmup: 300 * time.Millisecond, run: 2 * time.Second, clients: []int{1, 16},
		repeats: 5, reloads: 3, rotating: max(1, n/10),
	}
}

func quickScalePlan(n int) scalePlan {
	p := fullScalePlan(n)
	p.rounds, p.warmup, p.run, p.repeats = 1, 100*time.Millisecond, 500*time.Millisecond, 2
	return p
}

// Names in the scale mount.
const (
	scaleMount = "palo"
	// rollbackMetricsConfig makes Vault name each mount in its rollback
	// metrics (vault.route.rollback.<mount>-): the time of the mount's
	// periodic function.
	rollbackMetricsConfig = "telemetry {\n  add_mount_point_rollback_metrics = true\n}\n"
	// userHZ is the unit of utime and stime in /proc/<pid>/stat on Linux.
	userHZ = 100
)

func scaleConfig(i int) string    { return fmt.Sprintf("config-%05d", i) }
func scaleRole(i int) string      { return fmt.Sprintf("role-%05d", i) }
func rotatingConfig(i int) string { return fmt.Sprintf("rotating-%05d", i) }

// scaleBench is one run of the scale benchmark: its own fake vendor and
// dev Vault, so that the plugin process serves this mount alone.
type scaleBench struct {
	*bench
	sp     scalePlan
	oauth2 fakevendor.Account
	scm    fakevendor.Account
	// profBin is bench/profplugin, for the live heap.
	profBin string
	// vendorPort is the fake vendor's port on loopback.
	vendorPort int
	api        *api.Client
	// pid is the plugin process serving the mount.
	pid   int
	watch *telemetryWatch
	out   results.Scale
}

// TestScale measures one mount with many oauth2 configs (2,000, or
// PALO_SCALE_CONFIGS), one role and one cached token each, through a real
// dev Vault: the write rate, the first read of every role, cache hits
// spread over every role against one role, the plugin's resident memory,
// the metrics and cache endpoints at half and all of the configs, a plugin
// reload, and the periodic rotation check before and after its index is
// filled.
func TestScale(t *testing.T) {
	file := os.Getenv(scaleResultsEnv)
	if file == "" {
		t.Skipf("set %s=<file> to run the scale benchmark (it takes minutes); `make bench` does", scaleResultsEnv)
	}
	n := 2000
	if v := os.Getenv(scaleConfigsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2 {
			t.Fatalf("%s=%q: want a number of at least 2", scaleConfigsEnv, v)
		}
	}
	s := &scaleBench{sp: fullScalePlan(n)}
	if os.Getenv(quickEnv) != "" {
		s.sp = quickScalePlan(n)
	}
	began := time.Now()
	s.setUp(t)

	runParts(t, []part{
		{"write_and_read", s.writeAndRead},
		{"hits", s.hits},
		{"reload", s.reload},
		{"periodic", s.periodic},
		{"heap", s.heap},
	})
	s.out.Seconds = time.Since(began).Seconds()
	writeResults(t, file, s.out)
}

// setUp starts the fake vendor (the oauth2 demo account for every config,
// the SCM one for the rotating configs) and a dev Vault with per-mount
// rollback metrics, mounts the engine and measures the empty mount.
func (s *scaleBench) setUp(t *testing.T) {
	bins := vaulttest.LoadBinaries(t)
	s.profBin = buildBench(t, "./bench/profplugin", t.TempDir(), "")
	for _, a := range fakevendor.DemoAccounts() {
		switch a.Provider {
		case fakevendor.ProviderOAuth2:
			s.oauth2 = a
		case fakevendor.ProviderSCM:
			s.scm = a
		}
	}
	vendor := vaulttest.StartFakeVendor(t, bins.FakeVendor, vaulttest.FakeVendorOptions{Accounts: []fakevendor.Account{s.oauth2, s.scm}})
	u, err := url.Parse(vendor.URL)
	if err != nil {
		t.Fatal(err)
	}
	if s.vendorPort, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatalf("the fake vendor's URL %s: %v", vendor.URL, err)
	}
	config := filepath.Join(t.TempDir(), "telemetry.hcl")
	if err := os.WriteFile(config, []byte(rollbackMetricsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	dev := vaulttest.StartDev(t, bins.Vault, vaulttest.DevOptions{LogLevel: "info", Args: []string{"-config=" + config}})
	s.bench = &bench{
		plan:   plan{rounds: s.sp.rounds, warmup: s.sp.warmup, run: s.sp.run},
		bins:   bins,
		vendor: vendor,
		dev:    dev,
		reader: newReader(dev.Addr, dev.RootToken),
	}
	t.Cleanup(s.reader.close)
	s.api = dev.Client(t)
	s.watch = startTelemetryWatch(dev.Addr, dev.RootToken)
	t.Cleanup(s.watch.stop)
	s.out = results.Scale{
		VaultVersion: serverVersion(t, dev),
		Command:      scaleResultsEnv + "=<file> " + scaleConfigsEnv + "=" + strconv.Itoa(s.sp.configs) + " go test -tags e2e -count=1 -timeout 30m -run '^TestScale$' ./bench/vaultbench/",
		Configs:      s.sp.configs,
		Writers:      s.sp.writers,
		ColdReaders:  s.sp.coldReaders,
		Rounds:       s.sp.rounds,
		RunSeconds:   s.sp.run.Seconds(),
	}

	dev.MountPalo(t, bins, scaleMount)
	// Vault starts the plugin process on the mount's first request.
	if _, err := s.api.Logical().List(scaleMount + "/config"); err != nil {
		t.Fatal(err)
	}
	s.pid = dev.WaitPluginPid(t, vaulttest.PluginName, 30*time.Second)
	time.Sleep(time.Second)
	s.out.EmptyRSSKiB = processRSS(t, s.pid)
}

// writeAndRead writes the configs and roles and reads every role once, in
// two halves; after each half it measures the plugin's memory, the
// metrics and the cache view.
func (s *scaleBench) writeAndRead(t *testing.T) {
	n := s.sp.configs
	calls := s.vendorSuccesses(t, s.oauth2)
	conns := startConnWatch(s.pid, s.vendorPort)
	defer conns.stop()
	for _, half := range [][2]int{{0, n / 2}, {n / 2, n}} {
		cp := results.ScaleCheckpoint{Configs: half[1]}
		conns.take(t)
		cp.WriteSeconds, cp.ConfigWriteP50Micros, cp.RoleWriteP50Micros = s.write(t, scaleMount, half[0], half[1])
		cp.VendorConnsWriting = conns.take(t)
		cp.Cold = s.coldReads(t, scaleMount, half[0], half[1])
		cp.VendorConnsReading = conns.take(t)
		time.Sleep(time.Second)
		cp.RSSKiB = processRSS(t, s.pid)
		cp.Metrics, cp.MetricsBytes, cp.MetricsSeries = s.timedReads(t, scaleMount+"/metrics")
		cp.Cache, cp.CacheBytes, _ = s.timedReads(t, scaleMount+"/cache")
		cp.CachedEntries = s.cachedEntries(t)
		if cp.CachedEntries < half[1] {
			t.Errorf("the cache lists %d entries after the roles of %d configs were read", cp.CachedEntries, half[1])
		}
		t.Logf("checkpoint: %+v", cp)
		s.out.Checkpoints = append(s.out.Checkpoints, cp)
	}
	// Each config write verifies the credentials with a token, not
	// cached; each first read is one more.
	if got, want := s.vendorSuccesses(t, s.oauth2)-calls, int64(2*n); got != want {
		t.Errorf("vendor calls for %d config writes and %d first reads: %d, want %d", n, n, got, want)
	}
}

// write writes configs and roles from to to-1 with several writers, and
// returns the time it took and the median time of a config write and of a
// role write.
func (s *scaleBench) write(t *testing.T, mount string, from, to int) (seconds, configP50, roleP50 float64) {
	configs := make([]time.Duration, to-from)
	roles := make([]time.Duration, to-from)
	start := time.Now()
	parallel(t, to-from, s.sp.writers, func(i int) error {
		t0 := time.Now()
		if _, err := s.api.Logical().Write(mount+"/config/"+scaleConfig(from+i), map[string]any{
			"provider": "oauth2", "token_url": s.vendor.TokenURL(fakevendor.ProviderOAuth2), "scope": "read",
			"client_id": s.oauth2.ClientID, "client_secret": s.oauth2.ClientSecret, "ca_cert": string(s.vendor.CAPEM),
		}); err != nil {
			return err
		}
		t1 := time.Now()
		if _, err := s.api.Logical().Write(mount+"/roles/"+scaleRole(from+i), map[string]any{"config": scaleConfig(from + i)}); err != nil {
			return err
		}
		configs[i], roles[i] = t1.Sub(t0), time.Since(t1)
		return nil
	})
	return time.Since(start).Seconds(), micros(median(configs)), micros(median(roles))
}

// coldReads reads roles from to to-1 once each (every read a cache miss)
// with several readers.
func (s *scaleBench) coldReads(t *testing.T, mount string, from, to int) results.ScaleCold {
	lat := make([]time.Duration, to-from)
	start := time.Now()
	parallel(t, to-from, s.sp.coldReaders, func(i int) error {
		t0 := time.Now()
		if _, err := s.reader.readToken(mount + "/creds/" + scaleRole(from+i)); err != nil {
			return err
		}
		lat[i] = time.Since(t0)
		return nil
	})
	elapsed := time.Since(start)
	slices.Sort(lat)
	return results.ScaleCold{
		Readers: s.sp.coldReaders, Reads: len(lat), Seconds: elapsed.Seconds(),
		P50Micros: micros(percentile(lat, 0.5)), P99Micros: micros(percentile(lat, 0.99)),
	}
}

// vendorSockets are the TCP connections a process has open to port on
// loopback (the fake vendor's), by socket inode: the sockets among its file
// descriptors whose row in /proc/<pid>/net/tcp has that remote port.
func vendorSockets(pid, port int) (map[string]bool, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	table, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "net", "tcp"))
	if err != nil {
		return nil, err
	}
	remote := fmt.Sprintf(":%04X", port)
	conns := map[string]bool{}
	for line := range strings.Lines(string(table)) {
		// sl, local_address, rem_address, st, ..., inode (the tenth).
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[2], remote) && inodes[f[9]] {
			conns[f[9]] = true
		}
	}
	return conns, nil
}

// connWatch notes, ten times a second, the connections a process has open
// to the fake vendor, to count those it opens.
type connWatch struct {
	*poller
	mu sync.Mutex
	// seen holds every connection seen, fresh those first seen since the
	// last take.
	seen  map[string]bool
	fresh int
	err   error
}

func startConnWatch(pid, port int) *connWatch {
	w := &connWatch{seen: map[string]bool{}}
	w.poller = startPoller(100*time.Millisecond, func() {
		conns, err := vendorSockets(pid, port)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			w.err = err
			return
		}
		for c := range conns {
			if !w.seen[c] {
				w.seen[c] = true
				w.fresh++
			}
		}
	})
	return w
}

// take returns the number of connections opened since the last take (or
// the start): first seen since then.
func (w *connWatch) take(t *testing.T) int {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		t.Fatalf("watching the plugin's vendor connections: %v", w.err)
	}
	n := w.fresh
	w.fresh = 0
	return n
}

// timedReads reads path through HTTP repeats times, one after the other,
// and returns the times, the size of the last body and its number of
// samples (lines that are not comments, for an exposition).
func (s *scaleBench) timedReads(t *testing.T, path string) (results.Timed, int, int) {
	var d []time.Duration
	var body []byte
	for range s.sp.repeats {
		t0 := time.Now()
		var err error
		if body, err = s.reader.get(path); err != nil {
			t.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	series := 0
	for line := range strings.Lines(string(body)) {
		if !strings.HasPrefix(line, "#") {
			series++
		}
	}
	slices.Sort(d)
	return results.Timed{Reads: len(d), P50Micros: micros(percentile(d, 0.5)), MinMicros: micros(d[0]), MaxMicros: micros(d[len(d)-1])}, len(body), series
}

// cachedEntries is the number of tokens the cache view lists.
func (s *scaleBench) cachedEntries(t *testing.T) int {
	t.Helper()
	c, err := s.api.Logical().Read(scaleMount + "/cache")
	if err != nil {
		t.Fatal(err)
	}
	return len(c.Data) // one field per cached token
}

// hits compares cache-hit reads spread over every role with reads of one
// role, interleaved; the plugin's memory is measured after them.
func (s *scaleBench) hits(t *testing.T) {
	spread := make([]string, s.sp.configs)
	for i := range spread {
		spread[i] = scaleMount + "/creds/" + scaleRole(i)
	}
	calls := s.vendorSuccesses(t, s.oauth2)
	s.out.Hit = s.compare(t, s.reader, []target{
		{name: "one", path: spread[0]},
		{name: "spread", path: scaleMount + "/creds/role-*", spread: spread},
	}, s.sp.clients, s.sp.rounds)
	s.out.HitVendorCalls = s.vendorSuccesses(t, s.oauth2) - calls
	if s.out.HitVendorCalls != 0 {
		t.Errorf("%d vendor calls during cache-hit reads of tokens fetched minutes before", s.out.HitVendorCalls)
	}
	s.out.AfterHitsRSSKiB = processRSS(t, s.pid)
	open, err := vendorSockets(s.pid, s.vendorPort)
	if err != nil {
		t.Fatal(err)
	}
	s.out.AfterHitsVendorConns = len(open)
}

// reload reloads the plugin a few times, timing each until a read succeeds
// again.
func (s *scaleBench) reload(t *testing.T) {
	for range s.sp.reloads {
		r := s.reloadOnce(t)
		t.Logf("reload: %+v", r)
		s.out.Reloads = append(s.out.Reloads, r)
	}
}

// reloadOnce reloads the plugin (sys/plugins/reload/backend, as `vault
// plugin reload` does) and reads a role until the read succeeds; it
// checks that a new process serves the mount.
func (s *scaleBench) reloadOnce(t *testing.T) results.Reload {
	t.Helper()
	path := scaleMount + "/creds/" + scaleRole(0)
	start := time.Now()
	if _, err := s.api.Sys().ReloadPlugin(&api.ReloadPluginInput{Plugin: vaulttest.PluginName}); err != nil {
		t.Fatalf("reload: %v", err)
	}
	r := results.Reload{CallMillis: millis(time.Since(start))}
	deadline := time.Now().Add(time.Minute)
	var err error
	for {
		r.Attempts++
		if err = s.reader.read(context.Background(), path); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no successful read of %s within a minute of the reload: %v", path, err)
	}
	r.UntilReadMillis = millis(time.Since(start))
	pid := s.dev.WaitPluginPid(t, vaulttest.PluginName, 30*time.Second)
	if pid == s.pid {
		t.Fatalf("the plugin still runs as pid %d after the reload", pid)
	}
	s.pid = pid
	return r
}

// periodic writes the rotating configs, reloads the plugin (so that the
// rotation index starts empty) and follows, in Vault's metrics and the
// processes' CPU time, the first two runs of the mount's periodic function
// after it: the first fills the index with a scan of every config, the
// next reads only what is due (nothing here). The reload is timed to fall
// 20 s after a run, so that the window of the next run holds no reload.
func (s *scaleBench) periodic(t *testing.T) {
	parallel(t, s.sp.rotating, s.sp.writers, func(i int) error {
		_, err := s.api.Logical().Write(scaleMount+"/config/"+rotatingConfig(i), map[string]any{
			"provider": "paloalto_scm", "token_url": s.vendor.TokenURL(fakevendor.ProviderSCM), "iam_url": s.vendor.URL,
			"client_id": s.scm.ClientID, "client_secret": s.scm.ClientSecret, "tsg_id": s.scm.TSGIDs[0],
			"ca_cert": string(s.vendor.CAPEM), "rotation_period": "2h",
		})
		return err
	})
	rollback := "vault.route.rollback." + scaleMount + "-"
	// The runs come every minute; the latest seen gives the phase.
	var before []time.Time
	vaulttest.Eventually(t, 90*time.Second, time.Second, "a run of the periodic function of "+scaleMount, func() error {
		if before = s.watch.intervalsWith(rollback); len(before) == 0 {
			return fmt.Errorf("no interval with %s yet", rollback)
		}
		return nil
	})
	reloadAt := before[len(before)-1].Add(2 * telemetryInterval)
	for time.Until(reloadAt) < 0 {
		reloadAt = reloadAt.Add(time.Minute)
	}
	time.Sleep(time.Until(reloadAt))

	p := results.Periodic{RotatingConfigs: s.sp.rotating, StoredConfigs: s.sp.configs + s.sp.rotating}
	p.Reload = s.reloadOnce(t)
	reloaded := time.Now()
	cpu := newCPUSampler(map[string]int{"plugin": s.pid, "vault": s.dev.Pid()})
	defer cpu.stop()
	// Two runs a minute apart, and the interval after the second.
	var ticks []time.Time
	vaulttest.Eventually(t, 3*time.Minute, time.Second, "two runs of the periodic function after the reload", func() error {
		ticks = ticks[:0]
		for _, at := range s.watch.intervalsWith(rollback) {
			if at.After(reloaded) {
				ticks = append(ticks, at)
			}
		}
		if len(ticks) < 2 || !s.watch.has(ticks[1].Add(telemetryInterval)) {
			return errors.Join(fmt.Errorf("intervals with %s since the reload: %v", rollback, ticks), s.watch.lastErr())
		}
		return nil
	})
	// Each run's window is the interval that holds its end and the one
	// before (a run may start in one and end in the next); the quiet
	// window lies between the runs.
	window := func(what string, end time.Time) results.PeriodicWindow {
		from := end.Add(-telemetryInterval)
		pw := results.PeriodicWindow{What: what, Seconds: 2 * telemetryInterval.Seconds()}
		for _, at := range []time.Time{from, end} {
			iv := s.watch.interval(at)
			pw.Gets += iv.count("vault.barrier.get")
			pw.Lists += iv.count("vault.barrier.list")
			pw.Runs += iv.count(rollback)
			pw.RunMillis += iv.sum(rollback)
		}
		pw.PluginCPUMillis = cpu.millis("plugin", from, end.Add(telemetryInterval))
		pw.VaultCPUMillis = cpu.millis("vault", from, end.Add(telemetryInterval))
		return pw
	}
	p.Windows = []results.PeriodicWindow{
		window(results.WindowFirstRun, ticks[0]),
		window(results.WindowQuiet, ticks[0].Add(3*telemetryInterval)),
		window(results.WindowNextRun, ticks[1]),
	}
	for _, pw := range p.Windows {
		t.Logf("periodic: %+v", pw)
	}
	if ticks[0].Add(-telemetryInterval).Before(reloaded) {
		t.Errorf("the first run's window (from %s) holds the reload (%s)", ticks[0].Add(-telemetryInterval), reloaded)
	}
	if q := p.Windows[1]; q.Runs != 0 {
		t.Errorf("the quiet window holds %d runs of the periodic function", q.Runs)
	}
	s.out.Periodic = p
}

// memProfileRate is the heap profile's sampling of the heap part: an
// allocation every 1 KiB, so that per-config allocations of a few hundred
// bytes show.
const memProfileRate = 1024

// heap gives the same configs, roles and reads to a second plugin process,
// bench/profplugin (the same engine with net/http/pprof), on a mount of its
// own, and measures its live heap (HeapAlloc right after a forced GC)
// before and after, with the top of its heap profile at the end: what the
// memory per config is made of. It runs last, so that nothing it does
// lands in the other measurements.
func (s *scaleBench) heap(t *testing.T) {
	port, err := vaulttest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	registerWithEnv(t, s.dev, profPlugin, s.profBin, pprofEnv+"="+addr, fmt.Sprintf("PALO_MEMPROFILE_RATE=%d", memProfileRate))
	s.dev.MustCLI(t, "secrets", "enable", "-path="+profMount, profPlugin)
	if _, err := s.api.Logical().List(profMount + "/config"); err != nil {
		t.Fatal(err)
	}
	h := results.ScaleHeap{EmptyBytes: heapAlloc(t, addr), MemProfileRate: memProfileRate}
	s.write(t, profMount, 0, s.sp.configs)
	s.coldReads(t, profMount, 0, s.sp.configs)
	h.ConfigsBytes = heapAlloc(t, addr)
	file := filepath.Join(t.TempDir(), "heap.pprof")
	if err := httpGet("http://"+addr+"/debug/pprof/heap?gc=1", "", file, time.Minute); err != nil {
		t.Fatal(err)
	}
	h.Top = pprofList(t, "-top", "-sample_index=inuse_space", "-nodecount=25", file)
	t.Logf("heap: %d B empty, %d B at %d configs", h.EmptyBytes, h.ConfigsBytes, s.sp.configs)
	s.out.Heap = h
}

// telemetryInterval is the aggregation interval of Vault's in-memory
// metrics; sys/metrics reports the last finished one.
const telemetryInterval = 10 * time.Second

// telemetryWatch reads sys/metrics every two seconds, from the start of
// the run, and keeps every interval it reports.
type telemetryWatch struct {
	*poller
	reader    *reader
	mu        sync.Mutex
	intervals map[time.Time]interval
	err       error
}

// interval is one finished interval of sys/metrics: its summaries (count,
// and sum in milliseconds) by name.
type interval map[string]struct{ Count, Sum float64 }

func (iv interval) count(name string) int64 { return int64(iv[name].Count) }
func (iv interval) sum(name string) float64 { return iv[name].Sum }

func startTelemetryWatch(addr, token string) *telemetryWatch {
	w := &telemetryWatch{reader: newReader(addr, token), intervals: map[time.Time]interval{}}
	w.poller = startPoller(2*time.Second, func() {
		if err := w.poll(); err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		}
	})
	return w
}

// lastErr is the last failure to read sys/metrics, if any.
func (w *telemetryWatch) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// poll reads sys/metrics once and records its interval.
func (w *telemetryWatch) poll() error {
	body, err := w.reader.get("sys/metrics")
	if err != nil {
		return err
	}
	var m struct {
		Timestamp string
		Samples   []struct {
			Name       string
			Count, Sum float64
		}
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("sys/metrics: %w", err)
	}
	at, err := time.Parse("2006-01-02 15:04:05 -0700 MST", m.Timestamp)
	if err != nil {
		return fmt.Errorf("sys/metrics: timestamp %q: %w", m.Timestamp, err)
	}
	iv := interval{}
	for _, x := range m.Samples {
		iv[x.Name] = struct{ Count, Sum float64 }{x.Count, x.Sum}
	}
	w.mu.Lock()
	w.intervals[at.UTC()] = iv
	w.mu.Unlock()
	return nil
}

// interval is the interval that starts at at, nil if it was not seen.
func (w *telemetryWatch) interval(at time.Time) interval {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.intervals[at.UTC()]
}

// has reports whether the interval that starts at at was seen.
func (w *telemetryWatch) has(at time.Time) bool { return w.interval(at) != nil }

// intervalsWith lists the starts of the intervals that hold a sample of
// name, in order.
func (w *telemetryWatch) intervalsWith(name string) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Time
	for at, iv := range w.intervals {
		if iv.count(name) > 0 {
			out = append(out, at)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// cpuSampler records the CPU time (user and system) of processes four
// times a second.
type cpuSampler struct {
	*poller
	mu      sync.Mutex
	samples map[string][]cpuSample
}

type cpuSample struct {
	at    time.Time
	ticks int64
}

func newCPUSampler(pids map[string]int) *cpuSampler {
	c := &cpuSampler{samples: map[string][]cpuSample{}}
	c.poller = startPoller(250*time.Millisecond, func() {
		now := time.Now()
		c.mu.Lock()
		defer c.mu.Unlock()
		for name, pid := range pids {
			if ticks, err := cpuTicks(pid); err == nil {
				c.samples[name] = append(c.samples[name], cpuSample{now, ticks})
			}
		}
	})
	return c
}

// poller calls a function at once and then every period until stopped.
type poller struct {
	done    chan struct{}
	stopped sync.WaitGroup
}

func startPoller(period time.Duration, f func()) *poller {
	p := &poller{done: make(chan struct{})}
	p.stopped.Go(func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			f()
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
		}
	})
	return p
}

func (p *poller) stop() {
	close(p.done)
	p.stopped.Wait()
}

// millis is the CPU time the process named used from from to to, from
// the samples nearest to them.
func (c *cpuSampler) millis(name string, from, to time.Time) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	nearest := func(at time.Time) int64 {
		s := c.samples[name]
		if len(s) == 0 {
			return 0
		}
		best := s[0]
		for _, x := range s {
			if x.at.Sub(at).Abs() < best.at.Sub(at).Abs() {
				best = x
			}
		}
		return best.ticks
	}
	return float64(nearest(to)-nearest(from)) * 1000 / userHZ
}

// cpuTicks is utime + stime of a process, from /proc/<pid>/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which ends at the last ')': state is
	// field 3, utime 14 and stime 15.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	var total int64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		total += v
	}
	return total, nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return percentile(s, 0.5)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
