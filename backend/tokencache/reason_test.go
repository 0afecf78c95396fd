package tokencache

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestFetchesAreCountedByReason(t *testing.T) {
	t.Parallel()
	clock := newClock()
	v := newVendor(clock, time.Hour)
	c := newCache(clock)
	req := v.request("k", "r")
	var last Counts
	expect := func(step string, miss, refresh, afterPurge uint64) {
		t.Helper()
		now := c.Counts()["scm-prod"]
		got := []uint64{
			now.Fetches(ReasonMiss) - last.Fetches(ReasonMiss),
			now.Fetches(ReasonRefresh) - last.Fetches(ReasonRefresh),
			now.Fetches(ReasonAfterPurge) - last.Fetches(ReasonAfterPurge),
		}
		if want := []uint64{miss, refresh, afterPurge}; !slices.Equal(got, want) {
			t.Fatalf("%s: fetches by reason (miss, refresh_ahead, after_purge) rose by %v, want %v", step, got, want)
		}
		last = now
	}

	expectSource(t, c, req, Fetched)
	expect("first read", 1, 0, 0)
	expectSource(t, c, req, Hit)
	expect("cache hit", 0, 0, 0)

	clock.Advance(dueAfter)
	if rep := refreshDue(context.Background(), c); rep.refreshed != 1 {
		t.Fatalf("RefreshDue = %+v, want one refresh", rep)
	}
	expect("refresh", 0, 1, 0)

	// A purge, then a read under a new key (the config was written): the
	// fetch is counted once as after_purge, and the next miss as a miss.
	c.PurgeConfig("scm-prod")
	expect("purge", 0, 0, 0)
	expectSource(t, c, v.request("k2", "r"), Fetched)
	expect("read after purge", 0, 0, 1)
	clock.Advance(time.Hour)
	expectSource(t, c, v.request("k2", "r"), Fetched)
	expect("read of an expired token", 1, 0, 0)

	// A purge of an entry that held no token (only a failure) is no
	// reason: the next fetch is a miss like the failed one.
	v.setErr(errBadRequest)
	if _, err := c.read(context.Background(), v.request("k3", "other")); err == nil {
		t.Fatal("Get succeeded against a failing vendor")
	}
	expect("failed read", 1, 0, 0)
	c.PurgeRole("other")
	v.setErr(nil)
	expectSource(t, c, v.request("k3", "other"), Fetched)
	expect("read after purging a failure", 1, 0, 0)
	if got, want := countAll(c).VendorCalls(), v.calls.Load(); got != want {
		t.Fatalf("%d fetches counted, %d made", got, want)
	}

	// Marks of purges whose config is never read again are forgotten.
	c.PurgeAll()
	clock.Advance(defaultErrorRetention)
	c.RefreshDue(context.Background())
	c.mu.RLock()
	marks := len(c.purged)
	c.mu.RUnlock()
	if marks != 0 {
		t.Fatalf("%d purge marks left after the error retention", marks)
	}
}
