// Package tokencache shares vendor tokens among all the readers of the
// engine, so that a fleet of readers makes one vendor call per token
// lifetime.
//
// It keeps one entry per Key (a distinct vendor login: config, credentials,
// token URL and effective scope) in memory only. A read (Get) is served from
// the entry while its token still qualifies; otherwise one vendor call is
// made for all concurrent readers of that key (singleflight), without any
// lock held across it. A background pass (RefreshDue) replaces tokens that
// are still being read shortly before they stop qualifying, and drops
// expired ones. When the vendor fails transiently, a cached token that still
// has life left is served with a warning; after a credential failure the
// failure is replayed for a while without calling the vendor.
//
// The cache is where reads, fetches and vendor HTTP requests are counted,
// per entry and per config (Counts); the engine's cache listing and its
// metrics both read those counts.
//
// The package knows tokens and clocks, not Vault.
package tokencache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/singleflight"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// Defaults of the cache's settings.
const (
	defaultRefreshWorkers = 4
	defaultRefreshLead    = 30 * time.Second
	defaultErrorBackoff   = time.Second
	defaultErrorRetention = 10 * time.Minute
)

// maxAttempts bounds how often Get starts over when a purge overtakes the
// fetch it was waiting for.
const maxAttempts = 3

// Key identifies one distinct vendor token. Logins with the same Key share
// one cached token, so it must cover everything that makes a token
// different: the config, a fingerprint of its credentials and token URL,
// and the effective scope or TSG. It is never shown (see Entries).
type Key string

// Source says where the token of a Result came from, or that the read
// failed; Counts.Reads counts reads by Source.
type Source uint8

const (
	// Failed: the read returned an error (the zero Result that comes with
	// an error has this Source).
	Failed Source = iota
	// Hit: the cached token qualified and was handed out.
	Hit
	// Fetched: a vendor call was made (by this reader or one it joined).
	Fetched
	// Stale: the vendor failed transiently and a cached token that no
	// longer qualifies, but still has its floor left, was handed out
	// instead. Result.Warnings says so.
	Stale
	numSources
)

// Sources lists every Source.
var Sources = []Source{Hit, Fetched, Stale, Failed}

func (s Source) String() string {
	switch s {
	case Failed:
		return "failed"
	case Hit:
		return "hit"
	case Fetched:
		return "fetched"
	case Stale:
		return "stale"
	default:
		return fmt.Sprintf("source(%d)", int(s))
	}
}

// FetchFunc makes one vendor token request. The context carries the
// login's Timeout and is not cancelled when the reader that started the
// fetch gives up, because other readers may be waiting on the same fetch.
type FetchFunc func(ctx context.Context) (provider.Token, error)

// Login is how to get the tokens of one Key: what depends only on the
// config and the role's scope. The caller builds it once per config version
// and passes the same *Login to every Get; the cache keeps the latest one
// of each entry for the background refresh. It is read-only once in use.
type Login struct {
	// Key identifies the token; see Key.
	Key Key
	// Config is the config's name: purged by PurgeConfig, shown by Entries
	// and named in warnings.
	Config string
	// Scope is the effective scope or TSG, shown by Entries.
	Scope string
	// Fetch makes the vendor call.
	Fetch FetchFunc
	// Timeout bounds one vendor fetch, retries included; required (Get
	// refuses a Login without one).
	Timeout time.Duration
	// FailFast is how long a credential failure (provider.IsCredentialError)
	// is replayed to readers of this key without calling the vendor; 0
	// turns it off.
	FailFast time.Duration
}

// Result is the outcome of a successful Get.
type Result struct {
	// Token is the vendor token. It is shared with other readers: treat it,
	// and its Extra map, as read-only.
	Token  provider.Token
	Source Source
	// Warnings are for the reader: a stale token, or a min_ttl that the
	// token's lifetime cannot meet.
	Warnings []string
}

