//go:build e2e

package vaultbench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/bench/results"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// target is one path, or a list of paths read in turn, in a comparison.
type target struct {
	name string
	path string
	// spread, when set, replaces path: each client reads these in turn
	// (path then only names them in the results).
	spread []string
	// account, when set, is the fake vendor account whose token requests
	// are counted during each run.
	account *fakevendor.Account
}

// paths are what the target's readers read.
func (tg target) paths() []string {
	if len(tg.spread) > 0 {
		return tg.spread
	}
	return []string{tg.path}
}

// compare reads every target at every concurrency for rounds rounds,
// rotating the order of the targets each round so that none always runs
// first or last, and merges the samples of each target and concurrency.
func (b *bench) compare(t *testing.T, r *reader, targets []target, clients []int, rounds int) []results.Run {
	t.Helper()
	type key struct {
		target  string
		clients int
	}
	merged := map[key]*sample{}
	calls := map[key]int64{}
	for round := range rounds {
		for _, c := range clients {
			for i := range targets {
				tg := targets[(i+round)%len(targets)]
				var before int64
				if tg.account != nil {
					before = b.vendorSuccesses(t, *tg.account)
				}
				s := r.load(context.Background(), tg.paths(), c, b.plan.warmup, b.plan.run)
				checkErrors(t, fmt.Sprintf("%s at %d clients", tg.path, c), s)
				k := key{tg.name, c}
				if tg.account != nil {
					calls[k] += b.vendorSuccesses(t, *tg.account) - before
				}
				if merged[k] == nil {
					merged[k] = &sample{}
				}
				merged[k].merge(s)
			}
		}
	}
	var out []results.Run
	for _, c := range clients {
		for _, tg := range targets {
			k := key{tg.name, c}
			run := merged[k].summary(tg.name, tg.path, c)
			run.VendorCalls = calls[k]
			t.Logf("%-15s %2d clients: %7d reads, p50 %6.0fµs, p99 %6.0fµs, %6.0f reads/s, %d vendor calls",
				tg.name, c, run.Reads, run.P50Micros, run.P99Micros, run.PerSecond, run.VendorCalls)
			out = append(out, run)
		}
	}
	return out
}

// hitPath compares cache-hit creds reads with the minimal plugin's leased
// read and a KV-v1 read on the dev server.
func (b *bench) hitPath(t *testing.T) {
	creds := paloMount + "/creds/wildfire"
	b.mustRead(t, b.reader, creds) // the one vendor call; every measured read is a hit
	b.out.HitPath = b.compare(t, b.reader, []target{
		{name: "kv", path: kvMount + "/bench"},
		{name: "const", path: constMount + "/leased"},
		{name: "palo", path: creds, account: &b.scm},
	}, b.plan.clients, b.plan.rounds)
}

// profile takes a CPU profile of a plugin process (the same engine with
// net/http/pprof, bench/profplugin) and of Vault during cache-hit reads at
// 16 clients.
func (b *bench) profile(t *testing.T) {
	port, err := vaulttest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	pprofAddr := "127.0.0.1:" + strconv.Itoa(port)
	b.pprofAddr = pprofAddr
	registerWithEnv(t, b.dev, profPlugin, b.profBin, pprofEnv+"="+pprofAddr)
	b.dev.MustCLI(t, "secrets", "enable", "-path="+profMount, profPlugin)
	b.dev.WriteSetup(t, profMount, b.vendor, b.scmSetup(t))
	creds := profMount + "/creds/wildfire"
	b.mustRead(t, b.reader, creds)

	dir := t.TempDir()
	pluginProf := filepath.Join(dir, "plugin.pprof")
	vaultProf := filepath.Join(dir, "vault.pprof")
	secs := strconv.Itoa(int(b.plan.profile.Seconds()))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	ctx, cancel := context.WithCancel(context.Background())
	load := make(chan sample, 1)
	go func() { load <- b.reader.loop(ctx, []string{creds}, 16, b.plan.profile+10*time.Second, false) }()
	time.Sleep(500 * time.Millisecond) // let the load reach its pace
	wg.Go(func() {
		errs[0] = httpGet("http://"+pprofAddr+"/debug/pprof/profile?seconds="+secs, "", pluginProf, b.plan.profile+30*time.Second)
	})
	wg.Go(func() {
		errs[1] = httpGet(b.dev.Addr+"/v1/sys/pprof/profile?seconds="+secs, b.dev.RootToken, vaultProf, b.plan.profile+30*time.Second)
	})
	wg.Wait()
	cancel()
	s := <-load
	checkErrors(t, "reads during the profile", s)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b.out.Profile = &results.Profile{
		What: fmt.Sprintf("%s of CPU, 16 clients reading %s (cache hits) on the dev server; "+
			"the plugin is bench/profplugin: the same backend.Factory with net/http/pprof on loopback", b.plan.profile, creds),
		Plugin:      pprofTop(t, pluginProf, "-nodecount=25"),
		PluginCreds: pprofTop(t, pluginProf, "-nodecount=20", "-focus=pathCredsRead"),
		CredsCalls:  pprofTop(t, pluginProf, "-focus=pathCredsRead", "-show=pathCredsRead|gRPCSystemViewClient"),
		Vault:       pprofTop(t, vaultProf, "-nodecount=25"),
	}
}

