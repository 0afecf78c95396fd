package results

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

const goBenchOutput = `goos: linux
goarch: amd64
pkg: github.com/vault-palo/vault-plugin-secrets-palo/backend
cpu: AMD EPYC
BenchmarkCredsReadHit-2           	  141014	      7737 ns/op	    2955 B/op	      38 allocs/op
BenchmarkBroken
--- FAIL: BenchmarkOther
PASS
ok  	github.com/vault-palo/vault-plugin-secrets-palo/backend	5.885s
pkg: github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache
BenchmarkGetHit-2           	 3440889	       111.2 ns/op	       0 B/op	       0 allocs/op
BenchmarkBytesPerEntry-2    	       4	 104282464 ns/op	      1052 B/entry	40710022 B/op	  289337 allocs/op
BenchmarkNoProcs	10	5 ns/op
`

func TestParseGoBench(t *testing.T) {
	t.Parallel()
	got, err := ParseGoBench(strings.NewReader(goBenchOutput))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("parsed %d results, want 4: %+v", len(got), got)
	}
	cases := map[string]struct {
		pkg, name string
		procs     int
		n         int64
		metrics   map[string]float64
	}{
		"backend hit": {
			"backend", "BenchmarkCredsReadHit", 2, 141014,
			map[string]float64{"ns/op": 7737, "B/op": 2955, "allocs/op": 38},
		},
		"fractional ns": {
			"backend/tokencache", "BenchmarkGetHit", 2, 3440889,
			map[string]float64{"ns/op": 111.2, "B/op": 0, "allocs/op": 0},
		},
		"custom metric": {
			"backend/tokencache", "BenchmarkBytesPerEntry", 2, 4,
			map[string]float64{"ns/op": 104282464, "B/entry": 1052, "B/op": 40710022, "allocs/op": 289337},
		},
		"no procs suffix": {
			"backend/tokencache", "BenchmarkNoProcs", 0, 10,
			map[string]float64{"ns/op": 5},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, ok := Find(got, tc.pkg, tc.name)
			if !ok {
				t.Fatalf("%s in %s not found", tc.name, tc.pkg)
			}
			if b.Procs != tc.procs || b.N != tc.n || len(b.Metrics) != len(tc.metrics) {
				t.Fatalf("got %+v", b)
			}
			for unit, v := range tc.metrics {
				if b.Metrics[unit] != v {
					t.Errorf("%s = %v, want %v", unit, b.Metrics[unit], v)
				}
			}
		})
	}
	if _, ok := Find(got, "backend", "BenchmarkGetHit"); ok {
		t.Error("Find matched a benchmark of another package")
	}
}

func TestParseGoBenchRejectsABadValue(t *testing.T) {
	t.Parallel()
	if _, err := ParseGoBench(strings.NewReader("BenchmarkX-2 10 fast ns/op\n")); err == nil {
		t.Fatal("a non-numeric value was accepted")
	}
}

// Rows of `go tool pprof -top` for the profiles of the fixtures: the
// header, the creds handler and SystemView calls.
const (
	pprofHeader           = "      flat  flat%   sum%        cum   cum%"
	pprofCredsRead        = "         0     0%     0%      200ms 30.30%  github.com/vault-palo/vault-plugin-secrets-palo/backend.(*paloBackend).pathCredsRead"
	pprofReplicationState = "         0     0%     0%       90ms  9.68%  github.com/hashicorp/vault/sdk/plugin.(*gRPCSystemViewClient).ReplicationState"
	pprofDefaultLeaseTTL  = "         0     0%     0%      110ms 16.67%  github.com/hashicorp/vault/sdk/plugin.(*gRPCSystemViewClient).DefaultLeaseTTL"
	pprofMaxLeaseTTL      = "         0     0%     0%       80ms 12.12%  github.com/hashicorp/vault/sdk/plugin.(*gRPCSystemViewClient).MaxLeaseTTL"
)

