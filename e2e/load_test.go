//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// Shape of the load test. The token lifetime and the role's min_ttl are
// chosen so that the shared token is refreshed every 12 seconds and yet
// outlives the outage: the cache refreshes a token in use once it has
// min_ttl + lifetime/10 = 68s left, so when the outage begins the token has
// at least 68s less the 2s refresh interval, and after an outage of 30s it
// still has far more than the 9s the engine needs to lease it.
const (
	loadReaders       = 200
	loadDefaultLength = 60 * time.Second
	loadLifetime      = 80 * time.Second
	loadMinTTL        = 60 * time.Second
	loadErrorRate     = 10 // percent of token requests answered 503
	// loadReadTimeout bounds one read; a reader that waits longer has hung.
	loadReadTimeout = 30 * time.Second
	// loadLeaseFloor is the least life the engine hands a token of
	// loadLifetime out with (the token cache's floor: its margin, a tenth of the lifetime,
	// between 1s and 30s, plus 1s): a cached token has "life left" for a
	// reader while it has at least this much.
	loadLeaseFloor = 9 * time.Second
	// Bounds on vendor requests, from the client's retry policy: at most 4
	// requests per fetch (1 + 3 retries), and a failing fetch waits at
	// least 250ms + 500ms + 1s between its attempts.
	loadRequestsPerFetch = 4
	loadMinFailedFetch   = 1750 * time.Millisecond
	// loadRefreshPeriod is the least time between two refreshes of a
	// healthy token: lifetime less (min_ttl + lifetime/10).
	loadRefreshPeriod = loadLifetime - loadMinTTL - loadLifetime/10
)

// loadReport is the JSON summary written to LOAD_REPORT.
type loadReport struct {
	Reads       int64          `json:"reads"`
	Errors      int64          `json:"errors"`
	VendorCalls int64          `json:"vendor_calls"`
	P50ms       float64        `json:"p50_ms"`
	P99ms       float64        `json:"p99_ms"`
	DurationS   float64        `json:"duration_s"`
	Readers     int            `json:"readers"`
	Faults      map[string]any `json:"faults"`
	// Beyond what was asked: how many distinct tokens readers got, how
	// many reads were served a stale token with a warning, and the most
	// reads per second.
	Tokens        int     `json:"tokens"`
	StaleReads    int64   `json:"stale_reads"`
	ReadsPerSec   float64 `json:"reads_per_sec"`
	VendorCallCap int64   `json:"vendor_call_bound"`
}

// loadToken is what the test knows about one distinct token: the fake
// vendor's answer when the first reader received it.
type loadToken struct {
	once     sync.Once
	first    time.Time // when a reader first received it
	info     fakevendor.TokenInfo
	checkErr string // why it failed the check, if it did
}

// loadFailure is one failed read.
type loadFailure struct {
	at  time.Time
	msg string
}

// loadResults collects what the readers saw. Violations hold the first few
// descriptions of each kind of wrong answer.
type loadResults struct {
	mu         sync.Mutex
	latencies  []time.Duration
	failures   []loadFailure
	violations []string
	stale      int64
	tokens     sync.Map // access token -> *loadToken
}

func (r *loadResults) violate(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) < 20 {
		r.violations = append(r.violations, fmt.Sprintf(format, args...))
	}
}

