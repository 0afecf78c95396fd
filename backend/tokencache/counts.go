package tokencache

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// Endpoint is the vendor API an HTTP request went to.
type Endpoint uint8

const (
	// TokenEndpoint is the vendor's token endpoint: the requests whose
	// provider.Attempt has no Op (token requests).
	TokenEndpoint Endpoint = iota
	// IAMEndpoint is the vendor's account management API, which secret
	// rotation calls: the requests whose provider.Attempt names an Op.
	IAMEndpoint
	numEndpoints
)

// endpointOf is the Endpoint attempt a went to.
func endpointOf(a provider.Attempt) Endpoint {
	if a.Op != "" {
		return IAMEndpoint
	}
	return TokenEndpoint
}

// Endpoints lists every Endpoint.
var Endpoints = []Endpoint{TokenEndpoint, IAMEndpoint}

func (e Endpoint) String() string {
	if e == IAMEndpoint {
		return "iam"
	}
	return "token"
}

// outcomeIndex numbers provider.Outcomes, the outcomes requests are counted
// by.
var outcomeIndex = func() map[string]int {
	m := make(map[string]int, len(provider.Outcomes))
	for i, o := range provider.Outcomes {
		m[o] = i
	}
	return m
}()

// Counts is what the cache counted for one entry (EntryInfo.Counts) or one
// config (Cache.Counts). The cache is the only place these events are
// counted; its listing and the engine's metrics both read them here.
type Counts struct {
	reads    [numSources]uint64
	fetches  [numReasons]uint64
	requests [numEndpoints][]uint64 // by provider.Outcomes index
	buckets  [numEndpoints][]uint64 // by Options.RequestBuckets, the last for longer ones
	duration [numEndpoints]time.Duration
}

// Reads is how many reads (Get calls) ended with s; Failed counts those
// that returned an error.
func (c Counts) Reads(s Source) uint64 { return c.reads[s] }

// Fetches is how many vendor fetches were made for reason r, failed ones
// included.
func (c Counts) Fetches(r FetchReason) uint64 { return c.fetches[r] }

// Requests is how many HTTP requests to ep ended with outcome (one of
// provider.Outcomes), every retry counted.
func (c Counts) Requests(ep Endpoint, outcome string) uint64 {
	i, ok := outcomeIndex[outcome]
	if !ok || c.requests[ep] == nil {
		return 0
	}
	return c.requests[ep][i]
}

// Durations are the durations of the HTTP requests to ep: how many took
// at most each bound of Options.RequestBuckets and more than the bound
// before it, with one more for those above the last bound; and their sum.
func (c Counts) Durations(ep Endpoint) (buckets []uint64, sum time.Duration) {
	return c.buckets[ep], c.duration[ep]
}

// Hits is how many reads got a cached token: hits and stale ones.
func (c Counts) Hits() uint64 { return c.reads[Hit] + c.reads[Stale] }

// VendorCalls is how many vendor fetches were made, for any reason.
func (c Counts) VendorCalls() uint64 { return sum(c.fetches[:]) }

// HTTPRequests is how many HTTP requests were sent to the vendor, retries
// included: what vendor rate limits count.
func (c Counts) HTTPRequests() uint64 {
	var n uint64
	for _, r := range c.requests {
		n += sum(r)
	}
	return n
}

// Add adds o to c, for totals over several configs.
func (c *Counts) Add(o Counts) {
	addTo(c.reads[:], o.reads[:])
	addTo(c.fetches[:], o.fetches[:])
	for ep := range numEndpoints {
		c.requests[ep] = addTo(c.requests[ep], o.requests[ep])
		c.buckets[ep] = addTo(c.buckets[ep], o.buckets[ep])
		c.duration[ep] += o.duration[ep]
	}
}

// addTo adds src to dst element by element, growing dst to src's length,
// and returns dst.
func addTo(dst, src []uint64) []uint64 {
	if len(dst) < len(src) {
		dst = append(dst, make([]uint64, len(src)-len(dst))...)
	}
	for i, v := range src {
		dst[i] += v
	}
	return dst
}

func sum(s []uint64) uint64 {
	var n uint64
	for _, v := range s {
		n += v
	}
	return n
}

// counters are the live counts of an entry or a config. They are updated
// with the cache's lock held for reading or writing, and moved (moveTo)
// only under the write lock, so no update is lost or counted twice.
type counters struct {
	reads    [numSources]atomic.Uint64
	fetches  [numReasons]atomic.Uint64
	requests [numEndpoints][]atomic.Uint64
	buckets  [numEndpoints][]atomic.Uint64
	nanos    [numEndpoints]atomic.Int64
}

// newCounters makes counters for the cache's request buckets.
func (c *Cache) newCounters() *counters {
	k := &counters{}
	c.initCounters(k)
	return k
}

func (c *Cache) initCounters(k *counters) {
	for ep := range numEndpoints {
		k.requests[ep] = make([]atomic.Uint64, len(provider.Outcomes))
		k.buckets[ep] = make([]atomic.Uint64, len(c.buckets)+1)
	}
}

