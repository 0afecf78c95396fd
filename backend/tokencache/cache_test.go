package tokencache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

func TestGetMissThenHit(t *testing.T) {
	t.Parallel()
	_, v, c, req := setup(time.Hour)
	req.Role = "wildfire"

	first := expectSource(t, c, req, Fetched)
	second := expectSource(t, c, req, Hit)
	expectCalls(t, v, 1)
	if first.Token.AccessToken != second.Token.AccessToken {
		t.Fatalf("hit returned %q, want the cached %q", second.Token.AccessToken, first.Token.AccessToken)
	}
	if len(first.Warnings)+len(second.Warnings) != 0 {
		t.Fatalf("unexpected warnings: %v %v", first.Warnings, second.Warnings)
	}

	rows := c.Entries()
	if len(rows) != 1 || rows[0].Counts.Hits() != 1 || rows[0].Counts.VendorCalls() != 1 || rows[0].Counts.Reads(Fetched) != 1 {
		t.Fatalf("Entries = %+v, want one row with 1 hit, 1 fetched read and 1 vendor call", rows)
	}
}

func TestGetWithoutFetch(t *testing.T) {
	t.Parallel()
	c := New(Options{})
	if _, err := c.Get(context.Background(), &Login{Key: "k"}, "r", 0); err == nil {
		t.Fatal("Get without Fetch succeeded")
	}
	if _, err := c.Get(context.Background(), nil, "r", 0); err == nil {
		t.Fatal("Get without a Login succeeded")
	}
	v := newVendor(newClock(), time.Hour)
	if _, err := c.Get(context.Background(), &Login{Key: "k", Fetch: v.Fetch}, "r", 0); err == nil {
		t.Fatal("Get without a Timeout succeeded")
	}
	expectCalls(t, v, 0)
}

func TestRolesShareAKey(t *testing.T) {
	t.Parallel()
	_, v, c, _ := setup(time.Hour)

	expectSource(t, c, v.request("k", "wildfire"), Fetched)
	expectSource(t, c, v.request("k", "prisma"), Hit)
	expectSource(t, c, v.request("k", "aardvark"), Hit)
	expectSource(t, c, v.request("other", "wildfire"), Fetched)
	expectCalls(t, v, 2)

	rows := c.Entries()
	if len(rows) != 2 {
		t.Fatalf("got %d entries, want 2", len(rows))
	}
	var roles [][]string
	for _, r := range rows {
		roles = append(roles, r.Roles)
	}
	got := fmt.Sprint(roles)
	if got != "[[aardvark prisma wildfire] [wildfire]]" && got != "[[wildfire] [aardvark prisma wildfire]]" {
		t.Fatalf("roles = %s", got)
	}
}

func TestQualification(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		lifetime  time.Duration // default an hour
		minTTL    time.Duration
		elapsed   time.Duration
		want      Source
		wantUnmet bool
	}{
		"default min_ttl, more than half left":      {elapsed: 29 * time.Minute, want: Hit},
		"default min_ttl, exactly half left":        {elapsed: 30 * time.Minute, want: Hit},
		"default min_ttl, less than half left":      {elapsed: 30*time.Minute + time.Second, want: Fetched},
		"min_ttl 10m, 10m left":                     {minTTL: 10 * time.Minute, elapsed: 50 * time.Minute, want: Hit},
		"min_ttl 10m, just under 10m left":          {minTTL: 10 * time.Minute, elapsed: 50*time.Minute + time.Second, want: Fetched},
		"min_ttl 50m, 45m left":                     {minTTL: 50 * time.Minute, elapsed: 15 * time.Minute, want: Fetched},
		"min_ttl nine tenths of the lifetime":       {minTTL: 54 * time.Minute, elapsed: 6 * time.Minute, want: Hit},
		"min_ttl nine tenths, just under it left":   {minTTL: 54 * time.Minute, elapsed: 6*time.Minute + time.Second, want: Fetched},
		"min_ttl longer than the lifetime, fresh":   {minTTL: 2 * time.Hour, want: Hit, wantUnmet: true},
		"min_ttl longer than the lifetime, half":    {minTTL: 2 * time.Hour, elapsed: 30 * time.Minute, want: Hit, wantUnmet: true},
		"min_ttl longer than the lifetime, < half":  {minTTL: 2 * time.Hour, elapsed: 30*time.Minute + time.Second, want: Fetched, wantUnmet: true},
		"min_ttl over nine tenths, half left":       {minTTL: 55 * time.Minute, elapsed: 30 * time.Minute, want: Hit, wantUnmet: true},
		"floor above min_ttl, floor left":           {minTTL: 10 * time.Second, elapsed: time.Hour - testFloor, want: Hit},
		"floor above min_ttl, less than floor left": {minTTL: 10 * time.Second, elapsed: time.Hour - testFloor + time.Second, want: Fetched},
		// A 3 s token: half is 1.5 s, the floor 2 s (1 s margin + 1 s).
		"floor above half the lifetime, floor left": {lifetime: 3 * time.Second, elapsed: time.Second, want: Hit},
		"floor above half the lifetime, just under": {lifetime: 3 * time.Second, elapsed: time.Second + time.Millisecond, want: Fetched},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock, v, c, req := setup(cmp.Or(tc.lifetime, time.Hour))
			req.MinTTL = tc.minTTL

			first := expectSource(t, c, req, Fetched)
			clock.Advance(tc.elapsed)
			second := expectSource(t, c, req, tc.want)

			wantCalls, wantSame := uint64(1), true
			if tc.want == Fetched {
				wantCalls, wantSame = 2, false
			}
			expectCalls(t, v, wantCalls)
			if same := first.Token.AccessToken == second.Token.AccessToken; same != wantSame {
				t.Fatalf("second read got token %q after %q", second.Token.AccessToken, first.Token.AccessToken)
			}
			for _, res := range []Result{first, second} {
				warned := strings.Contains(strings.Join(res.Warnings, " "), "cannot be met")
				if warned != tc.wantUnmet {
					t.Fatalf("warnings %q; want a min_ttl warning: %v", res.Warnings, tc.wantUnmet)
				}
			}
		})
	}
}