// TestLoadReadersThroughOutage holds 200 concurrent readers on one role for
// LOAD_DURATION (60s by default) through the HTTP API with keep-alive,
// while the fake vendor answers 10% of token requests with 503 and goes
// down entirely (503) for the middle half of the run. The SCM token lives
// 80s, so it is refreshed several times. It checks that no read fails
// while a cached token has life left (by construction one always has),
// that no reader ever gets a token that is expired or invalid at the
// vendor, or a lease that outlives it, that vendor requests stay within
// the bound the retry and refresh policy implies, and that Vault and the
// plugin process survive. With LOAD_REPORT set it writes the figures there
// as JSON.
func TestLoadReadersThroughOutage(t *testing.T) {
	t.Parallel()
	length := loadDefaultLength
	if v := os.Getenv("LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 4*time.Second || d > time.Hour {
			t.Fatalf("LOAD_DURATION=%q: want a duration between 4s and 1h", v)
		}
		length = d
	}
	outage := length / 2
	outageStart := length / 4

	bins := vaulttest.LoadBinaries(t)
	fv := vaulttest.StartFakeVendor(t, bins.FakeVendor, vaulttest.FakeVendorOptions{
		Lifetimes: map[string]time.Duration{fakevendor.ProviderSCM: loadLifetime},
	})
	v := vaulttest.StartDev(t, bins.Vault, vaulttest.DevOptions{LogLevel: "info"})
	v.MountPalo(t, bins, "palo")
	var setup vaulttest.VendorSetup
	for _, s := range vaulttest.VendorSetups(t, fv, nil) {
		if s.Provider == fakevendor.ProviderSCM {
			setup = s
		}
	}
	v.WriteSetup(t, "palo", fv, setup)
	v.MustCLI(t, "write", "palo/roles/"+setup.Role, "min_ttl="+loadMinTTL.String())
	path := "palo/creds/" + setup.Role

	client := loadClient(t, v)
	checker := newLoadChecker(t, fv)
	// A first read starts the plugin process and caches a token.
	if s, err := client.Logical().Read(path); err != nil || s == nil {
		t.Fatalf("first read: %v", err)
	}
	pid := v.WaitPluginPid(t, vaulttest.PluginName, 30*time.Second)

	steady := fakevendor.Faults{ErrorRatePercent: loadErrorRate}
	down := steady
	down.Outage = fakevendor.OutageError
	fv.SetFaults(t, steady)
	fv.ResetStats(t)

	res := &loadResults{}
	start := time.Now()
	end := start.Add(length)
	// stop ends the readers early if the test fails before end.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for range loadReaders {
		wg.Go(func() { loadReader(client, checker, path, end, stop, res) })
	}

	// The fault schedule runs on the test goroutine (the fake vendor's
	// helpers may fail the test): steady, outage, steady.
	for _, step := range []struct {
		at     time.Duration
		faults fakevendor.Faults
	}{{outageStart, down}, {outageStart + outage, steady}} {
		timer := time.NewTimer(time.Until(start.Add(step.at)))
		<-timer.C
		fv.SetFaults(t, step.faults)
	}
	wg.Wait()
	elapsed := time.Since(start)
	stats := fv.Stats(t)

	// Vault and the very same plugin process are still serving.
	v.WaitHealthy(t, 30*time.Second)
	if pids, err := v.PluginPids(vaulttest.PluginName); err != nil || len(pids) != 1 || pids[0] != pid {
		t.Errorf("plugin processes after the run: %v (%v); want the same pid %d as before", pids, err, pid)
	}
	if s, err := client.Logical().Read(path); err != nil || s == nil {
		t.Errorf("read after the run: %v", err)
	}

	// The bound on vendor requests: during the outage one failing fetch at
	// a time (singleflight), each of at most 4 requests and lasting at
	// least 1.75s; outside it one fetch per refresh period, each of at most
	// 4 requests, plus the fetch after the outage and one spare.
	healthy := length - outage
	bound := int64(loadRequestsPerFetch * (int(math.Ceil(float64(outage)/float64(loadMinFailedFetch))) + 1 +
		int(math.Ceil(float64(healthy)/float64(loadRefreshPeriod))) + 2))

	report := res.report(elapsed, stats.Requests, bound, map[string]any{
		"error_rate_percent": loadErrorRate,
		"outage":             fmt.Sprintf("503 for every token request from %s to %s", outageStart, outageStart+outage),
		"token_lifetime":     loadLifetime.String(),
		"role_min_ttl":       loadMinTTL.String(),
	})
	t.Logf("load: %+v", report)
	if p := os.Getenv("LOAD_REPORT"); p != "" {
		b, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append(b, '\n'), 0o600); err != nil { //nolint:gosec // G703: the path the person running the test chose
			t.Fatalf("LOAD_REPORT: %v", err)
		}
	}

	for _, msg := range res.violations {
		t.Error(msg)
	}
	if alive := res.failuresWithLiveToken(); len(alive) > 0 {
		t.Errorf("%d reads failed while a cached token had at least %s of life left; first: %s", len(alive), loadLeaseFloor, alive[0])
	}
	if report.Errors != 0 {
		// The lifetime and min_ttl above keep a token with life left
		// through the whole outage, so no read may fail at all.
		t.Errorf("%d of %d reads failed; first: %s", report.Errors, report.Reads, res.failures[0].msg)
	}
	if report.Tokens < 2 {
		t.Errorf("readers got %d distinct tokens; the run should refresh the %s token at least once", report.Tokens, loadLifetime)
	}
	if stats.Requests > bound {
		t.Errorf("%d vendor token requests, more than the bound of %d", stats.Requests, bound)
	}
	// An outage longer than the refresh slack (a token due for refresh
	// still qualifies for lifetime/10 more, plus a refresh interval) must
	// make readers take the cached token with a warning.
	if slack := loadLifetime/10 + loadRefreshPeriod + 2*time.Second; outage > slack && report.StaleReads == 0 {
		t.Errorf("no read was served a cached token with a warning during an outage of %s", outage)
	}
	if report.Reads < loadReaders {
		t.Errorf("only %d reads", report.Reads)
	}
}

