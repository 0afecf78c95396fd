package tokencache

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// entryBudget is the most memory one cached entry may take, not counting
// the token string itself.
const entryBudget = 2048

// realisticRead builds a read shaped like the backend's: a key made of
// config name, a SHA-256 hex fingerprint and the scope; a Fetch closure
// capturing per-role parameters; a token carrying an Extra map.
func realisticRead(i int, tokenLen int, clock func() time.Time) testRead {
	config := "scm-prod"
	scope := fmt.Sprintf("tsg_id:%010d", 1000000000+i)
	fp := fmt.Sprintf("%064x", i)
	params := &struct{ config, scope string }{config, scope}
	return testRead{
		Key:    Key(config + "\x00" + fp + "\x00" + scope),
		Config: config,
		Role:   fmt.Sprintf("role-%05d", i),
		Scope:  scope,
		Fetch: func(context.Context) (provider.Token, error) {
			now := clock()
			return provider.Token{
				AccessToken: strings.Repeat("x", tokenLen-10) + fmt.Sprintf("%010d", i),
				TokenType:   "Bearer",
				Scope:       params.scope,
				IssuedAt:    now,
				ExpiresAt:   now.Add(15 * time.Minute),
				Extra:       map[string]string{"tsg_id": params.scope[7:]},
			}, nil
		},
	}
}

// bytesPerEntry fills a new cache with n entries and returns the heap they
// take per entry, less the token strings (tokenLen bytes each).
func bytesPerEntry(n, tokenLen int) float64 {
	now := time.Now
	// Measured from before the requests exist, so the key, role and scope
	// strings and the Fetch closure the cache keeps count as its own.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	c := New(Options{})
	for i := range n {
		if _, err := c.read(context.Background(), realisticRead(i, tokenLen, now)); err != nil {
			panic(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	return float64(after.HeapAlloc-before.HeapAlloc)/float64(n) - float64(tokenLen)
}

// TestMemoryPerEntry checks the memory budget. It does not run in parallel:
// other tests allocating at the same time would distort the measure.
func TestMemoryPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	got := bytesPerEntry(10000, 1000)
	t.Logf("%.0f bytes per entry beyond the token string", got)
	if got > entryBudget {
		t.Fatalf("%.0f bytes per cached entry beyond the token, budget %d", got, entryBudget)
	}
}

// cachedHit is a cache that holds one realistic token, with the login and
// the role that read it as a hit.
func cachedHit(b *testing.B) (*Cache, *Login, string) {
	b.Helper()
	c := New(Options{})
	req := realisticRead(1, 1000, time.Now)
	l := req.login()
	if _, err := c.Get(context.Background(), l, req.Role, 0); err != nil {
		b.Fatal(err)
	}
	return c, l, req.Role
}

// BenchmarkGetHit is the hot path: a read of a cached token that qualifies.
func BenchmarkGetHit(b *testing.B) {
	c, l, role := cachedHit(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Get(ctx, l, role, 0)
		if err != nil || res.Source != Hit {
			b.Fatalf("%v %v", res.Source, err)
		}
	}
}

// BenchmarkGetHitParallel is the hot path with readers on every CPU.
func BenchmarkGetHitParallel(b *testing.B) {
	c, l, role := cachedHit(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if res, err := c.Get(ctx, l, role, 0); err != nil || res.Source != Hit {
				b.Errorf("%v %v", res.Source, err)
				return
			}
		}
	})
}

// BenchmarkGetMiss is the cache's own cost on the cold path, with a Fetch
// that answers at once: purge, then a read that fetches.
func BenchmarkGetMiss(b *testing.B) {
	c, l, role := cachedHit(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.PurgeAll()
		if res, err := c.Get(ctx, l, role, 0); err != nil || res.Source != Fetched {
			b.Fatalf("%v %v", res.Source, err)
		}
	}
}

// BenchmarkBytesPerEntry reports the heap per cached entry, beyond the
// token string, with 10,000 entries.
func BenchmarkBytesPerEntry(b *testing.B) {
	var sum float64
	for b.Loop() {
		sum += bytesPerEntry(10000, 1000)
	}
	b.ReportMetric(sum/float64(b.N), "B/entry")
}
