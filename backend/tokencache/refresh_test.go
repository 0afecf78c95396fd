package tokencache

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// With a 1h token, the default threshold is 30m and the lead 30s, so a read
// token is due for refresh once 30m30s or less remain: after 29m30s.
const dueAfter = 29*time.Minute + 30*time.Second

func TestRefreshDueReplacesARecentlyReadToken(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)

	first := expectSource(t, c, req, Fetched)
	expectDueAfter(t, clock, c, dueAfter)
	expectCalls(t, v, 2)

	// The steady reader never waits: its next read, past the point where
	// the old token would have stopped qualifying, is a hit on the new one.
	clock.Advance(time.Minute)
	res := expectSource(t, c, req, Hit)
	if res.Token.AccessToken == first.Token.AccessToken {
		t.Fatal("the refreshed entry still serves the old token")
	}
	// Nothing more to do until the new token is due in turn.
	if rep := refreshDue(context.Background(), c); rep != (refreshReport{}) {
		t.Fatalf("RefreshDue right after a refresh = %+v", rep)
	}
	expectCalls(t, v, 2)
}

func TestRefreshDueLeavesIdleTokens(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		steps []time.Duration // clock advances, each followed by RefreshDue
		calls uint64
	}{
		// The single read is older than half the lifetime when the token
		// becomes due: not in use.
		"last read older than half the lifetime": {steps: []time.Duration{31 * time.Minute}, calls: 1},
		// The read that fetched it makes the token due once; the
		// replacement, never read, is not refreshed in turn.
		"replacement never read": {steps: []time.Duration{dueAfter, dueAfter, 10 * time.Minute}, calls: 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock, v, c, req := setup(time.Hour)
			expectSource(t, c, req, Fetched)
			for _, d := range tc.steps {
				clock.Advance(d)
				c.RefreshDue(context.Background())
			}
			expectCalls(t, v, tc.calls)
		})
	}
}

// TestRefreshIsDueAt: a read token is refreshed once the largest
// threshold of its recent readers plus the lead remain, and not a second
// earlier.
func TestRefreshIsDueAt(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		lifetime time.Duration
		minTTLs  []time.Duration // one reader each, in this order
		due      time.Duration   // after the first read
	}{
		// Due at 40m30s left, that is after 19m30s.
		"the largest threshold of recent readers": {lifetime: time.Hour, minTTLs: []time.Duration{10 * time.Minute, 40 * time.Minute}, due: 19*time.Minute + 30*time.Second},
		// Threshold 1m, lead min(30s, 12s) = 12s: due after 48s, not at once.
		"the lead is capped for short tokens": {lifetime: 2 * time.Minute, minTTLs: []time.Duration{0}, due: 48 * time.Second},
		// With a min_ttl close to the lifetime, the lead is capped at half
		// of what the token can serve, so a refresh is not due the moment a
		// token arrives: it serves for 10 s; lead min(30s, 10s, 5s) = 5s.
		"the lead leaves a fresh token serving": {lifetime: 100 * time.Second, minTTLs: []time.Duration{90 * time.Second}, due: 5 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock, v, c, req := setup(tc.lifetime)
			want := Fetched // the first read fetches, the others hit
			for i, minTTL := range tc.minTTLs {
				req.Role, req.MinTTL = fmt.Sprint("r", i), minTTL
				expectSource(t, c, req, want)
				want = Hit
			}
			expectDueAfter(t, clock, c, tc.due)
			expectCalls(t, v, 2)
		})
	}
}

func TestRefreshFailureKeepsTheToken(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)
	first := expectSource(t, c, req, Fetched)

	clock.Advance(dueAfter)
	v.setErr(errTransient)
	if rep := refreshDue(context.Background(), c); rep != (refreshReport{due: 1, failed: 1}) {
		t.Fatalf("RefreshDue = %+v", rep)
	}
	res := expectSource(t, c, req, Hit)
	if res.Token.AccessToken != first.Token.AccessToken {
		t.Fatal("a failed refresh replaced the token")
	}
	rows := c.Entries()
	if len(rows) != 1 || !strings.Contains(rows[0].LastError, "HTTP 503") || !rows[0].LastErrorAt.Equal(clock.Now()) || rows[0].Counts.VendorCalls() != 2 {
		t.Fatalf("Entries = %+v, want the failure recorded", rows)
	}

	// It is retried on a later pass, after the error backoff.
	clock.Advance(2 * time.Second)
	v.setErr(nil)
	if rep := refreshDue(context.Background(), c); rep.refreshed != 1 {
		t.Fatalf("retry: RefreshDue = %+v", rep)
	}
}

// TestReaderJoinsARefreshInFlight runs in a synctest bubble, so that
// synctest.Wait tells when the reader is blocked on the refresh it joined.
func TestReaderJoinsARefreshInFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock, v, c, req := setup(time.Hour)
		req.MinTTL = 40 * time.Minute
		expectSource(t, c, req, Fetched)

		v.gated() // later calls block until released
		clock.Advance(19*time.Minute + 45*time.Second)
		done := goRefresh(context.Background(), c)
		recv(t, v.entered, "the first fetch")
		recv(t, v.entered, "the refresh fetch")

		// The token no longer qualifies for this reader: it joins the refresh.
		clock.Advance(time.Minute)
		reader := goGet(context.Background(), c, req)
		synctest.Wait()
		close(v.gate)

		expectRead(t, reader, "the reader", Fetched)
		if rep := recv(t, done, "RefreshDue"); rep.refreshed != 1 {
			t.Fatalf("RefreshDue = %+v", rep)
		}
		expectCalls(t, v, 2)
	})
}