// fixture is a complete set of results where every target is met.
func fixture() Input {
	runs := func(target, path string, p50, rps float64) []Run {
		var out []Run
		for _, c := range []int{1, 16, 64} {
			out = append(out, Run{Target: target, Path: path, Clients: c, Reads: 1000, P50Micros: p50 * float64(c), P99Micros: 3 * p50 * float64(c), PerSecond: rps})
		}
		return out
	}
	var hit []Run
	hit = append(hit, runs("kv", "kv/bench", 200, 5000)...)
	hit = append(hit, runs("const", "const/leased", 600, 1500)...)
	hit = append(hit, runs("palo", "palo/creds/wildfire", 620, 1450)...)
	cold := Cold{Samples: 100, MissP50Micros: 1400, HitP50Micros: 1100, BareP50Micros: 300}
	delayed := Cold{Samples: 10, MissP50Micros: 22000, HitP50Micros: 1100, BareP50Micros: 21000}
	cold.Delayed, cold.VendorDelayMillis = &delayed, 20
	return Input{
		Meta: Meta{Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Machine: "a machine", MakeCommand: "make bench", GoBenchCommand: "go test -bench"},
		Results: Results{
			VaultVersion: "1.21.0", Rounds: 5, RunSeconds: 2,
			HitPath: hit,
			VendorCalls: []VendorCalls{
				{Clients: 1, Reads: 1000, Seconds: 70, LifetimeSeconds: 64, WindowSeconds: 32, RefreshEverySeconds: 25.6, Calls: 3, PeakInFlight: 2, DistinctTokens: 3},
				{Clients: 64, Reads: 90000, Seconds: 70, LifetimeSeconds: 64, WindowSeconds: 32, RefreshEverySeconds: 25.6, Calls: 3, PeakInFlight: 2, DistinctTokens: 3},
			},
			Cold:   cold,
			Memory: Memory{Roles: 10000, CachedEntries: 10001, BaselineKiB: 30000, RolesKiB: 35000, TokensKiB: 50000, TokenBytes: 61},
			Raft:   runs("palo", "palo/creds/wildfire", 3000, 300),
		},
		GoBench: []GoBench{{
			Pkg: "github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache", Name: "BenchmarkBytesPerEntry",
			Metrics: map[string]float64{"ns/op": 1, "B/entry": 1052},
		}},
		LoadNote: "it does not exist yet.",
	}
}

// slowHitFixture is fixture with the engine's cache-hit reads half as slow
// again, so that the report looks for a cause.
func slowHitFixture() Input {
	in := fixture()
	for i, r := range in.Results.HitPath {
		if r.Target == "palo" {
			in.Results.HitPath[i].P50Micros *= 1.5
		}
	}
	return in
}

// render renders in and returns the document.
func render(t *testing.T, in Input) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// targetLine returns the row of the targets table that starts with prefix.
func targetLine(t *testing.T, doc, prefix string) string {
	t.Helper()
	for line := range strings.SplitSeq(doc, "\n") {
		if strings.HasPrefix(line, "| "+prefix) {
			return line
		}
	}
	t.Fatalf("no targets row %q in:\n%s", prefix, doc)
	return ""
}

// checkVerdicts fails t unless, of the targets rows that start with the
// prefixes of rows, the one named notMet and no other says "not met".
func checkVerdicts(t *testing.T, doc string, rows map[string]string, notMet string) {
	t.Helper()
	for row, prefix := range rows {
		line := targetLine(t, doc, prefix)
		if got, want := strings.Contains(line, "**not met**"), row == notMet; got != want {
			t.Errorf("row %s: %q; not met = %t, want %t", row, line, got, want)
		}
	}
}

// checkSays fails t for each text of want that doc does not contain and
// each text of wantNone that it does.
func checkSays(t *testing.T, doc string, want, wantNone []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(doc, w) {
			t.Errorf("the document does not say %q:\n%s", w, doc)
		}
	}
	for _, w := range wantNone {
		if strings.Contains(doc, w) {
			t.Errorf("the document says %q:\n%s", w, doc)
		}
	}
}