// request counts one HTTP attempt, sorted into buckets.
func (k *counters) request(a provider.Attempt, buckets []time.Duration) {
	ep := endpointOf(a)
	k.requests[ep][outcomeIndex[a.Outcome()]].Add(1)
	i, _ := slices.BinarySearch(buckets, a.Duration)
	k.buckets[ep][i].Add(1)
	k.nanos[ep].Add(int64(a.Duration))
}

// snapshot adds the current counts to s.
func (k *counters) snapshot(s *Counts) {
	load := func(dst []uint64, src []atomic.Uint64) []uint64 {
		if len(dst) < len(src) {
			dst = append(dst, make([]uint64, len(src)-len(dst))...)
		}
		for i := range src {
			dst[i] += src[i].Load()
		}
		return dst
	}
	load(s.reads[:], k.reads[:])
	load(s.fetches[:], k.fetches[:])
	for ep := range numEndpoints {
		s.requests[ep] = load(s.requests[ep], k.requests[ep])
		s.buckets[ep] = load(s.buckets[ep], k.buckets[ep])
		s.duration[ep] += time.Duration(k.nanos[ep].Load())
	}
}

// moveTo adds k's counts to dst and zeroes k. Called under the write lock.
func (k *counters) moveTo(dst *counters) {
	move := func(dst, src []atomic.Uint64) {
		for i := range src {
			dst[i].Add(src[i].Swap(0))
		}
	}
	move(dst.reads[:], k.reads[:])
	move(dst.fetches[:], k.fetches[:])
	for ep := range numEndpoints {
		move(dst.requests[ep], k.requests[ep])
		move(dst.buckets[ep], k.buckets[ep])
		dst.nanos[ep].Add(k.nanos[ep].Swap(0))
	}
}

// count applies add to the counters an event of config belongs to: those
// of entry e while e is in the cache, else the config's own, which keep the
// counts of its dropped entries. e may be nil.
func (c *Cache) count(e *entry, config string, add func(*counters)) {
	c.mu.RLock()
	if k := c.countersLocked(e, config); k != nil {
		add(k)
		c.mu.RUnlock()
		return
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	add(c.countersForLocked(e, config))
}

// countersLocked returns e's counters if e is in the cache, else config's
// if it has any. Called under either lock.
func (c *Cache) countersLocked(e *entry, config string) *counters {
	if e != nil && c.entries[e.key] == e {
		return &e.counts
	}
	return c.configs[config]
}

// countersForLocked is countersLocked, making config's counters when it
// has none. Called under the write lock.
func (c *Cache) countersForLocked(e *entry, config string) *counters {
	if k := c.countersLocked(e, config); k != nil {
		return k
	}
	return c.configCountersLocked(config)
}

// configCountersLocked returns config's own counters, making them if
// needed. Called under the write lock.
func (c *Cache) configCountersLocked(config string) *counters {
	k := c.configs[config]
	if k == nil {
		k = c.newCounters()
		c.configs[config] = k
	}
	return k
}

// retireLocked moves the counts of e, which is leaving the cache, to its
// config. Called under the write lock.
func (c *Cache) retireLocked(e *entry) {
	e.counts.moveTo(c.configCountersLocked(e.config))
}

// countRead counts a read of l's key that ended with s.
func (c *Cache) countRead(l *Login, s Source) {
	c.mu.RLock()
	e := c.entries[l.Key]
	c.mu.RUnlock()
	c.count(e, l.Config, func(k *counters) { k.reads[s].Add(1) })
}

// CountRequests returns ctx carrying an observer (provider.WithObserver)
// that counts every vendor HTTP request made with it as config's: for the
// requests the caller makes outside the cache (a connection check, a
// secret rotation). The cache's own fetches count theirs.
func (c *Cache) CountRequests(ctx context.Context, config string) context.Context {
	return provider.WithObserver(ctx, func(a provider.Attempt) {
		c.count(nil, config, func(k *counters) { k.request(a, c.buckets) })
	})
}

// Counts returns the counts of every config the cache has counted for:
// those of its entries, of its entries already dropped (swept, purged),
// and of the requests counted through CountRequests. A config's counts
// never go down until ForgetConfigs drops them.
func (c *Cache) Counts() map[string]Counts {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]Counts, len(c.configs))
	add := func(config string, k *counters) {
		s := out[config]
		k.snapshot(&s)
		out[config] = s
	}
	for config, k := range c.configs {
		add(config, k)
	}
	for _, e := range c.entries {
		add(e.config, &e.counts)
	}
	return out
}

// ForgetConfigs drops the counts of every config without an entry for
// which gone returns true: the caller's way to forget deleted configs.
// gone is called with the cache locked and must not call the cache.
func (c *Cache) ForgetConfigs(gone func(config string) bool) {
	live := func() map[string]bool {
		m := make(map[string]bool, len(c.configs))
		for _, e := range c.entries {
			m[e.config] = true
		}
		return m
	}
	c.mu.RLock()
	inUse, found := live(), false
	for config := range c.configs {
		if !inUse[config] && gone(config) {
			found = true
			break
		}
	}
	c.mu.RUnlock()
	if !found {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	inUse = live()
	for config := range c.configs {
		if !inUse[config] && gone(config) {
			delete(c.configs, config)
		}
	}
}