// TestRefreshWorkersBoundVendorCalls runs in a synctest bubble: once every
// goroutine is blocked, RefreshDue must be waiting for a worker with two
// refreshes in flight.
func TestRefreshWorkersBoundVendorCalls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock, v, c, _ := setup(time.Hour)
		c.workers = 2
		const keys = 10
		for i := range keys {
			expectSource(t, c, v.request(Key(fmt.Sprint("k", i)), "r"), Fetched)
			recv(t, v.entered, "a first fetch")
		}

		v.gated()
		clock.Advance(dueAfter)
		done := goRefresh(context.Background(), c)
		synctest.Wait()
		if n, entered := v.inflight.Load(), len(v.entered); n != 2 || entered != 2 {
			t.Fatalf("%d refreshes in flight (%d started) while RefreshDue waits, want 2", n, entered)
		}
		recv(t, v.entered, "a refresh")
		recv(t, v.entered, "a second refresh")
		for i := range keys {
			v.gate <- struct{}{}
			if i < keys-2 {
				recv(t, v.entered, "the next refresh")
			}
		}
		if rep := recv(t, done, "RefreshDue"); rep != (refreshReport{due: keys, refreshed: keys}) {
			t.Fatalf("RefreshDue = %+v", rep)
		}
		if m := v.maxIn.Load(); m != 2 {
			t.Fatalf("at most %d refreshes ran at once, want 2", m)
		}
		expectCalls(t, v, 2*keys)
	})
}

func TestRefreshDueStopsWithItsContext(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)
	first := expectSource(t, c, req, Fetched)
	recv(t, v.entered, "the first fetch")

	v.gated()
	clock.Advance(dueAfter)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.RefreshDue(ctx)
		close(done)
	}()
	recv(t, v.entered, "the refresh")
	cancel()
	recv(t, done, "RefreshDue")
	if err := recv(t, v.ctxErrs, "the refresh's context"); err == nil {
		t.Fatal("the refresh fetch was not cancelled")
	}
	expectCalls(t, v, 2)
	if res := expectSource(t, c, req, Hit); res.Token.AccessToken != first.Token.AccessToken {
		t.Fatal("a cancelled refresh replaced the token")
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	clock, v, c, _ := setup(time.Hour)
	bad := failingVendor(clock, errCredentials)
	c.retention = 20 * time.Minute

	expectSource(t, c, v.request("good", "r"), Fetched)
	failing := bad.request("bad", "r")
	failing.FailFast = 2 * time.Hour
	if _, err := c.read(context.Background(), failing); err == nil {
		t.Fatal("failing read succeeded")
	}

	steps := []struct {
		advance time.Duration
		swept   int
		left    int
	}{
		{advance: 59 * time.Minute, swept: 0, left: 2}, // token has 1m left; idle, so not refreshed
		{advance: time.Minute, swept: 1, left: 1},      // token expired; failure replayed for 2h
		{advance: 59*time.Minute + 59*time.Second, swept: 0, left: 1},
		{advance: time.Second, swept: 1, left: 0}, // replay over, failure older than its retention
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		rep := refreshDue(context.Background(), c)
		if rep.swept != s.swept || rep.due != 0 || len(c.Entries()) != s.left {
			t.Fatalf("step %d: RefreshDue = %+v, %d entries left; want %d swept, %d left", i, rep, len(c.Entries()), s.swept, s.left)
		}
	}
	expectCalls(t, v, 1)
	expectCalls(t, bad, 1)
}

func TestSweepKeepsRecentFailures(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)
	v.setErr(errBadRequest)
	c.retention = 10 * time.Minute
	if _, err := c.read(context.Background(), req); err == nil {
		t.Fatal("read succeeded")
	}
	clock.Advance(10*time.Minute - time.Second)
	if rep := refreshDue(context.Background(), c); rep.swept != 0 || len(c.Entries()) != 1 {
		t.Fatalf("failure dropped before its retention: %+v", rep)
	}
	clock.Advance(time.Second)
	if rep := refreshDue(context.Background(), c); rep.swept != 1 || len(c.Entries()) != 0 {
		t.Fatalf("failure kept past its retention: %+v", rep)
	}
}

func TestSweepSparesAnEntryBeingFetched(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)
	expectSource(t, c, req, Fetched)
	recv(t, v.entered, "the first fetch")

	v.gated()
	clock.Advance(2 * time.Hour) // the token has expired
	reader := goFetch(t, c, v, req, "the second fetch")
	if rep := refreshDue(context.Background(), c); rep.swept != 0 {
		t.Fatalf("RefreshDue swept an entry with a fetch in flight: %+v", rep)
	}
	close(v.gate)
	expectRead(t, reader, "the reader", Fetched)
	expectSource(t, c, req, Hit)
	expectCalls(t, v, 2)
}

func TestNoRefreshWhenNoTokenCanQualify(t *testing.T) {
	t.Parallel()
	// A 2 s token: its floor (1 s margin + 1 s) is its whole lifetime, so
	// a fresh token is handed out once and no replacement could qualify
	// for longer.
	clock, v, c, req := setup(2 * time.Second)

	expectSource(t, c, req, Fetched)
	clock.Advance(time.Millisecond)
	expectSource(t, c, req, Fetched)
	for range 3 {
		clock.Advance(100 * time.Millisecond)
		if rep := refreshDue(context.Background(), c); rep.due != 0 {
			t.Fatalf("RefreshDue = %+v, want nothing due", rep)
		}
	}
	expectCalls(t, v, 2)
}