// TestUnmetMinTTLKeepsTheNormalSchedule is a role whose min_ttl no token
// of the config can meet, read by many readers over two lifetimes: the
// vendor is called once per half lifetime, and the read and the cache
// listing say why, naming min_ttl, the lifetime and what is done instead.
func TestUnmetMinTTLKeepsTheNormalSchedule(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(15 * time.Minute)
	req.Role, req.MinTTL = "greedy", 2*time.Hour

	var last Result
	for range 120 { // a read every 15 s for 30 minutes
		for range 10 {
			last = mustGet(t, c, req)
		}
		clock.Advance(15 * time.Second)
	}
	// Fetches at 0, 7m30s, 15m, 22m30s: one per half lifetime.
	expectCalls(t, v, 4)
	for _, w := range []string{"min_ttl 2h0m0s", `role "greedy"`, "live 15m0s", "at least half their lifetime (7m30s)", "once per half lifetime"} {
		if !strings.Contains(strings.Join(last.Warnings, " "), w) {
			t.Errorf("read warnings %q do not say %q", last.Warnings, w)
		}
	}
	rows := c.Entries()
	if len(rows) != 1 || len(rows[0].Warnings) != 1 || rows[0].Warnings[0] != last.Warnings[0] {
		t.Fatalf("Entries = %+v, want the read's warning", rows)
	}
	// Another role on the same token with a min_ttl it meets adds no warning.
	fine := req
	fine.Role, fine.MinTTL = "fine", time.Minute
	if res := mustGet(t, c, fine); len(res.Warnings) != 0 {
		t.Fatalf("warnings for a met min_ttl: %q", res.Warnings)
	}
	if rows := c.Entries(); len(rows[0].Warnings) != 1 {
		t.Fatalf("Entries warnings = %q, want only the greedy role's", rows[0].Warnings)
	}
}

func TestFreshTokenBelowFloor(t *testing.T) {
	t.Parallel()
	_, _, c, req := setup(time.Second) // floor: 1 s margin + 1 s

	_, err := c.read(context.Background(), req)
	var short *ShortLifetimeError
	if !errors.As(err, &short) {
		t.Fatalf("err = %v, want a *ShortLifetimeError", err)
	}
	if short.Remaining != time.Second || short.Floor != 2*time.Second {
		t.Fatalf("ShortLifetimeError = %+v", short)
	}
	if !strings.Contains(err.Error(), "1s of life left") {
		t.Fatalf("message %q does not say how much life was left", err)
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Fatalf("message %q contains the token", err)
	}
}

