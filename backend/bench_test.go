package backend

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

// The benchmarks below measure the creds read path inside the plugin:
// through the framework's routing (HandleRequest, as Vault's gRPC server
// calls it) on in-memory storage, without Vault or the gRPC hop. Run them
// with -benchmem for allocations per read; `make bench` does and puts them
// into BENCHMARKS.md. The system view here is a static one: in a real
// Vault each SystemView call is a gRPC round trip back to Vault, which these
// figures do not include (the end-to-end benchmark in bench/vaultbench
// does).

// benchEnv is one backend on in-memory storage with a TLS fake vendor, a
// config of the demo SCM account and a role per lease mode.
type benchEnv struct {
	b       *paloBackend
	storage *logical.InmemStorage
	vendor  *fakevendor.TestServer
}

func newBenchEnv(tb testing.TB) *benchEnv {
	tb.Helper()
	e := newEmptyBenchEnv(tb)
	scm := demoAccount(fakevendor.ProviderSCM)
	e.write(tb, "config/scm", map[string]any{
		"provider": "paloalto_scm", "token_url": e.vendor.TokenURL(fakevendor.ProviderSCM),
		"ca_cert": string(e.vendor.CACertPEM()), "client_id": scm.ClientID, "client_secret": scm.ClientSecret,
		"tsg_id": scm.TSGIDs[0],
	})
	e.write(tb, "roles/leased", map[string]any{"config": "scm"})
	e.write(tb, "roles/unleased", map[string]any{"config": "scm", "lease": false})
	return e
}

// newEmptyBenchEnv is a backend on in-memory storage and a TLS fake vendor
// of the demo accounts, with nothing written yet.
func newEmptyBenchEnv(tb testing.TB) *benchEnv {
	tb.Helper()
	b, storage := newTestBackend(tb, nil)
	return &benchEnv{b: b, storage: storage, vendor: fakevendor.NewTLSTestServer(tb, fakevendor.DemoAccounts()...)}
}

// demoAccount is the fake vendor's demo account of provider p.
func demoAccount(p string) fakevendor.Account {
	a, _ := fakevendor.DemoAccount(p)
	return a
}

// write creates or updates path as Vault would: an existence check first.
func (e *benchEnv) write(tb testing.TB, path string, data map[string]any) {
	tb.Helper()
	req := &logical.Request{Operation: logical.CreateOperation, Path: path, Data: data, Storage: e.storage, MountPoint: "palo/"}
	if _, exists, err := e.b.HandleExistenceCheck(context.Background(), req); err != nil {
		tb.Fatalf("existence check %s: %v", path, err)
	} else if exists {
		req.Operation = logical.UpdateOperation
	}
	resp, err := e.b.HandleRequest(context.Background(), req)
	if err != nil || resp.IsError() {
		tb.Fatalf("write %s: %v %v", path, err, resp.Error())
	}
}

// read returns a reader of creds/<role>; the request is built once, as
// the framework gets a fresh one from the gRPC layer for each call.
func (e *benchEnv) read(role string) func(context.Context) (*logical.Response, error) {
	return func(ctx context.Context) (*logical.Response, error) {
		return e.b.HandleRequest(ctx, &logical.Request{
			Operation: logical.ReadOperation, Path: "creds/" + role, Storage: e.storage, MountPoint: "palo/",
		})
	}
}

// benchmarkHit reads creds/<role> of a cached token.
func benchmarkHit(b *testing.B, role string, wantLease bool) {
	e := newBenchEnv(b)
	read := e.read(role)
	ctx := context.Background()
	if _, err := read(ctx); err != nil { // the one vendor call
		b.Fatal(err)
	}
	calls := e.vendor.Stats().Requests
	b.ReportAllocs()
	for b.Loop() {
		resp, err := read(ctx)
		if err != nil || resp == nil || resp.IsError() || (resp.Secret != nil) != wantLease {
			b.Fatalf("read creds/%s: %v %#v", role, err, resp)
		}
	}
	if n := e.vendor.Stats().Requests - calls; n != 0 {
		b.Fatalf("%d vendor calls during cache-hit reads", n)
	}
}

// BenchmarkCredsReadHit is the hot path: a leased read of a cached token.
func BenchmarkCredsReadHit(b *testing.B) { benchmarkHit(b, "leased", true) }

// BenchmarkCredsReadHitUnleased is the same for a role with lease=false.
func BenchmarkCredsReadHitUnleased(b *testing.B) { benchmarkHit(b, "unleased", false) }

// BenchmarkCredsReadHitParallel is the hot path with readers on every CPU.
func BenchmarkCredsReadHitParallel(b *testing.B) {
	e := newBenchEnv(b)
	read := e.read("leased")
	if _, err := read(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if resp, err := read(ctx); err != nil || resp.IsError() {
				b.Errorf("read: %v %v", err, resp.Error())
				return
			}
		}
	})
}

// BenchmarkCredsReadMiss is the cold path: purge, then a read that makes
// one vendor call over a kept-alive TLS connection to the in-process fake
// vendor (so it includes that exchange, on both ends).
func BenchmarkCredsReadMiss(b *testing.B) {
	e := newBenchEnv(b)
	read := e.read("leased")
	ctx := context.Background()
	if _, err := read(ctx); err != nil {
		b.Fatal(err)
	}
	calls := e.vendor.Stats().Requests
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		e.b.cache.PurgeAll()
		if resp, err := read(ctx); err != nil || resp.IsError() {
			b.Fatalf("read: %v %v", err, resp.Error())
		}
		n++
	}
	if got := e.vendor.Stats().Requests - calls; got != int64(n) {
		b.Fatalf("%d reads after a purge made %d vendor calls", n, got)
	}
}

// BenchmarkBareFetch is the vendor exchange alone, as the engine makes it on
// a miss (the config's client and parameters, the same kept-alive TLS
// connection to the in-process fake vendor): what BenchmarkCredsReadMiss
// adds to BenchmarkCredsReadHit should be little more than this.
func BenchmarkBareFetch(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	cfg, err := e.b.liveConfig(ctx, e.storage, "scm")
	if err != nil || cfg == nil {
		b.Fatalf("config: %v", err)
	}
	params := cfg.entry.params(&roleEntry{Config: "scm"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.client.Fetch(ctx, params); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMetricsScrape renders the metrics of 100 configs with a cached
// token each: the cost of one Prometheus scrape inside the plugin.
func BenchmarkMetricsScrape(b *testing.B) {
	e := newBenchEnv(b)
	scm, err := e.b.liveConfig(context.Background(), e.storage, "scm")
	if err != nil || scm == nil {
		b.Fatalf("config: %v", err)
	}
	for i := range 100 {
		name := fmt.Sprintf("scm-%03d", i)
		e.b.metrics.noteConfig(name, scm.entry)
		login := &tokencache.Login{
			Key: tokencache.Key(name), Config: name, Scope: "tsg_id:1", Timeout: time.Minute,
			Fetch: func(ctx context.Context) (provider.Token, error) { return scm.client.Fetch(ctx, scm.entry.params(nil)) },
		}
		if _, err := e.b.cache.Get(context.Background(), login, "r", 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.b.metrics.exposition(); err != nil {
			b.Fatal(err)
		}
	}
}
