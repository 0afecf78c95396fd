package tokencache

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testclock"
)

// waitBound bounds every wait in these tests; reaching it is a failure, not
// a timing assertion.
const waitBound = 10 * time.Second

// testFloor is the floor of the hour-long tokens most tests use: a 30 s
// margin plus a second.
const testFloor = 31 * time.Second

func newClock() *testclock.Clock {
	return testclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
}

// vendor is a fake token endpoint. Tokens are numbered by call.
type vendor struct {
	clock    *testclock.Clock
	lifetime time.Duration

	calls    atomic.Uint64
	inflight atomic.Int64
	maxIn    atomic.Int64

	mu  sync.Mutex
	err error // returned by every call while set

	// gate, when set, makes each call wait for a receive (or for gate to
	// be closed) before answering; entered gets one value per call.
	gate    chan struct{}
	entered chan struct{}
	// ctxErrs records each gated call's ctx.Err() after it is released.
	ctxErrs chan error
}

func newVendor(clock *testclock.Clock, lifetime time.Duration) *vendor {
	return &vendor{clock: clock, lifetime: lifetime, entered: make(chan struct{}, 1000), ctxErrs: make(chan error, 1000)}
}

// failingVendor is a vendor of hour-long tokens whose every call fails
// with err.
func failingVendor(clock *testclock.Clock, err error) *vendor {
	v := newVendor(clock, time.Hour)
	v.setErr(err)
	return v
}

// gated makes later calls block until released; call while no call is
// in flight.
func (v *vendor) gated() *vendor {
	v.gate = make(chan struct{})
	return v
}

func (v *vendor) setErr(err error) {
	v.mu.Lock()
	v.err = err
	v.mu.Unlock()
}

func (v *vendor) Fetch(ctx context.Context) (provider.Token, error) {
	n := v.calls.Add(1)
	in := v.inflight.Add(1)
	defer v.inflight.Add(-1)
	raise(&v.maxIn, in)
	trySend(v.entered, struct{}{})
	if v.gate != nil {
		select {
		case <-v.gate:
			trySend(v.ctxErrs, ctx.Err())
		case <-ctx.Done():
			trySend(v.ctxErrs, ctx.Err())
			return provider.Token{}, &provider.Error{Provider: "fake", Kind: provider.KindTransient, Message: "cancelled", Err: ctx.Err()}
		}
	}
	v.mu.Lock()
	err := v.err
	v.mu.Unlock()
	if err != nil {
		return provider.Token{}, err
	}
	now := v.clock.Now()
	return provider.Token{
		AccessToken: fmt.Sprintf("secret-token-%d", n),
		TokenType:   "Bearer",
		IssuedAt:    now,
		ExpiresAt:   now.Add(v.lifetime),
		Extra:       map[string]string{"tsg_id": "1234567890"},
	}, nil
}