func TestExpiredFreshTokenIsNotCached(t *testing.T) {
	t.Parallel()
	_, v, c, req := setup(0)

	for range 2 {
		if _, err := c.read(context.Background(), req); err == nil {
			t.Fatal("an already expired token was handed out")
		}
	}
	expectCalls(t, v, 2)
	if rows := c.Entries(); len(rows) != 1 || !rows[0].ExpiresAt.IsZero() {
		t.Fatalf("Entries = %+v, want one row without a token", rows)
	}
}

// TestSingleflight runs in a synctest bubble: synctest.Wait returns once
// every reader is blocked, on the one fetch or waiting for it.
func TestSingleflight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, v, c, _ := setup(time.Hour)
		v.gated()
		const readers = 32

		results := make([]<-chan getResult, readers)
		for i := range readers {
			results[i] = goGet(context.Background(), c, v.request("k", fmt.Sprintf("role-%d", i%4)))
		}
		synctest.Wait()
		recv(t, v.entered, "the fetch")
		close(v.gate)

		var token string
		for i, ch := range results {
			r := recv(t, ch, "a reader")
			if r.err != nil {
				t.Fatalf("reader %d: %v", i, r.err)
			}
			if r.res.Source != Fetched {
				t.Fatalf("reader %d: source %s, want fetched", i, r.res.Source)
			}
			if token == "" {
				token = r.res.Token.AccessToken
			} else if r.res.Token.AccessToken != token {
				t.Fatalf("reader %d got %q, others %q", i, r.res.Token.AccessToken, token)
			}
		}
		expectCalls(t, v, 1)
		expectSource(t, c, v.request("k", "role-0"), Hit)
		rows := c.Entries()
		if len(rows) != 1 || len(rows[0].Roles) != 4 || rows[0].Counts.VendorCalls() != 1 || rows[0].Counts.Reads(Fetched) != readers {
			t.Fatalf("Entries = %+v, want one entry of 4 roles, 1 vendor call and %d fetched reads", rows, readers)
		}
	})
}

func TestOtherKeysAreNotBlocked(t *testing.T) {
	t.Parallel()
	clock := newClock()
	slow := newVendor(clock, time.Hour).gated()
	fast := newVendor(clock, time.Hour)
	c := newCache(clock)

	expectSource(t, c, fast.request("cached", "r"), Fetched)
	blocked := goFetch(t, c, slow, slow.request("slow", "r"), "the slow fetch")

	// While the slow key's fetch hangs: a miss and a hit on other keys,
	// a listing, and a purge of another config all complete.
	expectRead(t, goGet(context.Background(), c, fast.request("other", "r")), "a read of another key", Fetched)
	expectRead(t, goGet(context.Background(), c, fast.request("cached", "r")), "a hit on another key", Hit)
	if n := c.PurgeConfig("unrelated"); n != 0 {
		t.Fatalf("PurgeConfig(unrelated) = %d", n)
	}
	if rows := c.Entries(); len(rows) != 3 {
		t.Fatalf("Entries during the slow fetch: %d rows, want 3", len(rows))
	}

	close(slow.gate)
	expectRead(t, blocked, "the slow reader", Fetched)
}

// TestCallerCancelDoesNotCancelSharedFetch runs in a synctest bubble:
// synctest.Wait returns once the second reader waits on the fetch.
func TestCallerCancelDoesNotCancelSharedFetch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, v, c, req := setup(time.Hour)
		v.gated()

		ctx, cancel := context.WithCancel(context.Background())
		impatient := goGet(ctx, c, req)
		recv(t, v.entered, "the fetch")
		patient := goGet(context.Background(), c, req)
		synctest.Wait()

		cancel()
		r := recv(t, impatient, "the cancelled reader")
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled reader: err = %v, want context.Canceled", r.err)
		}

		close(v.gate)
		if err := recv(t, v.ctxErrs, "the fetch's context"); err != nil {
			t.Fatalf("the shared fetch's context ended with the first reader: %v", err)
		}
		r = recv(t, patient, "the second reader")
		if r.err != nil || r.res.Source != Fetched {
			t.Fatalf("second reader: %+v", r)
		}
		expectCalls(t, v, 1)
		if n := c.Counts()["scm-prod"]; n.Reads(Failed) != 1 || n.Reads(Fetched) != 1 {
			t.Fatalf("%d failed and %d fetched reads counted, want 1 and 1", n.Reads(Failed), n.Reads(Fetched))
		}
	})
}