// loadClient is an API client for the readers: a keep-alive connection per
// reader, and a timeout per request.
func loadClient(t *testing.T, v *vaulttest.Server) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = v.Addr
	cfg.Timeout = loadReadTimeout
	cfg.MaxRetries = 0
	tr, ok := cfg.HttpClient.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("the API client's transport is a %T", cfg.HttpClient.Transport)
	}
	tr.MaxIdleConns = 2 * loadReaders
	tr.MaxIdleConnsPerHost = 2 * loadReaders
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(v.RootToken)
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// loadReader reads until end (or stop), checking every answer.
func loadReader(c *api.Client, check *loadChecker, path string, end time.Time, stop <-chan struct{}, res *loadResults) {
	var latencies []time.Duration
	defer func() {
		res.mu.Lock()
		res.latencies = append(res.latencies, latencies...)
		res.mu.Unlock()
	}()
	for time.Now().Before(end) {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), loadReadTimeout)
		began := time.Now()
		s, err := c.Logical().ReadWithContext(ctx, path)
		got := time.Now()
		cancel()
		latencies = append(latencies, got.Sub(began))
		if err != nil || s == nil {
			msg := fmt.Sprint(err)
			var re *api.ResponseError
			if errors.As(err, &re) {
				msg = fmt.Sprintf("HTTP %d: %s", re.StatusCode, strings.Join(re.Errors, "; "))
			}
			res.mu.Lock()
			res.failures = append(res.failures, loadFailure{at: began, msg: msg})
			res.mu.Unlock()
			continue
		}
		res.checkRead(check, s, got)
	}
}

