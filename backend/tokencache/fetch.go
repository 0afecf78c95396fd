package tokencache

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// ReplayedError is returned, without calling the vendor, while a credential
// failure of the key is being replayed (Login.FailFast). It unwraps to the
// original failure, so provider.IsCredentialError still holds.
type ReplayedError struct {
	Err      error     // the vendor's credential failure
	FailedAt time.Time // when the vendor answered with it
	Until    time.Time // when the vendor will be asked again
}

func (e *ReplayedError) Error() string {
	return fmt.Sprintf("%v (credential failure at %s, replayed without calling the vendor; next attempt after %s, or sooner after the config is written or its cache purged)",
		e.Err, e.FailedAt.UTC().Format(time.RFC3339), e.Until.UTC().Format(time.RFC3339))
}

func (e *ReplayedError) Unwrap() error { return e.Err }

// ShortLifetimeError is returned when a freshly fetched token has less than
// its floor (its margin plus a second) of life left, too little to hand out.
type ShortLifetimeError struct {
	Remaining time.Duration
	Lifetime  time.Duration
	Floor     time.Duration
}

func (e *ShortLifetimeError) Error() string {
	return fmt.Sprintf("the vendor issued a token with %s of life left (lifetime %s), less than the %s needed to hand it out",
		e.Remaining.Truncate(time.Millisecond), e.Lifetime.Truncate(time.Millisecond), e.Floor)
}

// errFetchPanicked replaces a panic in a FetchFunc. The panic value is not
// included, as it could hold request details.
var errFetchPanicked = errors.New("the token request failed unexpectedly (internal error; see the server log)")

// fetch is the singleflight function: one vendor call for entry e, whose
// outcome is stored in e unless e has been purged meanwhile. ctx is already
// detached from any single reader; fetch bounds it by l.Timeout, and counts
// every HTTP request made with it (provider.WithObserver).
//
// reason is why the fetch is made, and what it is counted under when it
// ends; a reader's first fetch of an entry created after a purge counts as
// ReasonAfterPurge instead of ReasonMiss.
func (c *Cache) fetch(ctx context.Context, e *entry, l *Login, reason FetchReason) (any, error) {
	c.mu.Lock()
	if e.purged {
		c.mu.Unlock()
		return nil, errPurged
	}
	switch cur := c.entries[e.key]; {
	case cur == nil:
		// Swept between the reader's look-up and now: put it back.
		c.entries[e.key] = e
	case cur != e:
		// Swept and recreated by another reader: fetch for the live one.
		e = cur
	}
	e.fetching++
	if e.afterPurge {
		e.afterPurge = false
		if reason == ReasonMiss {
			reason = ReasonAfterPurge
		}
	}
	c.mu.Unlock()

	fctx, cancel := context.WithTimeout(provider.WithObserver(ctx, func(a provider.Attempt) {
		c.count(e, e.config, func(k *counters) { k.request(a, c.buckets) })
	}), l.Timeout)
	tok, err := c.call(fctx, l.Fetch)
	cancel()

	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e.fetching--
	c.countersForLocked(e, e.config).fetches[reason].Add(1)
	if err != nil {
		if !e.purged {
			c.recordFailure(e, err, now, l.FailFast)
		}
		return nil, err
	}
	if tok.IssuedAt.IsZero() {
		tok.IssuedAt = now
	}
	if !e.purged && tok.ExpiresAt.After(now) {
		e.token = tok
		e.hasToken = true
		e.storedAt = now
		e.maxThreshold.Store(0)
		e.staleUntil = time.Time{}
		e.failErr, e.failAt, e.failUntil = nil, time.Time{}, time.Time{}
	}
	return tok, nil
}

// recordFailure notes a failed fetch in e: the last error, the transient
// backoff, or the start of a credential-failure replay. The old token stays.
func (c *Cache) recordFailure(e *entry, err error, now time.Time, failFast time.Duration) {
	e.lastErr = err.Error()
	e.lastErrAt = now
	switch {
	case provider.IsCredentialError(err) && failFast > 0:
		e.failErr, e.failAt, e.failUntil = err, now, now.Add(failFast)
	case provider.IsTransient(err) && c.backoff > 0:
		e.staleUntil = now.Add(c.backoff)
	}
}

// call runs f, turning a panic into an error so that one bad response
// cannot take the process down.
func (c *Cache) call(ctx context.Context, f FetchFunc) (tok provider.Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("token fetch panicked", "stack", string(debug.Stack()))
			tok, err = provider.Token{}, errFetchPanicked
		}
	}()
	return f(ctx)
}