func TestRenderVerdicts(t *testing.T) {
	t.Parallel()
	rows := map[string]string{
		"hit":    "cache-hit read",
		"vendor": "one vendor call",
		"cold":   "cold path",
		"memory": "under 2 KiB",
	}
	cases := map[string]struct {
		change  func(*Input)
		notMet  string // the row that must say "not met"; "" for none
		mention string // text the document must contain
	}{
		"every target met": {change: func(*Input) {}, mention: "worst 1.03×"},
		"a slow hit path at 16 clients": {
			change: func(in *Input) {
				for i, r := range in.Results.HitPath {
					if r.Target == "palo" && r.Clients == 16 {
						in.Results.HitPath[i].PerSecond = 1000
					}
				}
			},
			notMet: "hit", mention: "worst 1.50× (throughput at 16 clients)",
		},
		"a duplicate vendor call": {
			change: func(in *Input) { in.Results.VendorCalls[1].Calls = 4 },
			notMet: "vendor", mention: "64 clients: 4 calls for 3 tokens",
		},
		"a vendor call during cache hits": {
			change: func(in *Input) { in.Results.HitPath[len(in.Results.HitPath)-1].VendorCalls = 1 },
			notMet: "vendor", mention: "made 1 vendor calls",
		},
		"a slow miss": {
			change: func(in *Input) { in.Results.Cold.MissP50Micros = 1600 },
			notMet: "cold", mention: "a miss adds 1.67× the exchange",
		},
		"the in-process cold path": {
			change: func(in *Input) {
				pkg := "github.com/vault-palo/vault-plugin-secrets-palo/backend"
				in.GoBench = append(in.GoBench,
					GoBench{Pkg: pkg, Name: "BenchmarkCredsReadMiss", Metrics: map[string]float64{"ns/op": 95000}},
					GoBench{Pkg: pkg, Name: "BenchmarkCredsReadHit", Metrics: map[string]float64{"ns/op": 3000}},
					GoBench{Pkg: pkg, Name: "BenchmarkBareFetch", Metrics: map[string]float64{"ns/op": 80000}})
			},
			mention: "a miss adds 1.15× the exchange.",
		},
		"too much memory": {
			change: func(in *Input) { in.GoBench[0].Metrics["B/entry"] = 3000 },
			notMet: "memory", mention: "3,000 B per entry",
		},
		"no tokencache figure": {
			change: func(in *Input) { in.GoBench = nil },
			notMet: "memory", mention: "no tokencache figure",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := fixture()
			tc.change(&in)
			doc := render(t, in)
			checkVerdicts(t, doc, rows, tc.notMet)
			checkSays(t, doc, []string{tc.mention}, nil)
		})
	}
}

func TestRenderExplainsASystemViewHeavyProfile(t *testing.T) {
	t.Parallel()
	in := slowHitFixture()
	in.Results.Profile = &Profile{
		What:   "a profile",
		Plugin: []string{pprofHeader, pprofReplicationState},
		// The displayed listing was cut before MaxLeaseTTL; the -show
		// listing has both.
		PluginCreds: []string{pprofHeader, pprofCredsRead, pprofDefaultLeaseTTL},
		CredsCalls:  []string{pprofHeader, pprofCredsRead, pprofDefaultLeaseTTL, pprofMaxLeaseTTL},
	}
	checkSays(t, render(t, in), []string{
		"`pathCredsRead` takes 30% of the plugin's CPU, and 29 points of that are SystemView calls (DefaultLeaseTTL, MaxLeaseTTL)",
		"one more on every request, 10% here: the framework's own ReplicationState check",
	}, nil)
}