// pprofTop is `go tool pprof -top -cum` of a profile with extra options,
// without its header lines.
func pprofTop(t *testing.T, file string, opts ...string) []string {
	t.Helper()
	return pprofList(t, append(append([]string{"-top", "-cum"}, opts...), file)...)
}

// pprofList is the output of `go tool pprof` with args, without its header
// lines.
func pprofList(t *testing.T, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	var lines []string
	for l := range strings.SplitSeq(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") ||
			strings.HasPrefix(l, "Time:") || strings.HasPrefix(l, "Showing top") {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// coldPath times cache-miss creds reads (right after cache/purge) against
// the bare vendor exchange (provider.Client.Fetch from this process against
// the same fake vendor), sampled alternately one at a time, and then again
// with a delay added to every vendor response.
func (b *bench) coldPath(t *testing.T) {
	client, err := provider.NewClient(provider.ClientOptions{CACertPEM: string(b.vendor.CAPEM)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseIdleConnections()
	params := provider.Params{
		Provider: provider.PaloAltoSCM, TokenURL: b.vendor.TokenURL(fakevendor.ProviderSCM), Values: provider.Values{"client_id": b.scm.ClientID, "client_secret": b.scm.ClientSecret, "tsg_id": b.scm.TSGIDs[0]},
	}
	api := b.dev.Client(t)
	creds := paloMount + "/creds/wildfire"

	measure := func(n int) results.Cold {
		var miss, hit, bare []time.Duration
		for i := range n + 1 {
			if _, err := api.Logical().Write(paloMount+"/cache/purge", map[string]any{"role": "wildfire"}); err != nil {
				t.Fatal(err)
			}
			// The purge's own aftermath (its log line travels from the
			// plugin to Vault's log) must not land in what is measured.
			time.Sleep(settle)
			t0 := time.Now()
			if _, err := client.Fetch(context.Background(), params); err != nil {
				t.Fatalf("bare exchange: %v", err)
			}
			bareD := time.Since(t0)
			t0 = time.Now()
			b.mustRead(t, b.reader, creds)
			missD := time.Since(t0)
			t0 = time.Now()
			b.mustRead(t, b.reader, creds)
			hitD := time.Since(t0)
			if i == 0 {
				continue // the first round warms connections
			}
			bare, miss, hit = append(bare, bareD), append(miss, missD), append(hit, hitD)
		}
		c := results.Cold{Samples: n}
		c.BareP50Micros, c.BareMeanMicros = p50Mean(bare)
		c.MissP50Micros, c.MissMeanMicros = p50Mean(miss)
		c.HitP50Micros, c.HitMeanMicros = p50Mean(hit)
		return c
	}
	calls := b.vendorSuccesses(t, b.scm)
	b.out.Cold = measure(b.plan.coldSamples)
	// Every miss made exactly one vendor call, as did every bare exchange.
	if got, want := b.vendorSuccesses(t, b.scm)-calls, int64(2*(b.plan.coldSamples+1)); got != want {
		t.Errorf("vendor calls during the cold path: %d, want %d (one per miss, one per bare exchange)", got, want)
	}

	b.vendor.SetFaults(t, fakevendor.Faults{Providers: []string{fakevendor.ProviderSCM}, Delay: b.plan.vendorDelay})
	delayed := measure(b.plan.delayed)
	b.vendor.SetFaults(t, fakevendor.Faults{})
	b.out.Cold.VendorDelayMillis = float64(b.plan.vendorDelay) / float64(time.Millisecond)
	b.out.Cold.Delayed = &delayed
	t.Logf("cold: %+v; delayed: %+v", b.out.Cold, delayed)
}

// settle is the pause between a purge and the timed reads after it.
const settle = 20 * time.Millisecond

func p50Mean(d []time.Duration) (p50, mean float64) {
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	return micros(percentile(s, 0.5)), micros(sum / time.Duration(max(len(s), 1)))
}

// vendorCalls runs readers of one role per concurrency, all at once, for a
// span of several token windows (the fake's oauth2 lifetime is short), and
// counts the token requests of each role's account and the distinct tokens
// its readers got.
func (b *bench) vendorCalls(t *testing.T) {
	api := b.dev.Client(t)
	for _, c := range b.plan.clients {
		a := b.calls[c]
		name := fmt.Sprintf("calls-%d", c)
		if _, err := api.Logical().Write(paloMount+"/config/"+name, map[string]any{
			"provider": "oauth2", "token_url": b.vendor.TokenURL(fakevendor.ProviderOAuth2),
			"client_id": a.ClientID, "client_secret": a.ClientSecret, "ca_cert": string(b.vendor.CAPEM),
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := api.Logical().Write(paloMount+"/roles/"+name, map[string]any{"config": name}); err != nil {
			t.Fatal(err)
		}
	}
	// The config writes verified the credentials with a token each, not
	// cached: the first read of each role is a vendor call, and counted.
	b.vendor.ResetStats(t)

	type pool struct {
		reads, errors atomic.Int64
		mu            sync.Mutex
		tokens        map[string]bool
		firstErr      error
	}
	pools := map[int]*pool{}
	ctx, cancel := context.WithTimeout(context.Background(), b.plan.callsRun)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range b.plan.clients {
		p := &pool{tokens: map[string]bool{}}
		pools[c] = p
		path := fmt.Sprintf("%s/creds/calls-%d", paloMount, c)
		for range c {
			wg.Go(func() {
				for ctx.Err() == nil {
					tok, err := b.reader.readToken(path)
					if err != nil {
						p.errors.Add(1)
						p.mu.Lock()
						if p.firstErr == nil {
							p.firstErr = err
						}
						p.mu.Unlock()
						continue
					}
					p.reads.Add(1)
					p.mu.Lock()
					p.tokens[tok] = true
					p.mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	stats := b.vendor.Stats(t)

	lifetime := b.plan.lifetime
	// The engine hands a token out while max(half its lifetime, its lease
	// margin + 1s) remains; the margin is a tenth of the lifetime, 1s to 30s.
	window := lifetime - max(lifetime/2, min(max(lifetime/10, time.Second), 30*time.Second)+time.Second)
	lead := min(30*time.Second, lifetime/10)
	for _, c := range b.plan.clients {
		p := pools[c]
		if p.errors.Load() > 0 {
			t.Errorf("%d clients: %d reads failed; the first: %v", c, p.errors.Load(), p.firstErr)
		}
		row := results.VendorCalls{
			Clients: c, Reads: int(p.reads.Load()), Errors: int(p.errors.Load()), Seconds: elapsed.Seconds(),
			LifetimeSeconds: lifetime.Seconds(), WindowSeconds: window.Seconds(), RefreshEverySeconds: (window - lead).Seconds(),
			Calls: stats.ByAccount[b.calls[c].ID()].Successes, PeakInFlight: stats.PeakInFlight,
			DistinctTokens: len(p.tokens),
		}
		t.Logf("vendor calls, %d clients: %+v", c, row)
		b.out.VendorCalls = append(b.out.VendorCalls, row)
	}
}

// readToken reads creds at path and returns the access token.
func (r *reader) readToken(path string) (string, error) {
	body, err := r.get(path)
	if err != nil {
		return "", err
	}
	var s struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return "", fmt.Errorf("GET %s: %w", path, err)
	}
	if s.Data.AccessToken == "" {
		return "", fmt.Errorf("GET %s: no access_token in the response", path)
	}
	return s.Data.AccessToken, nil
}

// memory measures the plugin process's RSS before and after writing many
// roles, each with its own TSG (so its own cache key), and after reading a
// token for each. The same is done on the profiling plugin's mount, whose
// process reports its live heap.
func (b *bench) memory(t *testing.T) {
	api := b.dev.Client(t)
	mounts := []string{paloMount, profMount}
	for _, mount := range mounts {
		if _, err := api.Logical().Write(mount+"/config/scm-mem", map[string]any{
			"provider": "paloalto_scm", "token_url": b.vendor.TokenURL(fakevendor.ProviderSCM),
			"client_id": b.mem.ClientID, "client_secret": b.mem.ClientSecret, "tsg_id": tsgID(0),
			"ca_cert": string(b.vendor.CAPEM),
		}); err != nil {
			t.Fatal(err)
		}
	}
	pid := b.dev.WaitPluginPid(t, vaulttest.PluginName, 30*time.Second)
	heap := func() int64 { return heapAlloc(t, b.pprofAddr) }
	n := b.plan.roles
	m := results.Memory{Roles: n, BaselineKiB: processRSS(t, pid), HeapBaselineBytes: heap()}

	parallel(t, n, 8, func(i int) error {
		for _, mount := range mounts {
			if _, err := api.Logical().Write(fmt.Sprintf("%s/roles/mem-%05d", mount, i), map[string]any{"config": "scm-mem", "tsg_id": tsgID(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	m.RolesKiB, m.HeapRolesBytes = processRSS(t, pid), heap()
	var tokenLen atomic.Int64
	parallel(t, n, 8, func(i int) error {
		for _, mount := range mounts {
			tok, err := b.reader.readToken(fmt.Sprintf("%s/creds/mem-%05d", mount, i))
			if err != nil {
				return err
			}
			tokenLen.Store(int64(len(tok)))
		}
		return nil
	})
	m.TokensKiB, m.HeapTokensBytes = processRSS(t, pid), heap()
	m.TokenBytes = int(tokenLen.Load())

	s, err := api.Logical().Read(paloMount + "/cache")
	if err != nil {
		t.Fatal(err)
	}
	m.CachedEntries = len(s.Data) // one field per cached token
	if m.CachedEntries < n {
		t.Errorf("the cache lists %d entries after %d roles with distinct TSGs were read", m.CachedEntries, n)
	}
	if pid2 := b.dev.WaitPluginPid(t, vaulttest.PluginName, 30*time.Second); pid2 != pid {
		t.Fatalf("the plugin process changed (%d, then %d) during the memory part", pid, pid2)
	}
	t.Logf("memory: %+v", m)
	b.out.Memory = m
}

// heapAlloc is the live heap of the profiling plugin: HeapAlloc from its
// heap profile, taken right after the GC the request forces.
func heapAlloc(t *testing.T, pprofAddr string) int64 {
	t.Helper()
	file := filepath.Join(t.TempDir(), "heap.txt")
	if err := httpGet("http://"+pprofAddr+"/debug/pprof/heap?gc=1&debug=1", "", file, time.Minute); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file) //nolint:gosec // the test's own file
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("HeapAlloc %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("no HeapAlloc in the heap profile")
	return 0
}

// parallel runs f(0..n-1) on workers goroutines and fails the test with the
// first error.
func parallel(t *testing.T, n, workers int, f func(int) error) {
	t.Helper()
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || first.Load() != nil {
					return
				}
				if err := f(i); err != nil {
					first.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		t.Fatal(err)
	}
}

// raft compares leased and unleased reads, of the engine and of the
// minimal plugin, on a single-node Vault with integrated storage. The dev
// server is stopped first so that it takes no CPU.
func (b *bench) raft(t *testing.T) {
	if err := b.dev.Stop(); err != nil {
		t.Logf("stopping the dev server: %v", err)
	}
	s := startRaft(t, b.bins.Vault)
	s.MountPalo(t, b.bins, paloMount)
	s.WriteSetup(t, paloMount, b.vendor, b.scmSetup(t))
	s.MustCLI(t, "write", paloMount+"/roles/wildfire-unleased", "config=scm-prod", "lease=false")
	registerWithEnv(t, s, constPlugin, b.constBin)
	s.MustCLI(t, "secrets", "enable", "-path="+constMount, constPlugin)

	r := newReader(s.Addr, s.RootToken)
	defer r.close()
	b.mustRead(t, r, paloMount+"/creds/wildfire")
	b.out.Raft = b.compare(t, r, []target{
		{name: "palo", path: paloMount + "/creds/wildfire", account: &b.scm},
		{name: "palo-unleased", path: paloMount + "/creds/wildfire-unleased", account: &b.scm},
		{name: "const", path: constMount + "/leased"},
		{name: "const-unleased", path: constMount + "/unleased"},
	}, b.plan.raftClients, b.plan.raftRounds)
}
