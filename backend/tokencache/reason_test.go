package tokencache

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// reasonLog records what Options.OnFetch reports.
type reasonLog struct {
	mu  sync.Mutex
	got []string
}

func (l *reasonLog) onFetch(config string, r FetchReason) {
	l.mu.Lock()
	l.got = append(l.got, config+":"+r.String())
	l.mu.Unlock()
}

// take returns what was reported since the last take.
func (l *reasonLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.got
	l.got = nil
	return got
}

func TestOnFetchReportsEachFetchWithItsReason(t *testing.T) {
	t.Parallel()
	clock := newClock()
	v := newVendor(clock, time.Hour)
	log := &reasonLog{}
	c := New(Options{Now: clock.Now, OnFetch: log.onFetch})
	req := v.request("k", "r")
	expect := func(step string, want ...string) {
		t.Helper()
		if got := log.take(); !slices.Equal(got, want) {
			t.Fatalf("%s: OnFetch reported %q, want %q", step, got, want)
		}
	}

	expectSource(t, c, req, Fetched)
	expect("first read", "scm-prod:miss")
	expectSource(t, c, req, Hit)
	expect("cache hit")

	clock.Advance(dueAfter)
	if rep := c.RefreshDue(context.Background()); rep.Refreshed != 1 {
		t.Fatalf("RefreshDue = %+v, want one refresh", rep)
	}
	expect("refresh", "scm-prod:refresh_ahead")

	// A purge, then a read under a new key (the config was written): the
	// fetch is counted once as after_purge, and the next miss as a miss.
	c.PurgeConfig("scm-prod")
	expect("purge")
	expectSource(t, c, v.request("k2", "r"), Fetched)
	expect("read after purge", "scm-prod:after_purge")
	clock.Advance(time.Hour)
	expectSource(t, c, v.request("k2", "r"), Fetched)
	expect("read of an expired token", "scm-prod:miss")

	// A purge of an entry that held no token (only a failure) is no
	// reason: the next fetch is a miss like the failed one.
	v.setErr(errBadRequest)
	if _, err := c.read(context.Background(), v.request("k3", "other")); err == nil {
		t.Fatal("Get succeeded against a failing vendor")
	}
	expect("failed read", "scm-prod:miss")
	c.PurgeRole("other")
	v.setErr(nil)
	expectSource(t, c, v.request("k3", "other"), Fetched)
	expect("read after purging a failure", "scm-prod:miss")

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
