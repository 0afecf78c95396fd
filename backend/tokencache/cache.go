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
// The package knows tokens and clocks, not Vault.
package tokencache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/singleflight"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// Defaults of Options and Request.
const (
	DefaultRefreshWorkers = 4
	DefaultRefreshLead    = 30 * time.Second
	DefaultErrorBackoff   = time.Second
	DefaultErrorRetention = 10 * time.Minute
	DefaultTimeout        = 30 * time.Second
	// DefaultRefreshInterval is Run's interval when given none; it must
	// stay well below DefaultRefreshLead.
	DefaultRefreshInterval = 2 * time.Second
)

// maxAttempts bounds how often Get starts over when a purge overtakes the
// fetch it was waiting for.
const maxAttempts = 3

// Key identifies one distinct vendor token. Requests with the same Key share
// one cached token, so it must cover everything that makes a token
// different: the config, a fingerprint of its credentials and token URL,
// and the effective scope or TSG. It is never shown (see Entries).
type Key string

// Source says where the token of a Result came from.
type Source uint8

const (
	// Hit: the cached token qualified and was handed out.
	Hit Source = iota + 1
	// Fetched: a vendor call was made (by this reader or one it joined).
	Fetched
	// Stale: the vendor failed transiently and a cached token that no
	// longer qualifies, but still has at least Request.Floor left, was
	// handed out instead. Result.Warnings says so.
	Stale
)

