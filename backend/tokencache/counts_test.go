package tokencache

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// TestHTTPRequestsAreCountedByOutcomeAndDuration fetches through a real
// provider.Client: every HTTP attempt of a fetch, retries included, is
// counted on the entry by outcome and sorted by duration; requests made
// with CountRequests are counted on the config, IAM calls apart.
func TestHTTPRequestsAreCountedByOutcomeAndDuration(t *testing.T) {
	t.Parallel()
	const slow = 60 * time.Millisecond
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/iam/v1/service_accounts" {
			_, _ = w.Write([]byte(`[]`))
			return
		}
		switch i := n.Add(1); {
		case i <= 4:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case i == 5:
			time.Sleep(slow)
		}
		_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":900}`))
	}))
	t.Cleanup(srv.Close)
	clock := newClock()
	client, err := provider.NewClient(provider.ClientOptions{
		RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	params := provider.Params{Provider: provider.OAuth2, TokenURL: srv.URL, Values: provider.Values{"client_id": "acme", "client_secret": "s3cret"}}
	fetch := func(ctx context.Context) (provider.Token, error) { return client.Fetch(ctx, params) }
	c := New(Options{Now: clock.Now, RequestBuckets: []time.Duration{slow - 10*time.Millisecond}})
	req := testRead{Key: "k", Config: "alpha", Role: "r", Fetch: fetch}

	if _, err := c.read(context.Background(), req); !provider.IsTransient(err) {
		t.Fatalf("four 503s: err = %v, want a transient error", err)
	}
	expectSource(t, c, req, Fetched)
	rows := c.Entries()
	if len(rows) != 1 {
		t.Fatalf("%d entries, want 1", len(rows))
	}
	got := rows[0].Counts
	if got.VendorCalls() != 2 || got.HTTPRequests() != 5 || got.Reads(Failed) != 1 || got.Reads(Fetched) != 1 {
		t.Errorf("entry: %d vendor calls, %d HTTP requests, %d failed and %d fetched reads; want 2, 5, 1, 1",
			got.VendorCalls(), got.HTTPRequests(), got.Reads(Failed), got.Reads(Fetched))
	}
	for o, want := range map[string]uint64{provider.Outcome5xx: 4, provider.Outcome2xx: 1, provider.Outcome4xx: 0} {
		if n := got.Requests(TokenEndpoint, o); n != want {
			t.Errorf("entry: %d token requests with outcome %s, want %d", n, o, want)
		}
	}
	buckets, sum := got.Durations(TokenEndpoint)
	if len(buckets) != 2 || buckets[0]+buckets[1] != 5 || buckets[1] < 1 || sum < slow {
		t.Errorf("entry: durations by bucket %v, sum %s; want 5 in all, the slow one above %s", buckets, sum, slow-10*time.Millisecond)
	}

	// Requests the caller makes itself for the same config: a token and an
	// IAM call.
	ctx := c.CountRequests(context.Background(), "alpha")
	if _, err := client.Fetch(ctx, params); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListServiceAccounts(ctx, provider.IAMRequest{BaseURL: srv.URL, Token: "bearer"}); err != nil {
		t.Fatal(err)
	}
	total := c.Counts()["alpha"]
	if total.Requests(IAMEndpoint, provider.Outcome2xx) != 1 || total.Requests(TokenEndpoint, provider.Outcome2xx) != 2 || total.HTTPRequests() != 7 {
		t.Errorf("config: %d IAM and %d token 2xx requests, %d in all; want 1, 2, 7",
			total.Requests(IAMEndpoint, provider.Outcome2xx), total.Requests(TokenEndpoint, provider.Outcome2xx), total.HTTPRequests())
	}
	if n := c.Entries()[0].Counts.HTTPRequests(); n != 5 {
		t.Errorf("the entry counts %d HTTP requests after requests outside the cache, want 5", n)
	}
}

// readCounts are a config's reads by Source, in the order of Sources.
func readCounts(n Counts) []uint64 {
	var out []uint64
	for _, s := range Sources {
		out = append(out, n.Reads(s))
	}
	return out
}

// TestCountsOfAConfigNeverGoDown: a config's counts keep those of its
// entries once they are purged or swept, a new entry starts from zero, and
// ForgetConfigs drops only the configs it is told are gone and have no
// entry.
func TestCountsOfAConfigNeverGoDown(t *testing.T) {
	t.Parallel()
	clock, v, c, _ := setup(time.Hour)
	bad := failingVendor(clock, errBadRequest)
	strict := testRead{Key: "a", Config: "alpha", Role: "r", MinTTL: 40 * time.Minute, Fetch: v.Fetch}
	expect := func(step string, want ...uint64) {
		t.Helper()
		n := c.Counts()["alpha"]
		if got := readCounts(n); !slices.Equal(got, want[:4]) || n.VendorCalls() != want[4] {
			t.Fatalf("%s: reads (hit, fetched, stale, failed) %v and %d vendor calls; want %v and %d",
				step, got, n.VendorCalls(), want[:4], want[4])
		}
	}

	expectSource(t, c, strict, Fetched)
	expectSource(t, c, strict, Hit)
	clock.Advance(25 * time.Minute) // 35 minutes left: no longer enough for this role
	v.setErr(errTransient)
	expectSource(t, c, strict, Stale)
	if _, err := c.read(context.Background(), testRead{Key: "b", Config: "alpha", Role: "r2", Fetch: bad.Fetch}); err == nil {
		t.Fatal("a read against a failing vendor succeeded")
	}
	expect("four reads", 1, 1, 1, 1, 3)

	c.PurgeConfig("alpha")
	expect("after the purge", 1, 1, 1, 1, 3)
	v.setErr(nil)
	expectSource(t, c, strict, Fetched)
	expect("a read after the purge", 1, 2, 1, 1, 4)
	if rows := c.Entries(); len(rows) != 1 || !slices.Equal(readCounts(rows[0].Counts), []uint64{0, 1, 0, 0}) {
		t.Fatalf("Entries = %+v, want one new entry with one fetched read", rows)
	}

	clock.Advance(2 * time.Hour)
	c.RefreshDue(context.Background())
	if rows := c.Entries(); len(rows) != 0 {
		t.Fatalf("Entries after the sweep = %+v", rows)
	}
	expect("after the sweep", 1, 2, 1, 1, 4)

	// alpha has no entry left; beta has one.
	expectSource(t, c, testRead{Key: "c", Config: "beta", Role: "r", Fetch: v.Fetch}, Fetched)
	c.ForgetConfigs(func(string) bool { return false })
	expect("nothing forgotten", 1, 2, 1, 1, 4)
	c.ForgetConfigs(func(string) bool { return true })
	counts := c.Counts()
	if _, ok := counts["alpha"]; ok {
		t.Error("ForgetConfigs kept the counts of a config it was told is gone")
	}
	if counts["beta"].Reads(Fetched) != 1 {
		t.Errorf("ForgetConfigs dropped the counts of a config with an entry: %v", counts["beta"])
	}
}

func TestFetchesAreCountedByReason(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)
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