// Options configures a Cache. Zero values mean the defaults.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives debug and warning lines (never a token); default
	// discards them.
	Logger hclog.Logger
	// RequestBuckets are the upper bounds, in increasing order, by which
	// Counts sorts the durations of vendor HTTP requests (Durations); none
	// by default.
	RequestBuckets []time.Duration
}

// FetchReason says why the cache calls the vendor.
type FetchReason uint8

const (
	// ReasonMiss: a reader found no token that qualifies for it.
	ReasonMiss FetchReason = iota
	// ReasonRefresh: RefreshDue replaces a token in use before it stops
	// qualifying.
	ReasonRefresh
	// ReasonAfterPurge: the first fetch for a config and scope whose
	// token was dropped by a purge (PurgeConfig, PurgeRole, PurgeAll).
	ReasonAfterPurge
	numReasons
)

// FetchReasons lists every FetchReason.
var FetchReasons = []FetchReason{ReasonMiss, ReasonRefresh, ReasonAfterPurge}

func (r FetchReason) String() string {
	switch r {
	case ReasonMiss:
		return "miss"
	case ReasonRefresh:
		return "refresh_ahead"
	case ReasonAfterPurge:
		return "after_purge"
	default:
		return fmt.Sprintf("reason(%d)", int(r))
	}
}

// Cache is the shared token cache. It is safe for concurrent use; the zero
// value is not usable, call New.
type Cache struct {
	now func() time.Time
	log hclog.Logger

	// workers is the most vendor calls one RefreshDue makes at once.
	workers int
	// lead is how long before a token stops qualifying RefreshDue replaces
	// it (capped for short-lived tokens, see refreshDue). It must exceed
	// the interval between RefreshDue calls plus a typical fetch.
	lead time.Duration
	// backoff is how long after a transient failure a reader that can be
	// served a stale token gets it without another vendor call, so an
	// outage does not turn every read into a request; negative turns it
	// off.
	backoff time.Duration
	// retention is how long an entry that holds no token (only the record
	// of a failed fetch) stays listed before RefreshDue drops it.
	retention time.Duration
	// buckets are Options.RequestBuckets.
	buckets []time.Duration

	group singleflight.Group

	mu      sync.RWMutex
	entries map[Key]*entry
	// purged remembers, by config and scope, when a purge dropped a
	// token, so the next fetch for them is counted as ReasonAfterPurge.
	// RefreshDue forgets marks older than the error retention.
	purged map[purgeMark]time.Time
	// configs holds, by config, the counts of its entries that were
	// dropped and of the events counted without an entry (see count).
	configs map[string]*counters
}

// entry is the state of one key. Fields without a note are guarded by
// Cache.mu; the atomics are updated on the read path under the read lock.
// It holds no goroutine or timer.
type entry struct {
	key    Key
	config string
	scope  string
	roles  []reader // sorted by role

	// login is the latest slow-path reader's, used by RefreshDue.
	login *Login

	token    provider.Token
	hasToken bool
	storedAt time.Time // when token was stored, on the cache's clock

	fetching   int  // fetches in flight for this entry
	purged     bool // removed by a purge: a fetch in flight must not store
	afterPurge bool // created after a purge of its config and scope, not fetched yet

	lastErr    string
	lastErrAt  time.Time
	staleUntil time.Time // transient-failure backoff (Cache.backoff)
	failErr    error     // credential failure being replayed
	failAt     time.Time
	failUntil  time.Time

	counts       counters
	lastRead     atomic.Int64 // UnixNano of the latest read that got a token
	maxThreshold atomic.Int64 // largest threshold readers of the current token asked for
}

// reader is a role that has read an entry, with the min_ttl it asked for.
type reader struct {
	role   string
	minTTL time.Duration
}

// New returns an empty cache.
func New(o Options) *Cache {
	c := &Cache{
		now:       o.Now,
		log:       o.Logger,
		workers:   defaultRefreshWorkers,
		lead:      defaultRefreshLead,
		backoff:   defaultErrorBackoff,
		retention: defaultErrorRetention,
		buckets:   slices.Clone(o.RequestBuckets),
		entries:   make(map[Key]*entry),
		purged:    make(map[purgeMark]time.Time),
		configs:   make(map[string]*counters),
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = hclog.NewNullLogger()
	}
	return c
}