func (s Source) String() string {
	switch s {
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
// request's Timeout and is not cancelled when the reader that started the
// fetch gives up, because other readers may be waiting on the same fetch.
type FetchFunc func(ctx context.Context) (provider.Token, error)

// Request is one read of a token.
type Request struct {
	// Key identifies the token; see Key.
	Key Key
	// Config is the config's name: purged by PurgeConfig, shown by Entries
	// and named in warnings.
	Config string
	// Role is the reading role: purged by PurgeRole, listed by Entries.
	Role string
	// Scope is the effective scope or TSG, shown by Entries.
	Scope string

	// MinTTL is the least remaining life a cached token must have to be
	// handed to this reader; 0 means half the token's lifetime.
	MinTTL time.Duration
	// Floor is the least remaining life any token handed to this reader
	// must have, whether cached, stale or just fetched. A cached token
	// qualifies only while its remaining life is at least
	// max(MinTTL or lifetime/2, Floor).
	Floor time.Duration
	// FloorFor, when set, replaces Floor with a floor that depends on the
	// token's whole lifetime (a short-lived token needs a smaller margin).
	FloorFor func(lifetime time.Duration) time.Duration
	// Timeout bounds one vendor fetch; 0 means DefaultTimeout.
	Timeout time.Duration
	// FailFast is how long a credential failure (provider.IsCredentialError)
	// is replayed to readers of this key without calling the vendor; 0
	// turns it off.
	FailFast time.Duration

	// Fetch makes the vendor call. It is also kept (the latest reader's)
	// for the background refresh of the entry.
	Fetch FetchFunc
}

// Result is the outcome of a successful Get.
type Result struct {
	// Token is the vendor token. It is shared with other readers: treat it,
	// and its Extra map, as read-only.
	Token  provider.Token
	Source Source
	// Warnings are for the reader (set when Source is Stale).
	Warnings []string
}

// Options configures a Cache. Zero values mean the defaults.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives debug and warning lines (never a token); default
	// discards them.
	Logger hclog.Logger
	// RefreshWorkers is the most vendor calls one RefreshDue makes at once;
	// default DefaultRefreshWorkers.
	RefreshWorkers int
	// RefreshLead is how long before a token stops qualifying RefreshDue
	// replaces it, capped at a tenth of the token's lifetime so short-lived
	// tokens are not refreshed as soon as they arrive. It must exceed the
	// interval between RefreshDue calls plus a typical fetch. Default
	// DefaultRefreshLead.
	RefreshLead time.Duration
	// ErrorBackoff is how long after a transient failure a reader that can
	// be served a stale token gets it without another vendor call, so an
	// outage does not turn every read into a request. Default
	// DefaultErrorBackoff; negative turns it off.
	ErrorBackoff time.Duration
	// ErrorRetention is how long an entry that holds no token (only the
	// record of a failed fetch) stays listed before RefreshDue drops it.
	// Default DefaultErrorRetention.
	ErrorRetention time.Duration
}

// Cache is the shared token cache. It is safe for concurrent use; the zero
// value is not usable, call New.
type Cache struct {
	now       func() time.Time
	log       hclog.Logger
	workers   int
	lead      time.Duration
	backoff   time.Duration
	retention time.Duration

	group singleflight.Group

	mu      sync.RWMutex
	entries map[Key]*entry

	// onWait, when set (by tests only), is called once a reader has joined
	// or started a fetch and is about to wait for it.
	onWait func(Key)
	// onWorkersBusy, when set (by tests only), is called when RefreshDue
	// waits for a free worker.
	onWorkersBusy func()
}

// entry is the state of one key. Fields without a note are guarded by
// Cache.mu; the atomics are updated on the read path under the read lock.
// It holds no goroutine or timer.
type entry struct {
	key    Key
	config string
	scope  string
	roles  []string // sorted

	// The latest slow-path reader's settings, used by RefreshDue.
	fetch    FetchFunc
	timeout  time.Duration
	failFast time.Duration

	token    provider.Token
	hasToken bool
	storedAt time.Time // when token was stored, on the cache's clock

	fetching int  // fetches in flight for this entry
	purged   bool // removed by a purge: a fetch in flight must not store

	vendorCalls uint64
	lastErr     string
	lastErrAt   time.Time
	staleUntil  time.Time // transient-failure backoff (Options.ErrorBackoff)
	failErr     error     // credential failure being replayed
	failAt      time.Time
	failUntil   time.Time

	hits     atomic.Uint64
	lastRead atomic.Int64 // UnixNano of the latest read that got a token
	want     atomic.Int64 // largest threshold readers of the current token asked for
}

// New returns an empty cache.
func New(o Options) *Cache {
	c := &Cache{
		now:       o.Now,
		log:       o.Logger,
		workers:   o.RefreshWorkers,
		lead:      o.RefreshLead,
		backoff:   o.ErrorBackoff,
		retention: o.ErrorRetention,
		entries:   make(map[Key]*entry),
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = hclog.NewNullLogger()
	}
	if c.workers <= 0 {
		c.workers = DefaultRefreshWorkers
	}
	if c.lead <= 0 {
		c.lead = DefaultRefreshLead
	}
	if c.backoff == 0 {
		c.backoff = DefaultErrorBackoff
	}
	if c.retention <= 0 {
		c.retention = DefaultErrorRetention
	}
	return c
}

// errPurged is returned by a fetch whose entry was purged before it could
// start; the readers waiting on it start over.
var errPurged = errors.New("token cache entry purged before the fetch started")

// errPurgedRepeatedly is returned when purges overtook every attempt.
var errPurgedRepeatedly = errors.New("the token cache was purged during every fetch attempt; read again")

// Get returns a token for req: the cached one while it qualifies, otherwise
// a fresh one from req.Fetch (one call for all concurrent readers of the
// key), otherwise, on a transient vendor failure, a stale cached token with
// at least req.Floor left.
//
// Errors are the vendor's (provider.IsTransient and IsCredentialError still
// apply), a *ReplayedError during a credential-failure cooldown, a
// *ShortLifetimeError when a fresh token has less than req.Floor left, or
// ctx.Err() when ctx ends first. They do not name the config: the caller
// adds that.
func (c *Cache) Get(ctx context.Context, req Request) (Result, error) {
	if req.Fetch == nil {
		return Result{}, errors.New("tokencache: request has no Fetch function")
	}
	now := c.now()
	c.mu.RLock()
	if e := c.entries[req.Key]; e != nil && e.hasToken && e.hasRole(req.Role) {
		thr := threshold(req, e.token)
		if e.token.ExpiresAt.Sub(now) >= thr {
			tok := e.token
			e.hits.Add(1)
			e.noteRead(now, thr)
			c.mu.RUnlock()
			return Result{Token: tok, Source: Hit}, nil
		}
	}
	c.mu.RUnlock()

	for range maxAttempts {
		e, res, err, done := c.prepare(req)
		if done {
			return res, err
		}
		ch := c.group.DoChan(string(req.Key), func() (any, error) {
			return c.fetch(context.WithoutCancel(ctx), e, req.Fetch, req.Timeout, req.FailFast)
		})
		if c.onWait != nil {
			c.onWait(req.Key)
		}
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case r := <-ch:
			if errors.Is(r.Err, errPurged) {
				continue
			}
			return c.finish(req, r)
		}
	}
	return Result{}, errPurgedRepeatedly
}