func TestFetchContextIsBoundedByTimeout(t *testing.T) {
	t.Parallel()
	clock := newClock()
	var deadline time.Time
	var ok bool
	c := newCache(clock)
	req := testRead{
		Key: "k", Config: "c", Timeout: 7 * time.Second,
		Fetch: func(ctx context.Context) (provider.Token, error) {
			deadline, ok = ctx.Deadline()
			return provider.Token{AccessToken: "t", IssuedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}, nil
		},
	}
	before := time.Now()
	mustGet(t, c, req)
	if !ok || deadline.Before(before.Add(7*time.Second)) || deadline.After(time.Now().Add(7*time.Second)) {
		t.Fatalf("fetch deadline = %v (set %v), want about 7s from the call", deadline, ok)
	}
}

func TestFetchPanicBecomesError(t *testing.T) {
	t.Parallel()
	c := New(Options{})
	_, err := c.read(context.Background(), testRead{
		Key: "k", Config: "c",
		Fetch: func(context.Context) (provider.Token, error) { panic("client_secret=hunter2") },
	})
	if !errors.Is(err, errFetchPanicked) {
		t.Fatalf("err = %v, want errFetchPanicked", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %q carries the panic value", err)
	}
}

func TestStaleOnError(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		err       error
		elapsed   time.Duration
		wantStale bool
	}{
		"transient, life above the floor":    {err: errTransient, elapsed: 40 * time.Minute, wantStale: true},
		"transient, exactly the floor left":  {err: errTransient, elapsed: time.Hour - testFloor, wantStale: true},
		"transient, below the floor":         {err: errTransient, elapsed: time.Hour - testFloor + time.Second},
		"transient, token expired":           {err: errTransient, elapsed: 2 * time.Hour},
		"credential failure":                 {err: errCredentials, elapsed: 40 * time.Minute},
		"request failure":                    {err: errBadRequest, elapsed: 40 * time.Minute},
		"error that is not a provider error": {err: errors.New("boom"), elapsed: 40 * time.Minute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock, v, c, req := setup(time.Hour)

			cached := expectSource(t, c, req, Fetched)
			clock.Advance(tc.elapsed)
			v.setErr(tc.err)
			res, err := c.read(context.Background(), req)
			expectCalls(t, v, 2)

			if !tc.wantStale {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if res.Source != Stale || res.Token.AccessToken != cached.Token.AccessToken {
				t.Fatalf("got %s %q, want the cached token as stale", res.Source, res.Token.AccessToken)
			}
			left := int64((time.Hour - tc.elapsed) / time.Second)
			if len(res.Warnings) != 1 {
				t.Fatalf("warnings = %q", res.Warnings)
			}
			w := res.Warnings[0]
			for _, part := range []string{`"scm-prod"`, "HTTP 503", "service unavailable", fmt.Sprintf("%ds of life left", left)} {
				if !strings.Contains(w, part) {
					t.Errorf("warning %q lacks %q", w, part)
				}
			}
			if strings.Contains(w, "secret-token") {
				t.Errorf("warning %q contains the token", w)
			}
			rows := c.Entries()
			if len(rows) != 1 || !strings.Contains(rows[0].LastError, "HTTP 503") || !rows[0].LastErrorAt.Equal(clock.Now()) {
				t.Fatalf("Entries = %+v, want the failure recorded", rows)
			}
		})
	}
}

func TestErrorBackoffServesStaleWithoutCalling(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)
	c.backoff = 5 * time.Second

	expectSource(t, c, req, Fetched)
	clock.Advance(40 * time.Minute)
	v.setErr(errTransient)
	expectSource(t, c, req, Stale)
	expectCalls(t, v, 2)

	clock.Advance(4 * time.Second)
	res := expectSource(t, c, req, Stale)
	expectCalls(t, v, 2)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "HTTP 503") {
		t.Fatalf("warnings = %q", res.Warnings)
	}

	// A stale token under its floor is not served, even inside the
	// backoff: the reader calls.
	clock.Advance(20*time.Minute - 4*time.Second - 20*time.Second) // 20 s left, under the 31 s floor
	for range 2 {
		if _, err := c.read(context.Background(), req); !provider.IsTransient(err) {
			t.Fatalf("token under its floor: err = %v", err)
		}
	}
	expectCalls(t, v, 4)

	clock.Advance(5 * time.Second)
	expectRecovery(t, c, v, req, 5)
}

func TestErrorBackoffOff(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)
	c.backoff = -1

	expectSource(t, c, req, Fetched)
	clock.Advance(40 * time.Minute)
	v.setErr(errTransient)
	expectSource(t, c, req, Stale)
	expectSource(t, c, req, Stale)
	expectCalls(t, v, 3)
}