// checkRead checks one good answer: the token was minted by the fake
// vendor and valid there when first received (asked once per token), it
// has not expired on the fake vendor's clock (the local clock: no skew
// here), expires_at is not later than the token really expires, and the
// lease ends before it does.
func (r *loadResults) checkRead(check *loadChecker, s *api.Secret, got time.Time) {
	at, _ := s.Data["access_token"].(string)
	v, _ := r.tokens.LoadOrStore(at, &loadToken{})
	tok := v.(*loadToken)
	tok.once.Do(func() {
		tok.first = got
		c, err := check.check(at)
		switch {
		case err != nil:
			tok.checkErr = "cannot ask the fake vendor: " + err.Error()
		case !c.Minted || !c.Valid || c.Info == nil:
			tok.checkErr = fmt.Sprintf("not valid at the fake vendor when first received: %+v", c)
		default:
			tok.info = *c.Info
		}
	})
	if tok.checkErr != "" {
		r.violate("a reader got a bad token: %s", tok.checkErr)
		return
	}
	if !got.Before(tok.info.ExpiresAt) {
		r.violate("a reader got a token at %s that expired at %s", got.Format(time.RFC3339Nano), tok.info.ExpiresAt.Format(time.RFC3339Nano))
	}
	raw, _ := s.Data["expires_at"].(string)
	expiresAt, err := time.Parse(time.RFC3339, raw)
	if err != nil || expiresAt.After(tok.info.ExpiresAt) || !expiresAt.After(got.Add(-time.Second)) {
		r.violate("expires_at %q for a token the fake says expires at %s, read at %s", raw, tok.info.ExpiresAt, got)
	}
	if s.Renewable || s.LeaseDuration < 1 {
		r.violate("lease %d s renewable %t", s.LeaseDuration, s.Renewable)
	}
	if leaseEnd := got.Add(time.Duration(s.LeaseDuration) * time.Second); leaseEnd.After(tok.info.ExpiresAt) {
		r.violate("a lease of %d s read at %s outlives the token, which expires at %s", s.LeaseDuration, got, tok.info.ExpiresAt)
	}
	if len(s.Warnings) > 0 {
		r.mu.Lock()
		r.stale++
		r.mu.Unlock()
		if w := strings.Join(s.Warnings, " "); !strings.Contains(w, "serving a cached token") {
			r.violate("unexpected warning: %s", w)
		}
	}
}

// failuresWithLiveToken lists the failed reads that began while a token
// some reader had received earlier still had at least loadLeaseFloor of
// life.
func (r *loadResults) failuresWithLiveToken() []string {
	var known []*loadToken
	r.tokens.Range(func(_, v any) bool {
		if t := v.(*loadToken); t.checkErr == "" {
			known = append(known, t)
		}
		return true
	})
	var out []string
	for _, f := range r.failures {
		for _, t := range known {
			if t.first.Before(f.at) && t.info.ExpiresAt.Sub(f.at) >= loadLeaseFloor {
				out = append(out, fmt.Sprintf("%s (a token had %s left)", f.msg, t.info.ExpiresAt.Sub(f.at).Truncate(time.Second)))
				break
			}
		}
	}
	return out
}

// report sums up the run.
func (r *loadResults) report(elapsed time.Duration, vendorCalls, bound int64, faults map[string]any) loadReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := min(int(math.Ceil(p*float64(len(lat))))-1, len(lat)-1)
		return float64(lat[max(i, 0)].Microseconds()) / 1000
	}
	tokens := 0
	r.tokens.Range(func(any, any) bool { tokens++; return true })
	reads := int64(len(lat))
	return loadReport{
		Reads:         reads,
		Errors:        int64(len(r.failures)),
		VendorCalls:   vendorCalls,
		P50ms:         pct(0.50),
		P99ms:         pct(0.99),
		DurationS:     math.Round(elapsed.Seconds()*10) / 10,
		Readers:       loadReaders,
		Faults:        faults,
		Tokens:        tokens,
		StaleReads:    r.stale,
		ReadsPerSec:   math.Round(float64(reads) / elapsed.Seconds()),
		VendorCallCap: bound,
	}
}

// loadChecker asks the fake vendor's admin API whether a token is valid,
// from any goroutine (vaulttest.FakeVendor.Check may only be called from
// the test's own).
type loadChecker struct {
	base   string
	client *http.Client
}

func newLoadChecker(t *testing.T, fv *vaulttest.FakeVendor) *loadChecker {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(fv.CAPEM) {
		t.Fatal("the fake vendor's CA holds no certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &loadChecker{base: fv.URL, client: &http.Client{Transport: tr, Timeout: loadReadTimeout}}
}

func (c *loadChecker) check(token string) (fakevendor.CheckResult, error) {
	var res fakevendor.CheckResult
	resp, err := c.client.Get(c.base + "/_fake/check?token=" + url.QueryEscape(token))
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return res, err
	}
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return res, json.Unmarshal(b, &res)
}