func TestRenderLoadReport(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		load json.RawMessage
		want []string
	}{
		"not run": {nil, []string{"Not run: it does not exist yet."}},
		"nested fields": {
			json.RawMessage(`{"reads": 12000, "errors": {"total": 3, "by_status": {"503": 3}}, "p99_ms": 41.5, "faults": ["reset", "503"], "note": "a|b"}`),
			[]string{"| `reads` | 12000 |", "| `errors.by_status.503` | 3 |", "| `errors.total` | 3 |", "| `p99_ms` | 41.5 |", "| `faults` | reset, 503 |", "| `note` | a\\|b |"},
		},
		"a long list": {
			json.RawMessage(`{"samples": [1,2,3,4,5,6,7,8,9,10,11], "runs": [{"a": 1}]}`),
			[]string{"| `samples` | 11 values |", "| `runs` | 1 entries |"},
		},
		"not JSON": {json.RawMessage(`{`), []string{"The report is not JSON"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := fixture()
			in.Load = tc.load
			checkSays(t, render(t, in), tc.want, nil)
		})
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ got, want string }{
		"thousands small":    {thousands(999), "999"},
		"thousands":          {thousands(1234567), "1,234,567"},
		"thousands negative": {thousands(-1234), "-1,234"},
		"microseconds":       {us(612.4), "612 µs"},
		"milliseconds":       {us(12345), "12.3 ms"},
		"ratio":              {ratio(1.234), "1.23×"},
		"MiB":                {mib(2 << 20), "2.0 MiB"},
		"KiB as MiB":         {mib(2048 * 1024), "2.0 MiB"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestScheduled(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		v    VendorCalls
		want int64
	}{
		"shorter than one refresh": {VendorCalls{Seconds: 20, RefreshEverySeconds: 25.6}, 1},
		"three tokens":             {VendorCalls{Seconds: 70, RefreshEverySeconds: 25.6}, 3},
		"no refresh period":        {VendorCalls{Seconds: 70}, 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := scheduled(tc.v); got != tc.want {
				t.Fatalf("scheduled(%+v) = %d, want %d", tc.v, got, tc.want)
			}
		})
	}
}

func TestRenderMemory(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		heap     [3]int64
		want     []string
		wantNone []string
	}{
		"with the live heap": {
			heap: [3]int64{3 << 20, 3 << 20, 3<<20 + 10000*1500},
			want: []string{"| point | RSS | live heap |", "The live heap grew by 1,500 B per role read", "RSS grew by 2,048 B per role and token"},
		},
		"RSS only": {
			want:     []string{"| point | RSS |\n", "RSS grew by 2,048 B per role and token"},
			wantNone: []string{"live heap grew"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := fixture()
			in.Results.Memory.HeapBaselineBytes, in.Results.Memory.HeapRolesBytes, in.Results.Memory.HeapTokensBytes = tc.heap[0], tc.heap[1], tc.heap[2]
			checkSays(t, render(t, in), tc.want, tc.wantNone)
		})
	}
}