// trySend sends v unless ch is full (a test that makes more calls than
// the buffer holds does not watch the channel).
func trySend[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// testRead is one reader's Get, flattened for table tests: the Login
// fields, the role and its min_ttl.
type testRead struct {
	Key      Key
	Config   string
	Role     string
	Scope    string
	MinTTL   time.Duration
	Timeout  time.Duration
	FailFast time.Duration
	Fetch    FetchFunc
}

// login is the read's Login; its Timeout is a minute unless set.
func (r testRead) login() *Login {
	return &Login{Key: r.Key, Config: r.Config, Scope: r.Scope, Fetch: r.Fetch, Timeout: cmp.Or(r.Timeout, time.Minute), FailFast: r.FailFast}
}

// read is Get for a testRead.
func (c *Cache) read(ctx context.Context, r testRead) (Result, error) {
	return c.Get(ctx, r.login(), r.Role, r.MinTTL)
}

// request is a typical request for key k of config "scm-prod".
func (v *vendor) request(k Key, role string) testRead {
	return testRead{
		Key:      k,
		Config:   "scm-prod",
		Role:     role,
		Scope:    "tsg_id:1234567890",
		Timeout:  time.Minute,
		FailFast: 5 * time.Minute,
		Fetch:    v.Fetch,
	}
}

var (
	errTransient   = &provider.Error{Provider: "paloalto_scm", Kind: provider.KindTransient, StatusCode: 503, Message: "service unavailable"}
	errCredentials = &provider.Error{Provider: "paloalto_scm", Kind: provider.KindCredentials, StatusCode: 401, Code: "invalid_client", Message: "Client authentication failed"}
	errBadRequest  = &provider.Error{Provider: "paloalto_scm", Kind: provider.KindRequest, StatusCode: 400, Code: "invalid_scope", Message: "unknown tsg"}
)

func newCache(clock *testclock.Clock) *Cache {
	return New(Options{Now: clock.Now})
}

// mustGet reads and fails the test on error.
func mustGet(t *testing.T, c *Cache, req testRead) Result {
	t.Helper()
	res, err := c.read(context.Background(), req)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return res
}

// expectSource reads and checks where the token came from.
func expectSource(t *testing.T, c *Cache, req testRead, want Source) Result {
	t.Helper()
	res := mustGet(t, c, req)
	if res.Source != want {
		t.Fatalf("Get source = %s, want %s", res.Source, want)
	}
	return res
}

// expectCalls checks the vendor call count.
func expectCalls(t *testing.T, v *vendor, want uint64) {
	t.Helper()
	if got := v.calls.Load(); got != want {
		t.Fatalf("vendor calls = %d, want %d", got, want)
	}
}

// recv waits for one value from ch, failing the test at waitBound.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitBound):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

type getResult struct {
	res Result
	err error
}

// goGet reads in a new goroutine and delivers the outcome on the channel.
func goGet(ctx context.Context, c *Cache, req testRead) <-chan getResult {
	ch := make(chan getResult, 1)
	go func() {
		res, err := c.read(ctx, req)
		ch <- getResult{res, err}
	}()
	return ch
}

// refreshReport is what one RefreshDue did, as the cache's listing and
// counts show it.
type refreshReport struct {
	swept     int    // entries no longer listed
	due       uint64 // refresh fetches counted (those that ended)
	refreshed int    // tokens issued since
	failed    int    // failures recorded since
}

// refreshDue runs RefreshDue and reports what it did. Call it while no
// reader changes the cache, with the clock moved since the last fetch.
func refreshDue(ctx context.Context, c *Cache) refreshReport {
	before, fetches := c.Entries(), countAll(c).Fetches(ReasonRefresh)
	c.RefreshDue(ctx)
	after := c.Entries()
	issued := func(e EntryInfo) time.Time { return e.IssuedAt }
	failed := func(e EntryInfo) time.Time { return e.LastErrorAt }
	return refreshReport{
		swept:     len(before) - len(after),
		due:       countAll(c).Fetches(ReasonRefresh) - fetches,
		refreshed: newTimes(before, after, issued),
		failed:    newTimes(before, after, failed),
	}
}

// newTimes counts the non-zero times of after (by at) that before does
// not have, as many times as they occur.
func newTimes(before, after []EntryInfo, at func(EntryInfo) time.Time) int {
	seen := map[time.Time]int{}
	for _, e := range before {
		seen[at(e)]++
	}
	n := 0
	for _, e := range after {
		switch t := at(e); {
		case t.IsZero():
		case seen[t] > 0:
			seen[t]--
		default:
			n++
		}
	}
	return n
}

// goRefresh runs refreshDue in a new goroutine.
func goRefresh(ctx context.Context, c *Cache) <-chan refreshReport {
	ch := make(chan refreshReport, 1)
	go func() { ch <- refreshDue(ctx, c) }()
	return ch
}

// countAll is the sum of every config's counts.
func countAll(c *Cache) Counts {
	var all Counts
	for _, n := range c.Counts() {
		all.Add(n)
	}
	return all
}

// setup is a cache on a new clock, a vendor of tokens of the given
// lifetime, and the vendor's request for key "k" and role "r".
func setup(lifetime time.Duration) (*testclock.Clock, *vendor, *Cache, testRead) {
	clock := newClock()
	v := newVendor(clock, lifetime)
	return clock, v, newCache(clock), v.request("k", "r")
}

// expectRead waits for a goGet's outcome and checks where its token came
// from.
func expectRead(t *testing.T, ch <-chan getResult, what string, want Source) Result {
	t.Helper()
	r := recv(t, ch, what)
	if r.err != nil || r.res.Source != want {
		t.Fatalf("%s: source %s, err %v; want %s", what, r.res.Source, r.err, want)
	}
	return r.res
}

// expectDueAfter moves the clock to a second before d from now, where
// RefreshDue must do nothing, and then to d, where it must refresh one
// token.
func expectDueAfter(t *testing.T, clock *testclock.Clock, c *Cache, d time.Duration) {
	t.Helper()
	clock.Advance(d - time.Second)
	if rep := refreshDue(context.Background(), c); rep != (refreshReport{}) {
		t.Fatalf("RefreshDue a second before the token is due = %+v, want nothing done", rep)
	}
	clock.Advance(time.Second)
	if rep := refreshDue(context.Background(), c); rep != (refreshReport{due: 1, refreshed: 1}) {
		t.Fatalf("RefreshDue once the token is due = %+v, want one refresh", rep)
	}
}

// goFetch is goGet with the background context that returns once the
// read's fetch has reached v.
func goFetch(t *testing.T, c *Cache, v *vendor, req testRead, what string) <-chan getResult {
	t.Helper()
	ch := goGet(context.Background(), c, req)
	recv(t, v.entered, what)
	return ch
}

// expectRecovery clears v's error and checks that the next read fetches a
// token, in the calls-th vendor call.
func expectRecovery(t *testing.T, c *Cache, v *vendor, req testRead, calls uint64) {
	t.Helper()
	v.setErr(nil)
	expectSource(t, c, req, Fetched)
	expectCalls(t, v, calls)
}