// prepare is the slow path under the write lock: it creates the entry if
// needed, records the reader's role and settings, and answers at once when
// the token qualifies after all, when a stale token is to be served without
// a call (error backoff), or when a credential failure is being replayed.
// Otherwise it returns the entry to fetch for, with done false.
func (c *Cache) prepare(req Request) (e *entry, res Result, err error, done bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e = c.entries[req.Key]
	if e == nil {
		e = &entry{key: req.Key, config: req.Config, scope: req.Scope}
		c.entries[req.Key] = e
	}
	e.addRole(req.Role)
	e.fetch, e.timeout, e.failFast = req.Fetch, req.Timeout, req.FailFast

	if e.hasToken {
		remaining := e.token.ExpiresAt.Sub(now)
		thr := threshold(req, e.token)
		if remaining >= thr {
			e.hits.Add(1)
			e.noteRead(now, thr)
			return e, Result{Token: e.token, Source: Hit}, nil, true
		}
		if now.Before(e.staleUntil) && remaining >= req.floor(e.token) && remaining > 0 {
			e.hits.Add(1)
			e.noteRead(now, thr)
			return e, c.staleResult(req, e.token, remaining, e.lastErr), nil, true
		}
	}
	if now.Before(e.failUntil) {
		return e, Result{}, &ReplayedError{Err: e.failErr, FailedAt: e.failAt, Until: e.failUntil}, true
	}
	return e, Result{}, nil, false
}

// finish turns the shared outcome of a fetch into this reader's answer.
func (c *Cache) finish(req Request, r singleflight.Result) (Result, error) {
	now := c.now()
	if r.Err == nil {
		tok := r.Val.(provider.Token)
		remaining := tok.ExpiresAt.Sub(now)
		if floor := req.floor(tok); remaining < floor || remaining <= 0 {
			return Result{}, &ShortLifetimeError{Remaining: remaining, Lifetime: tok.Lifetime(), Floor: floor}
		}
		c.mu.RLock()
		if e := c.entries[req.Key]; e != nil {
			e.noteRead(now, threshold(req, tok))
		}
		c.mu.RUnlock()
		return Result{Token: tok, Source: Fetched}, nil
	}
	if provider.IsTransient(r.Err) {
		c.mu.RLock()
		e := c.entries[req.Key]
		if e != nil && e.hasToken {
			remaining := e.token.ExpiresAt.Sub(now)
			if remaining >= req.floor(e.token) && remaining > 0 {
				tok := e.token
				e.hits.Add(1)
				e.noteRead(now, threshold(req, tok))
				c.mu.RUnlock()
				return c.staleResult(req, tok, remaining, r.Err.Error()), nil
			}
		}
		c.mu.RUnlock()
	}
	return Result{}, r.Err
}

// staleResult builds the answer that serves a cached token through a vendor
// failure, with the warning that says so.
func (c *Cache) staleResult(req Request, tok provider.Token, remaining time.Duration, cause string) Result {
	w := fmt.Sprintf("the vendor token request for config %q failed (%s); serving a cached token with %ds of life left",
		req.Config, cause, int64(remaining/time.Second))
	return Result{Token: tok, Source: Stale, Warnings: []string{w}}
}

// threshold is the least remaining life a cached token must have to be
// handed to req's reader: max(MinTTL, or half the lifetime, Floor).
func threshold(req Request, tok provider.Token) time.Duration {
	least := req.MinTTL
	if least <= 0 {
		least = tok.Lifetime() / 2
	}
	return max(least, req.floor(tok))
}

// floor is the least remaining life tok must have to be handed out:
// FloorFor(its lifetime) when set, else Floor.
func (r Request) floor(tok provider.Token) time.Duration {
	if r.FloorFor != nil {
		return r.FloorFor(tok.Lifetime())
	}
	return r.Floor
}

// hasRole reports whether role has read this entry. Called under either lock.
func (e *entry) hasRole(role string) bool {
	_, found := slices.BinarySearch(e.roles, role)
	return found
}

// addRole records role, keeping roles sorted. Called under the write lock.
func (e *entry) addRole(role string) {
	if i, found := slices.BinarySearch(e.roles, role); !found {
		e.roles = slices.Insert(e.roles, i, role)
	}
}

// noteRead records a read that got a token at now and wanted at least thr
// of it left; RefreshDue uses both. Safe under the read lock.
func (e *entry) noteRead(now time.Time, thr time.Duration) {
	raise(&e.lastRead, now.UnixNano())
	raise(&e.want, int64(thr))
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
