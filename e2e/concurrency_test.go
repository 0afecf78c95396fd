//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// concurrentReaders is how many goroutines read one role at once: a fleet
// of agents behind one Vault.
const concurrentReaders = 64

// Token schedule of the engine (backend/tokencache/qualify.go), for
// the bound on how early a token may be replaced.
const (
	leaseFloor  = 31 * time.Second // a fresh token needs this much life left
	maxLead     = 30 * time.Second // the refresh lead is a tenth of the lifetime, at most this
	clockSlack  = time.Second      // the fake and the plugin stamp a token at slightly different moments
	readTimeout = 60 * time.Second
)

// TestConcurrentReaders reads one role from many goroutines through Vault's
// HTTP API. Every read succeeds and returns a token the fake vendor minted
// and holds valid, with a lease that ends before the token does; the
// readers share one token per token window, so the vendor sees one token
// request per token the readers get, never two at once.
func TestConcurrentReaders(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		// lifetime is the fake's SCM token lifetime; 0 keeps the default
		// (15 minutes), which outlasts the run.
		lifetime time.Duration
		// reads per reader, when the run is counted in reads...
		reads int
		// ...or the run's length, when it spans several token windows.
		span time.Duration
		// pace is the pause between one reader's reads in a long run.
		pace time.Duration
	}{
		"within one token window": {reads: 50},
		"across several token windows": {
			lifetime: 64 * time.Second,
			span:     70 * time.Second,
			pace:     100 * time.Millisecond,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := vaulttest.PaloOptions{
				Dev: vaulttest.DevOptions{LogLevel: "info"},
				FakeVendor: vaulttest.FakeVendorOptions{
					Accounts: scmOnly(),
				},
			}
			if tc.lifetime > 0 {
				o.FakeVendor.Lifetimes = map[string]time.Duration{fakevendor.ProviderSCM: tc.lifetime}
			}
			p := vaulttest.NewPalo(t, o)
			// The config write verified the credentials with a token of its
			// own, which is not cached: count from here.
			p.Vendor.ResetStats(t)
			got := readConcurrently(pooledClient(t, p.Vault), p.Path("creds", "wildfire"), tc.reads, tc.span, tc.pace)
			var issued []time.Time
			runSteps(t,
				step{"every read succeeds", func(t *testing.T) {
					if len(got.failed) > 0 {
						t.Fatalf("%d reads succeeded, and some failed; the first failures: %v", got.reads, got.failed)
					}
					if tc.reads > 0 && got.reads != concurrentReaders*tc.reads {
						t.Fatalf("%d reads made, want %d", got.reads, concurrentReaders*tc.reads)
					}
				}},
				step{"every token was minted for this account and TSG", func(t *testing.T) {
					for _, tok := range got.order {
						c := p.Vendor.Check(t, tok)
						if !c.Minted || c.Info.Account != p.Setup(t, fakevendor.ProviderSCM).Account.ClientID || c.Info.Scope != "tsg_id:1234567890" {
							t.Fatalf("a reader got a token the fake vendor did not mint for this account and TSG: %+v", c)
						}
						// Within one window every token is still valid;
						// across windows the early ones have expired by now
						// (readChecked proved each was leased for less than
						// its life).
						if tc.lifetime == 0 && !c.Valid {
							t.Fatalf("a reader got a token the fake vendor no longer holds valid: %+v", c.Info)
						}
						issued = append(issued, c.Info.IssuedAt)
					}
				}},
				step{"one vendor call per token, one at a time", func(t *testing.T) {
					stats := p.Vendor.Stats(t)
					t.Logf("%d reads by %d readers, %d distinct tokens, %d vendor calls", got.reads, concurrentReaders, len(got.order), stats.Requests)
					if stats.Failures != 0 || stats.PeakInFlight != 1 {
						t.Errorf("the vendor saw %d failed requests and up to %d at once; want none failed and one at a time", stats.Failures, stats.PeakInFlight)
					}
					if tc.lifetime == 0 {
						// The run fits in one token window: exactly one
						// vendor call.
						if stats.Requests != 1 || len(got.order) != 1 {
							t.Fatalf("%d concurrent reads made %d vendor calls and got %d tokens; want 1 and 1", got.reads, stats.Requests, len(got.order))
						}
						return
					}
					// Each vendor call is a token some reader got; the
					// background refresh may have fetched one more that no
					// reader asked for before the run ended.
					if n := int(stats.Successes); n < len(got.order) || n > len(got.order)+1 {
						t.Errorf("%d vendor calls for %d distinct tokens served; want one call per token (plus at most one refresh not yet read)", n, len(got.order))
					}
				}},
				step{"a new token each window, none replaced before it is due", func(t *testing.T) {
					if tc.lifetime == 0 {
						return // one window
					}
					if len(got.order) < 2 {
						t.Errorf("a %s run with %s tokens got %d distinct tokens; want a new token each window", tc.span, tc.lifetime, len(got.order))
					}
					// Readers accept a token while max(half its lifetime,
					// the floor) remains, and the refresh starts at most a
					// tenth of the lifetime (30 s at most) earlier.
					window := tc.lifetime - max(tc.lifetime/2, leaseFloor)
					earliest := window - min(tc.lifetime/10, maxLead) - clockSlack
					slices.SortFunc(issued, time.Time.Compare)
					for i := 1; i < len(issued); i++ {
						if gap := issued[i].Sub(issued[i-1]); gap < earliest {
							t.Errorf("token %d was minted %s after token %d; no token is replaced before %s of its life", i+1, gap, i, earliest)
						}
					}
				}},
			)
		})
	}
}

