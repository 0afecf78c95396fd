//go:build e2e

// Package vaultbench measures the engine end to end, against real Vault
// servers with the plugin, the minimal comparison plugin (bench/constplugin)
// and the fake vendor command, all on loopback. It writes its figures as
// JSON (bench/results.Results) to the file named by BENCH_RESULTS; `make
// bench` (scripts/bench.sh) runs it and renders BENCHMARKS.md from them.
//
// Every run is bounded in time and in reads. Absolute times on a shared
// machine are noise: what it reports are ratios measured in the same run,
// with the runs of the things compared interleaved in rounds.
package vaultbench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/bench/results"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// Environment variables.
const (
	// resultsEnv names the JSON file to write; without it the benchmark
	// is skipped (it takes minutes; run it with `make bench`).
	resultsEnv = "BENCH_RESULTS"
	// quickEnv, when set, shortens every run (a smoke test of the harness;
	// the figures are then too noisy to publish).
	quickEnv = "BENCH_QUICK"
)

// plan is how long and how much each part measures.
type plan struct {
	rounds      int           // interleaved repetitions of each hit-path run
	warmup      time.Duration // unrecorded reads before each run
	run         time.Duration // one recorded run
	clients     []int         // concurrencies of the hit path and vendor calls
	coldSamples int           // cache-miss/bare-exchange pairs
	delayed     int           // the same with a delayed vendor
	vendorDelay time.Duration
	callsRun    time.Duration // the sustained run of the vendor-calls part
	lifetime    time.Duration // token lifetime in the vendor-calls part
	roles       int           // roles in the memory part
	raftRounds  int
	raftClients []int
	profile     time.Duration
}

func fullPlan() plan {
	return plan{
		rounds: 8, warmup: 300 * time.Millisecond, run: 2 * time.Second, clients: []int{1, 16, 64},
		coldSamples: 200, delayed: 40, vendorDelay: 20 * time.Millisecond,
		callsRun: 70 * time.Second, lifetime: 64 * time.Second,
		roles:      10000,
		raftRounds: 5, raftClients: []int{1, 16},
		profile: 5 * time.Second,
	}
}

// quickPlan is fullPlan with shorter runs and fewer samples and roles.
func quickPlan() plan {
	p := fullPlan()
	p.rounds, p.warmup, p.run = 1, 100*time.Millisecond, 500*time.Millisecond
	p.coldSamples, p.delayed = 20, 5
	p.callsRun, p.roles, p.raftRounds, p.profile = 40*time.Second, 500, 1, 2*time.Second
	return p
}

// bench is the shared state of one benchmark run.
type bench struct {
	plan   plan
	bins   vaulttest.Binaries
	vendor *vaulttest.FakeVendor
	dev    *vaulttest.Server
	reader *reader
	// scm is the SCM account of the hit path, cold path and Raft parts.
	scm fakevendor.Account
	// mem is the SCM account of the memory part: one TSG per role.
	mem fakevendor.Account
	// calls are the oauth2 accounts of the vendor-calls part, one per
	// concurrency.
	calls    map[int]fakevendor.Account
	constBin string
	profBin  string
	// pprofAddr serves the profiling plugin's net/http/pprof, once the
	// profile part has mounted it.
	pprofAddr string
	out       results.Results
}

func TestBenchmarks(t *testing.T) {
	file := os.Getenv(resultsEnv)
	if file == "" {
		t.Skipf("set %s=<file> to run the end-to-end benchmarks (they take minutes); `make bench` does", resultsEnv)
	}
	b := &bench{plan: fullPlan()}
	if os.Getenv(quickEnv) != "" {
		b.plan = quickPlan()
	}
	b.setUp(t)

	runParts(t, []part{
		{"hit_path", b.hitPath},
		{"profile", b.profile},
		{"cold_path", b.coldPath},
		{"vendor_calls", b.vendorCalls},
		{"memory", b.memory},
		{"raft", b.raft},
	})
	writeResults(t, file, b.out)
}

// part is one subtest of a benchmark.
type part struct {
	name string
	run  func(*testing.T)
}

// runParts runs the parts in order, logs how long each took, and stops the
// test at the first that fails.
func runParts(t *testing.T, parts []part) {
	t.Helper()
	for _, p := range parts {
		start := time.Now()
		if !t.Run(p.name, p.run) {
			t.Fatalf("%s failed; results not written", p.name)
		}
		t.Logf("%s took %s", p.name, time.Since(start).Round(time.Second))
	}
}