func TestFailFast(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)
	req.FailFast = time.Minute
	v.setErr(errCredentials)

	_, err := c.read(context.Background(), req)
	if !errors.Is(err, errCredentials) {
		t.Fatalf("first read: err = %v", err)
	}
	var replayed *ReplayedError
	if errors.As(err, &replayed) {
		t.Fatal("the first failure is reported as replayed")
	}
	failedAt := clock.Now()

	clock.Advance(59 * time.Second)
	_, err = c.read(context.Background(), req)
	expectCalls(t, v, 1)
	if !errors.As(err, &replayed) || !provider.IsCredentialError(err) {
		t.Fatalf("second read: err = %v, want a replayed credential error", err)
	}
	if !replayed.FailedAt.Equal(failedAt) || !replayed.Until.Equal(failedAt.Add(time.Minute)) {
		t.Fatalf("replayed = %+v", replayed)
	}
	for _, part := range []string{"invalid_client", "replayed without calling the vendor", failedAt.Add(time.Minute).Format(time.RFC3339)} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q lacks %q", err, part)
		}
	}
	if rows := c.Entries(); len(rows) != 1 || !rows[0].FailFastUntil.Equal(failedAt.Add(time.Minute)) {
		t.Fatalf("Entries = %+v", rows)
	}

	// The window ends: the vendor is asked again.
	clock.Advance(time.Second)
	expectRecovery(t, c, v, req, 2)
}

func TestFailFastClearedByPurge(t *testing.T) {
	t.Parallel()
	cases := map[string]func(c *Cache) int{
		"config": func(c *Cache) int { return c.PurgeConfig("scm-prod") },
		"role":   func(c *Cache) int { return c.PurgeRole("r") },
		"all":    func(c *Cache) int { return c.PurgeAll() },
	}
	for name, purge := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, v, c, req := setup(time.Hour)
			v.setErr(errCredentials)
			if _, err := c.read(context.Background(), req); err == nil {
				t.Fatal("read succeeded")
			}
			if n := purge(c); n != 1 {
				t.Fatalf("purge dropped %d, want 1", n)
			}
			expectRecovery(t, c, v, req, 2)
		})
	}
}

func TestFailFastOff(t *testing.T) {
	t.Parallel()
	_, v, c, req := setup(time.Hour)
	req.FailFast = 0
	v.setErr(errCredentials)
	for range 3 {
		if _, err := c.read(context.Background(), req); !errors.Is(err, errCredentials) {
			t.Fatalf("err = %v", err)
		}
	}
	expectCalls(t, v, 3)
}

func TestFailFastDoesNotHideAQualifyingToken(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)

	expectSource(t, c, req, Fetched)
	clock.Advance(29*time.Minute + 45*time.Second)
	v.setErr(errCredentials)
	if rep := refreshDue(context.Background(), c); rep.due != 1 || rep.failed != 1 {
		t.Fatalf("RefreshDue = %+v, want one failed refresh", rep)
	}
	// The cached token still qualifies: it is served.
	expectSource(t, c, req, Hit)
	// Once it stops qualifying, the failure is replayed, not served stale.
	clock.Advance(time.Minute)
	_, err := c.read(context.Background(), req)
	var replayed *ReplayedError
	if !errors.As(err, &replayed) {
		t.Fatalf("err = %v, want a replayed credential error", err)
	}
	expectCalls(t, v, 2)
}

func TestSecretsStayOutOfErrorsAndListings(t *testing.T) {
	t.Parallel()
	clock, v, c, req := setup(time.Hour)
	req.Key = "scm-prod\x00fingerprint-abc\x00tsg_id:1"

	res := expectSource(t, c, req, Fetched)
	tok := res.Token.AccessToken
	if !strings.HasPrefix(tok, "secret-token-") {
		t.Fatalf("unexpected token %q", tok)
	}
	listing := fmt.Sprintf("%+v %#v", c.Entries(), c.Entries())
	if strings.Contains(listing, tok) || strings.Contains(listing, "secret-token") {
		t.Fatalf("Entries shows the token: %s", listing)
	}
	if strings.Contains(listing, "fingerprint-abc") {
		t.Fatalf("Entries shows the key: %s", listing)
	}

	clock.Advance(40 * time.Minute)
	v.setErr(errTransient)
	stale := expectSource(t, c, req, Stale)
	for _, w := range stale.Warnings {
		if strings.Contains(w, tok) {
			t.Fatalf("warning shows the token: %s", w)
		}
	}
}