// errPurged is returned by a fetch whose entry was purged before it could
// start; the readers waiting on it start over.
var errPurged = errors.New("token cache entry purged before the fetch started")

// errPurgedRepeatedly is returned when purges overtook every attempt.
var errPurgedRepeatedly = errors.New("the token cache was purged during every fetch attempt; read again")

// Get returns a token of l for role, whose readers want at least minTTL of
// it left (0: half its lifetime): the cached one while it qualifies,
// otherwise a fresh one from l.Fetch (one call for all concurrent readers
// of the key), otherwise, on a transient vendor failure, a stale cached
// token that still has its floor left. Each Get is counted under its
// Result's Source, or Failed.
//
// Errors are the vendor's (provider.IsTransient and IsCredentialError still
// apply), a *ReplayedError during a credential-failure cooldown, a
// *ShortLifetimeError when a fresh token has less than its floor left, or
// ctx.Err() when ctx ends first. They do not name the config: the caller
// adds that.
func (c *Cache) Get(ctx context.Context, l *Login, role string, minTTL time.Duration) (Result, error) {
	if l == nil || l.Fetch == nil || l.Timeout <= 0 {
		return Result{}, errors.New("tokencache: a login needs a Fetch function and a Timeout")
	}
	now := c.now()
	c.mu.RLock()
	if e := c.entries[l.Key]; e != nil && e.hasToken && e.hasRole(role) {
		thr, unmet := threshold(minTTL, e.token.Lifetime())
		if e.token.ExpiresAt.Sub(now) >= thr {
			tok := e.token
			e.counts.reads[Hit].Add(1)
			e.noteRead(now, thr)
			c.mu.RUnlock()
			return hit(l, role, minTTL, tok, unmet), nil
		}
	}
	c.mu.RUnlock()

	res, err := c.get(ctx, l, role, minTTL)
	c.countRead(l, res.Source)
	return res, err
}

// get is Get past the fast path; Get counts the read.
func (c *Cache) get(ctx context.Context, l *Login, role string, minTTL time.Duration) (Result, error) {
	for range maxAttempts {
		e, res, err, done := c.prepare(l, role, minTTL)
		if done {
			return res, err
		}
		ch := c.group.DoChan(string(l.Key), func() (any, error) {
			return c.fetch(context.WithoutCancel(ctx), e, l, ReasonMiss)
		})
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case r := <-ch:
			if errors.Is(r.Err, errPurged) {
				continue
			}
			return c.finish(l, role, minTTL, r)
		}
	}
	return Result{}, errPurgedRepeatedly
}

// hit is the answer that hands out a qualifying token, with the warning
// when the reader's min_ttl cannot be met.
func hit(l *Login, role string, minTTL time.Duration, tok provider.Token, unmet bool) Result {
	res := Result{Token: tok, Source: Hit}
	if unmet {
		res.Warnings = []string{unmetWarning(l.Config, role, minTTL, tok.Lifetime())}
	}
	return res
}

// prepare is the slow path under the write lock: it creates the entry if
// needed, records the reader's role and login, and answers at once when
// the token qualifies after all, when a stale token is to be served without
// a call (error backoff), or when a credential failure is being replayed.
// Otherwise it returns the entry to fetch for, with done false.
func (c *Cache) prepare(l *Login, role string, minTTL time.Duration) (e *entry, res Result, err error, done bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e = c.entries[l.Key]
	if e == nil {
		e = &entry{key: l.Key, config: l.Config, scope: l.Scope}
		c.initCounters(&e.counts)
		c.entries[l.Key] = e
		mark := purgeMark{config: l.Config, scope: l.Scope}
		if _, ok := c.purged[mark]; ok {
			delete(c.purged, mark)
			e.afterPurge = true
		}
	}
	e.addRole(role, minTTL)
	e.login = l

	if e.hasToken {
		remaining := e.token.ExpiresAt.Sub(now)
		thr, unmet := threshold(minTTL, e.token.Lifetime())
		if remaining >= thr {
			e.noteRead(now, thr)
			return e, hit(l, role, minTTL, e.token, unmet), nil, true
		}
		if now.Before(e.staleUntil) && remaining >= floor(e.token.Lifetime()) && remaining > 0 {
			e.noteRead(now, thr)
			return e, staleResult(l, e.token, remaining, e.lastErr), nil, true
		}
	}
	if now.Before(e.failUntil) {
		return e, Result{}, &ReplayedError{Err: e.failErr, FailedAt: e.failAt, Until: e.failUntil}, true
	}
	return e, Result{}, nil, false
}