// writeResults writes v as indented JSON to file.
func writeResults(t *testing.T, file string, v any) {
	t.Helper()
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(js, '\n'), 0o600); err != nil { //nolint:gosec // G703: the file the caller named
		t.Fatal(err)
	}
	t.Logf("results written to %s", file)
}

// setUp starts the fake vendor and a dev Vault with the engine, the
// minimal plugin and KV v1 mounted, and writes the hit-path role.
func (b *bench) setUp(t *testing.T) {
	b.bins = vaulttest.LoadBinaries(t)
	dir := t.TempDir()
	b.constBin = buildBench(t, "./bench/constplugin", dir, "")
	b.profBin = buildBench(t, "./bench/profplugin", dir, "")

	accounts := fakevendor.DemoAccounts()
	for _, a := range accounts {
		if a.Provider == fakevendor.ProviderSCM {
			b.scm = a
		}
	}
	b.mem = fakevendor.Account{
		Provider: fakevendor.ProviderSCM, ClientID: "bench-mem@1000000000.iam.panserviceaccount.com",
		ClientSecret: "bench-mem-secret-not-real", TSGIDs: make([]string, b.plan.roles),
	}
	for i := range b.plan.roles {
		b.mem.TSGIDs[i] = tsgID(i)
	}
	b.calls = map[int]fakevendor.Account{}
	for _, c := range b.plan.clients {
		b.calls[c] = fakevendor.Account{
			Provider: fakevendor.ProviderOAuth2, ClientID: fmt.Sprintf("bench-calls-%d", c),
			ClientSecret: fmt.Sprintf("bench-calls-%d-secret-not-real", c),
		}
	}
	accounts = append(accounts, b.mem)
	for _, c := range b.plan.clients {
		accounts = append(accounts, b.calls[c])
	}
	b.vendor = vaulttest.StartFakeVendor(t, b.bins.FakeVendor, vaulttest.FakeVendorOptions{
		Accounts:  accounts,
		Lifetimes: map[string]time.Duration{fakevendor.ProviderOAuth2: b.plan.lifetime},
	})

	// Info level: the debug log of a dev server would be measured too.
	b.dev = vaulttest.StartDev(t, b.bins.Vault, vaulttest.DevOptions{LogLevel: "info"})
	b.out.VaultVersion = serverVersion(t, b.dev)
	b.out.Command = "BENCH_RESULTS=<file> go test -tags e2e -count=1 -timeout 30m -run TestBenchmarks ./bench/vaultbench/"
	b.out.Rounds = b.plan.rounds
	b.out.RunSeconds = b.plan.run.Seconds()

	b.dev.MountPalo(t, b.bins, paloMount)
	b.dev.WriteSetup(t, paloMount, b.vendor, b.scmSetup(t))
	registerWithEnv(t, b.dev, constPlugin, b.constBin)
	b.dev.MustCLI(t, "secrets", "enable", "-path="+constMount, constPlugin)
	b.dev.MustCLI(t, "secrets", "enable", "-path="+kvMount, "-version=1", "kv")
	// A KV value of the size and shape of a creds response.
	b.dev.MustCLI(t, "write", kvMount+"/bench", "access_token=fake-scm-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"token_type=Bearer", "expires_at=2030-01-01T00:00:00Z", "expires_in=899", "scope=tsg_id:1234567890", "tsg_id=1234567890")

	b.reader = newReader(b.dev.Addr, b.dev.RootToken)
	t.Cleanup(b.reader.close)
}

// scmSetup is the hit-path config and role: the demo SCM account as
// scm-prod and wildfire.
func (b *bench) scmSetup(t testing.TB) vaulttest.VendorSetup {
	t.Helper()
	return vaulttest.VendorSetups(t, b.vendor, []fakevendor.Account{b.scm})[0]
}

// tsgID is the i-th TSG id of the memory account.
func tsgID(i int) string { return fmt.Sprintf("%010d", 2000000000+i) }

// vendorSuccesses is the number of tokens the fake vendor issued to an
// account so far.
func (b *bench) vendorSuccesses(t testing.TB, a fakevendor.Account) int64 {
	t.Helper()
	return b.vendor.Stats(t).ByAccount[a.ID()].Successes
}

// mustRead reads path once through the reader and fails the test on error.
func (b *bench) mustRead(t testing.TB, r *reader, path string) {
	t.Helper()
	if err := r.read(context.Background(), path); err != nil {
		t.Fatal(err)
	}
}

// checkErrors fails the test if a run had failed reads.
func checkErrors(t testing.TB, what string, s sample) {
	t.Helper()
	if s.errors > 0 {
		t.Errorf("%s: %d of %d reads failed; the first: %v", what, s.errors, s.reads+s.errors, s.firstErr)
	}
}