// TestRenderDoesNotBlameCallsOutsideTheHandler: a SystemView call seen
// only outside pathCredsRead (the framework's, made by every plugin) does
// not explain a slow creds read.
func TestRenderDoesNotBlameCallsOutsideTheHandler(t *testing.T) {
	t.Parallel()
	in := slowHitFixture()
	in.Results.Profile = &Profile{
		What:        "a profile",
		Plugin:      []string{pprofReplicationState},
		PluginCreds: []string{pprofCredsRead},
	}
	doc := render(t, in)
	if strings.Contains(doc, "SystemView calls") || !strings.Contains(doc, "See the profiles under") {
		t.Fatalf("a call outside the handler was blamed, or the profiles were not pointed to:\n%s", doc)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	in := `pkg: example.com/a
BenchmarkX-2	10	300 ns/op	5 B/op
BenchmarkY-2	10	1 ns/op
BenchmarkX-2	20	100 ns/op	5 B/op
pkg: example.com/b
BenchmarkX-2	1	7 ns/op
pkg: example.com/a
BenchmarkX-2	30	200 ns/op	6 B/op
BenchmarkX-2	30	900 ns/op	6 B/op
`
	parsed, err := ParseGoBench(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := Median(parsed)
	if len(got) != 3 || got[0].Name != "BenchmarkX" || got[1].Name != "BenchmarkY" || got[2].Pkg != "example.com/b" {
		t.Fatalf("groups %+v", got)
	}
	x := got[0]
	if x.Runs != 4 || x.N != 90 || x.Metrics["ns/op"] != 200 || x.Metrics["B/op"] != 5 {
		t.Fatalf("merged %+v; want 4 runs, N 90, the lower median 200 ns/op and 5 B/op", x)
	}
	if got[1].Runs != 1 || got[1].Metrics["ns/op"] != 1 {
		t.Fatalf("a single run %+v", got[1])
	}
}

func TestRenderMetricsCost(t *testing.T) {
	t.Parallel()
	pkg := "github.com/vault-palo/vault-plugin-secrets-palo/backend"
	in := fixture()
	in.GoBench = append(slices.DeleteFunc(slices.Clone(in.GoBench), func(b GoBench) bool { return b.Name == "BenchmarkCredsReadHit" }),
		GoBench{Pkg: pkg, Name: "BenchmarkCredsReadHit", Runs: 1, Metrics: map[string]float64{"ns/op": 8000, "allocs/op": 38}},
		GoBench{Pkg: pkg, Name: "BenchmarkMetricsObserveRead", Runs: 1, Metrics: map[string]float64{"ns/op": 40, "allocs/op": 0}},
		GoBench{Pkg: pkg, Name: "BenchmarkMetricsScrape", Runs: 1, Metrics: map[string]float64{"ns/op": 5.9e6}})
	checkSays(t, render(t, in), []string{"The metrics add 40 ns and 0 allocations to each read", "0.5% of a cache-hit read", "takes 5.9 ms"}, nil)
	if strings.Contains(render(t, fixture()), "The metrics add") {
		t.Error("a metrics cost without the benchmark that measures it")
	}
}

// scaleFixture is a scale run where every target is met: memory and the
// metrics grow with the configs, the next periodic run reads nothing.
func scaleFixture() *Scale {
	cp := func(n int, rssKiB int64, metricsBytes int, metricsUs float64) ScaleCheckpoint {
		return ScaleCheckpoint{
			Configs: n, WriteSeconds: 10, ConfigWriteP50Micros: 20000, RoleWriteP50Micros: 10000,
			Cold:               ScaleCold{Readers: 8, Reads: 1000, Seconds: 4, P50Micros: 12000, P99Micros: 30000},
			VendorConnsWriting: 3, VendorConnsReading: 1,
			RSSKiB: rssKiB, Metrics: Timed{Reads: 5, P50Micros: metricsUs, MinMicros: metricsUs / 2, MaxMicros: metricsUs * 2},
			MetricsBytes: metricsBytes, MetricsSeries: 9 * n, Cache: Timed{Reads: 5, P50Micros: 30000}, CacheBytes: 200 * n, CachedEntries: n,
		}
	}
	hit := func(target string, c int, p50 float64) Run {
		return Run{Target: target, Clients: c, Reads: 1000, P50Micros: p50, P99Micros: 3 * p50, PerSecond: 1000}
	}
	return &Scale{
		VaultVersion: "1.21.0", Command: "go test -run TestScale", Seconds: 300, Configs: 2000, Writers: 8, ColdReaders: 8,
		Checkpoints: []ScaleCheckpoint{cp(1000, 40000, 600_000, 150_000), cp(2000, 50000, 1_200_000, 300_000)},
		Rounds:      5, RunSeconds: 2,
		Hit:         []Run{hit("one", 1, 1000), hit("spread", 1, 1100), hit("one", 16, 6000), hit("spread", 16, 6600)},
		EmptyRSSKiB: 30000, AfterHitsRSSKiB: 52000,
		Heap:    ScaleHeap{EmptyBytes: 3 << 20, ConfigsBytes: 3<<20 + 2000*5120, Top: []string{pprofHeader}},
		Reloads: []Reload{{CallMillis: 120, UntilReadMillis: 160, Attempts: 1}, {CallMillis: 110, UntilReadMillis: 150, Attempts: 2}},
		Periodic: Periodic{
			RotatingConfigs: 200, StoredConfigs: 2200, Reload: Reload{CallMillis: 130, UntilReadMillis: 170, Attempts: 1},
			Windows: []PeriodicWindow{
				{What: WindowFirstRun, Seconds: 20, Runs: 1, RunMillis: 800, Gets: 2405, Lists: 6, PluginCPUMillis: 400, VaultCPUMillis: 600},
				{What: WindowQuiet, Seconds: 20, Gets: 3, Lists: 1, PluginCPUMillis: 10, VaultCPUMillis: 40},
				{What: WindowNextRun, Seconds: 20, Runs: 1, RunMillis: 2, Gets: 5, Lists: 6, PluginCPUMillis: 10, VaultCPUMillis: 50},
			},
		},
	}
}

func TestRenderScale(t *testing.T) {
	t.Parallel()
	rows := map[string]string{
		"hit":     "cache-hit read at 2,000 configs",
		"memory":  "plugin memory under 12 KB per config",
		"metrics": "`GET palo/metrics` at 2,000 configs",
	}
	cases := map[string]struct {
		change   func(*Scale)
		notMet   string
		mention  []string
		wantNone []string
	}{
		"every target met": {
			change: func(*Scale) {},
			mention: []string{
				"worst 1.10× (1 client)", "10,240 B per config", "1.20 MB, 300.0 ms (median of 5)",
				"| plugin RSS above the empty mount (29.3 MiB empty) | 9.8 MiB | 19.5 MiB | 2.00× | 10,240 B |",
				"| `GET palo/metrics`: samples | 9,000 | 18,000 | 2.00× | 9.0 |",
				"2,402 storage reads above the quiet window for 2,200 configs (1.09 per config",
				"The next run does not grow: 2 storage reads",
				"which took 5.0 minutes.",
				"| 2,000 | 110 ms | 150 ms | 2 |",
				"| 2,200 (before the periodic check below) | 130 ms | 170 ms | 1 |",
				"**5,120 B per config**; RSS per config is 2.00× that.",
			},
		},
		"spread reads slower": {
			change:  func(s *Scale) { s.Hit[3].P50Micros = 9000 },
			notMet:  "hit",
			mention: []string{"worst 1.50× (16 clients)"},
		},
		"too much memory": {
			change:  func(s *Scale) { s.Checkpoints[1].RSSKiB = 30000 + 2000*12 },
			notMet:  "memory",
			mention: []string{"12,288 B per config"},
		},
		"a slow scrape": {
			change:  func(s *Scale) { s.Checkpoints[1].Metrics.P50Micros = 600_000 },
			notMet:  "metrics",
			mention: []string{"600.0 ms (median of 5)"},
		},
		"targets in proportion to fewer configs": {
			change: func(s *Scale) {
				s.Configs = 200
				s.Checkpoints[0].Configs, s.Checkpoints[1].Configs = 100, 200
				s.Checkpoints[1].RSSKiB = s.EmptyRSSKiB + 1000
			},
			notMet:  "metrics",
			mention: []string{"under 0.15 MB and 0.05 s"},
		},
		"clients not shared on an empty mount": {
			change:  func(s *Scale) { s.Checkpoints[0].VendorConnsWriting = 40 },
			mention: []string{"**The writes on the empty mount opened 40 connections, those of the second half 3.**"},
		},
		"the next periodic run scans the configs": {
			change:   func(s *Scale) { s.Periodic.Windows[2].Gets = 2205 },
			mention:  []string{"**The next run read 2,202 more from storage than the quiet window**"},
			wantNone: []string{"The next run does not grow"},
		},
	}
	if doc := render(t, Input{Results: fixture().Results, Scale: scaleFixture()}); strings.Contains(doc, "The writes on the empty mount opened") {
		t.Error("a finding about unshared clients when the writes opened as few connections as the reads")
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := fixture()
			in.Scale = scaleFixture()
			tc.change(in.Scale)
			doc := render(t, in)
			at := map[string]string{}
			for row, prefix := range rows {
				at[row] = strings.Replace(prefix, "2,000", thousands(int64(in.Scale.Configs)), 1)
			}
			checkVerdicts(t, doc, at, tc.notMet)
			checkSays(t, doc, tc.mention, tc.wantNone)
		})
	}
}

func TestRenderScaleNotRun(t *testing.T) {
	t.Parallel()
	in := fixture()
	in.ScaleNote = "it failed."
	doc := render(t, in)
	if !strings.Contains(doc, "## Scale\n\nNot run: it failed.") {
		t.Errorf("no note in the scale section:\n%s", doc)
	}
	for _, prefix := range []string{"cache-hit read at 2,000 configs", "under 12 KB per config", "`GET palo/metrics` at 2,000"} {
		if line := targetLine(t, doc, prefix); !strings.Contains(line, "not measured") || !strings.Contains(line, "**not met**") {
			t.Errorf("targets row %q", line)
		}
	}
}