// readTally is what concurrent readers got: the distinct tokens in the
// order first seen, how many reads succeeded, and the first failures.
type readTally struct {
	order  []string
	reads  int
	failed []error
}

// readConcurrently has concurrentReaders goroutines read path through
// client (each checked by readChecked): reads times each, or, when reads
// is 0, until span has passed, pausing pace between one reader's reads.
func readConcurrently(client *api.Client, path string, reads int, span, pace time.Duration) readTally {
	ctx, cancel := context.WithTimeout(context.Background(), max(span, 5*time.Minute))
	defer cancel()
	if span > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, span)
		defer stop()
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		got  readTally
	)
	note := func(tok string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if len(got.failed) < 5 {
				got.failed = append(got.failed, err)
			}
			return
		}
		got.reads++
		if !seen[tok] {
			seen[tok] = true
			got.order = append(got.order, tok)
		}
	}
	var wg sync.WaitGroup
	for range concurrentReaders {
		wg.Go(func() {
			for i := 0; reads == 0 || i < reads; i++ {
				if ctx.Err() != nil {
					return
				}
				note(readChecked(client, path))
				if pace > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(pace):
					}
				}
			}
		})
	}
	wg.Wait()
	return got
}

// readChecked reads creds at path and checks the answer: an access token
// and a non-renewable lease that ends before the token expires. It returns
// the token.
func readChecked(client *api.Client, path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	start := time.Now()
	s, err := client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", fmt.Errorf("%s: no secret", path)
	}
	tok, _ := s.Data["access_token"].(string)
	exp, _ := s.Data["expires_at"].(string)
	expiresAt, err := time.Parse(time.RFC3339, exp)
	if tok == "" || err != nil {
		return "", fmt.Errorf("%s: no access_token or expires_at in %v", path, keys(s.Data))
	}
	lease := time.Duration(s.LeaseDuration) * time.Second
	if s.LeaseID == "" || s.Renewable || lease <= 0 {
		return "", fmt.Errorf("%s: lease %q, renewable %t, %s; want a non-renewable lease", path, s.LeaseID, s.Renewable, lease)
	}
	// expires_at is in whole seconds, so it may be up to a second early.
	if end := start.Add(lease); end.After(expiresAt.Add(time.Second)) {
		return "", fmt.Errorf("%s: a lease of %s read at %s outlives the token (expires %s)", path, lease, start.Format(time.RFC3339Nano), exp)
	}
	return tok, nil
}

// pooledClient is an API client for v with the root token whose connection
// pool keeps one connection per reader, as a fleet of separate agents would
// have.
func pooledClient(t *testing.T, v *vaulttest.Server) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = v.Addr
	cfg.MaxRetries = 0
	cfg.Timeout = readTimeout
	tr, ok := cfg.HttpClient.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("the API client's transport is a %T", cfg.HttpClient.Transport)
	}
	tr.MaxIdleConnsPerHost = concurrentReaders
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(v.RootToken)
	c.ClearNamespace()
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// scmOnly is the demo SCM account alone: the test needs no other vendor.
func scmOnly() []fakevendor.Account {
	a, _ := fakevendor.DemoAccount(fakevendor.ProviderSCM)
	return []fakevendor.Account{a}
}
