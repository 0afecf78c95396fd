package tokencache

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// refreshJob is a snapshot, taken under the lock, of what a refresh needs.
type refreshJob struct {
	e       *entry
	expires time.Time
	login   *Login
}

// RefreshDue sweeps and refreshes the cache. Call it every few seconds; the
// interval must be well below the refresh lead (30 seconds).
//
// Sweep: an entry is dropped when no fetch for it is in flight, no
// credential failure is being replayed, and either its token has expired or
// it holds no token and its last failure is older than
// the error retention (ten minutes). Its counts stay with its config.
//
// Refresh: an entry's token is replaced when all of these hold:
//   - it was read since it was stored (the read that fetched it counts),
//     and the latest such read is no older than half the token's lifetime:
//     the entry is "in use"; an idle entry is left to expire;
//   - its remaining life is at most T + lead, where T is the largest
//     threshold (see threshold) that readers of this token asked for, and
//     lead is 30 seconds capped at a tenth of the lifetime and at half of
//     lifetime - T (so a fresh token serves for a while before its
//     replacement is due); and T is shorter than the lifetime (otherwise
//     no new token could qualify either);
//   - no fetch is in flight, and it is not in a credential-failure replay
//     or a transient-failure backoff.
//
// A refresh goes through the same singleflight as readers, so a reader and
// the refresher never both call the vendor for one key. At most four
// refreshes run at once; RefreshDue returns when they
// are done or ctx ends (which also cancels them). A failed refresh records
// the error and keeps the old token.
func (c *Cache) RefreshDue(ctx context.Context) {
	now := c.now()
	var jobs []refreshJob
	swept := 0

	c.mu.Lock()
	for m, at := range c.purged {
		if now.Sub(at) >= c.retention {
			delete(c.purged, m)
		}
	}
	for k, e := range c.entries {
		if e.sweepable(now, c.retention) {
			delete(c.entries, k)
			c.retireLocked(e)
			swept++
			continue
		}
		if e.refreshDue(now, c.lead) {
			jobs = append(jobs, refreshJob{e: e, expires: e.token.ExpiresAt, login: e.login})
		}
	}
	c.mu.Unlock()
	if swept > 0 {
		c.log.Debug("dropped expired token cache entries", "count", swept)
	}
	if len(jobs) == 0 {
		return
	}

	// The most urgent first.
	slices.SortFunc(jobs, func(a, b refreshJob) int { return cmp.Compare(a.expires.UnixNano(), b.expires.UnixNano()) })

	var wg sync.WaitGroup
	sem := make(chan struct{}, c.workers)
	for _, j := range jobs {
		if !c.acquire(ctx, sem) {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c.refresh(ctx, j)
		})
	}
	wg.Wait()
}

// acquire takes a refresh worker slot, waiting while all are busy. It
// returns false when ctx ends first.
func (c *Cache) acquire(ctx context.Context, sem chan struct{}) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// refresh replaces one entry's token through the singleflight. A failure
// is logged, and recorded in the entry by fetch.
func (c *Cache) refresh(ctx context.Context, j refreshJob) {
	ch := c.group.DoChan(string(j.e.key), func() (any, error) {
		return c.fetch(ctx, j.e, j.login, ReasonRefresh)
	})
	select {
	case <-ctx.Done():
	case r := <-ch:
		if r.Err != nil && !errors.Is(r.Err, errPurged) {
			c.log.Warn("background token refresh failed; the cached token is kept", "config", j.e.config, "scope", j.e.scope, "error", r.Err.Error())
		}
	}
}

// sweepable reports whether RefreshDue may drop e. Called under the write lock.
func (e *entry) sweepable(now time.Time, retention time.Duration) bool {
	if e.fetching > 0 || now.Before(e.failUntil) {
		return false
	}
	if e.hasToken {
		return !now.Before(e.token.ExpiresAt)
	}
	return now.Sub(e.lastErrAt) >= retention
}

// refreshDue reports whether RefreshDue should replace e's token now (see
// RefreshDue for the rule). Called under the write lock.
func (e *entry) refreshDue(now time.Time, lead time.Duration) bool {
	if !e.hasToken || e.login == nil || e.fetching > 0 || now.Before(e.failUntil) || now.Before(e.staleUntil) {
		return false
	}
	life := e.token.Lifetime()
	last := e.lastRead.Load()
	if last == 0 || last < e.storedAt.UnixNano() || now.UnixNano()-last > int64(life/2) {
		return false
	}
	thr := time.Duration(e.maxThreshold.Load())
	if thr <= 0 {
		thr = life / 2
	}
	if thr >= life {
		// No token of this lifetime can qualify for these readers: they
		// fetch for themselves, and a refresh would only add a call.
		return false
	}
	return e.token.ExpiresAt.Sub(now) <= thr+min(lead, life/10, (life-thr)/2)
}