// finish turns the shared outcome of a fetch into this reader's answer.
func (c *Cache) finish(l *Login, role string, minTTL time.Duration, r singleflight.Result) (Result, error) {
	now := c.now()
	if r.Err == nil {
		tok := r.Val.(provider.Token)
		remaining := tok.ExpiresAt.Sub(now)
		if f := floor(tok.Lifetime()); remaining < f || remaining <= 0 {
			return Result{}, &ShortLifetimeError{Remaining: remaining, Lifetime: tok.Lifetime(), Floor: f}
		}
		thr, unmet := threshold(minTTL, tok.Lifetime())
		c.mu.RLock()
		if e := c.entries[l.Key]; e != nil {
			e.noteRead(now, thr)
		}
		c.mu.RUnlock()
		res := hit(l, role, minTTL, tok, unmet)
		res.Source = Fetched
		return res, nil
	}
	if provider.IsTransient(r.Err) {
		c.mu.RLock()
		e := c.entries[l.Key]
		if e != nil && e.hasToken {
			remaining := e.token.ExpiresAt.Sub(now)
			if remaining >= floor(e.token.Lifetime()) && remaining > 0 {
				tok := e.token
				thr, _ := threshold(minTTL, tok.Lifetime())
				e.noteRead(now, thr)
				c.mu.RUnlock()
				return staleResult(l, tok, remaining, r.Err.Error()), nil
			}
		}
		c.mu.RUnlock()
	}
	return Result{}, r.Err
}

// staleResult builds the answer that serves a cached token through a vendor
// failure, with the warning that says so.
func staleResult(l *Login, tok provider.Token, remaining time.Duration, cause string) Result {
	w := fmt.Sprintf("the vendor token request for config %q failed (%s); serving a cached token with %ds of life left",
		l.Config, cause, int64(remaining/time.Second))
	return Result{Token: tok, Source: Stale, Warnings: []string{w}}
}

// hasRole reports whether role has read this entry. Called under either lock.
func (e *entry) hasRole(role string) bool {
	_, found := slices.BinarySearchFunc(e.roles, role, compareReader)
	return found
}

// addRole records role and its min_ttl, keeping roles sorted. Called under
// the write lock.
func (e *entry) addRole(role string, minTTL time.Duration) {
	i, found := slices.BinarySearchFunc(e.roles, role, compareReader)
	if found {
		e.roles[i].minTTL = minTTL
		return
	}
	e.roles = slices.Insert(e.roles, i, reader{role: role, minTTL: minTTL})
}

func compareReader(r reader, role string) int { return strings.Compare(r.role, role) }

// noteRead records a read that got a token at now and wanted at least thr
// of it left; RefreshDue uses both. Safe under the read lock.
func (e *entry) noteRead(now time.Time, thr time.Duration) {
	raise(&e.lastRead, now.UnixNano())
	raise(&e.maxThreshold, int64(thr))
}

// raise sets a to v if v is larger.
func raise(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// EndCooldown ends the credential-failure replay of every entry of config,
// keeping their tokens: after the config's credential was replaced by one
// that works (a rotation), the next read asks the vendor again at once.
func (c *Cache) EndCooldown(config string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.config == config {
			e.failErr, e.failAt, e.failUntil = nil, time.Time{}, time.Time{}
		}
	}
}