func TestSourceString(t *testing.T) {
	t.Parallel()
	cases := map[Source]string{Hit: "hit", Fetched: "fetched", Stale: "stale", Failed: "failed", 9: "source(9)"}
	for s, want := range cases {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", s, got, want)
		}
	}
}

func TestConcurrentMixedUse(t *testing.T) {
	t.Parallel()
	clock, v, c, _ := setup(10 * time.Minute)
	c.lead = time.Minute
	keys := []Key{"a", "b", "c", "d"}
	roles := []string{"r1", "r2", "r3"}

	var wg sync.WaitGroup
	var reads atomic.Uint64
	errs := make(chan error, 1000)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				switch (g + i) % 10 {
				case 0:
					c.PurgeConfig("scm-prod")
				case 1:
					c.PurgeRole(roles[i%len(roles)])
				case 2:
					c.RefreshDue(context.Background())
				case 3:
					_ = c.Entries()
				case 4:
					clock.Advance(5 * time.Second)
				case 5:
					if i%20 == 5 {
						v.setErr(errTransient)
					} else {
						v.setErr(nil)
					}
				default:
					before := clock.Now()
					req := v.request(keys[(g+i)%len(keys)], roles[i%len(roles)])
					res, err := c.read(context.Background(), req)
					reads.Add(1)
					switch {
					case err == nil:
						if !res.Token.ExpiresAt.After(before) {
							errs <- fmt.Errorf("expired token handed out: %+v", res)
						}
					case provider.IsTransient(err), errors.Is(err, errPurgedRepeatedly), errors.As(err, new(*ShortLifetimeError)):
						// Legitimate answers while the clock races ahead.
					default:
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	// Every read and every fetch was counted once, across purges and
	// sweeps.
	all := countAll(c)
	var counted uint64
	for _, n := range readCounts(all) {
		counted += n
	}
	if counted != reads.Load() || all.VendorCalls() != v.calls.Load() {
		t.Errorf("counted %d reads and %d fetches, made %d and %d", counted, all.VendorCalls(), reads.Load(), v.calls.Load())
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLogsNeverShowTokensOrPanicValues(t *testing.T) {
	t.Parallel()
	var buf testkit.SyncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: &buf})
	clock, v, _, req := setup(time.Hour)
	c := New(Options{Now: clock.Now, Logger: logger})

	tok := expectSource(t, c, req, Fetched).Token.AccessToken
	clock.Advance(dueAfter)
	v.setErr(errTransient)
	if rep := refreshDue(context.Background(), c); rep.failed != 1 {
		t.Fatalf("RefreshDue = %+v", rep)
	}
	clock.Advance(time.Hour)
	c.RefreshDue(context.Background()) // sweeps
	_, err := c.read(context.Background(), testRead{
		Key: "p", Config: "c", Timeout: time.Minute,
		Fetch: func(context.Context) (provider.Token, error) { panic("client_secret=hunter2") },
	})
	if err == nil {
		t.Fatal("panicking fetch succeeded")
	}

	out := buf.String()
	for _, want := range []string{"background token refresh failed", "HTTP 503", "token fetch panicked", "dropped expired"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{tok, "secret-token", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q:\n%s", secret, out)
		}
	}
}

func TestFloorScalesWithTheTokensLifetime(t *testing.T) {
	t.Parallel()
	cases := map[time.Duration]time.Duration{
		time.Second:      2 * time.Second, // margin at least 1 s
		10 * time.Second: 2 * time.Second,
		20 * time.Second: 3 * time.Second,
		15 * time.Minute: 31 * time.Second, // margin at most 30 s
		2 * time.Hour:    31 * time.Second,
	}
	for lifetime, want := range cases {
		if got := floor(lifetime); got != want || Margin(lifetime) != want-time.Second {
			t.Errorf("floor(%s) = %s, Margin = %s; want %s and %s", lifetime, got, Margin(lifetime), want, want-time.Second)
		}
	}

	clock, _, c, req := setup(10 * time.Second)
	expectSource(t, c, req, Fetched)
	clock.Advance(4 * time.Second) // 6s left: at least half the lifetime, over the 2s floor
	expectSource(t, c, req, Hit)
	clock.Advance(2 * time.Second) // 4s left: under half the lifetime
	expectSource(t, c, req, Fetched)
}
