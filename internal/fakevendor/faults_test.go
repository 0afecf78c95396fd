package fakevendor

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// setFaults sets f or fails the test.
func setFaults(t testing.TB, s *Server, f Faults) {
	t.Helper()
	if err := s.SetFaults(f); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s. It waits
// for a state, not for time to pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFaultFailNextThenRecover(t *testing.T) {
	t.Parallel()
	forEachProvider(t, func(t *testing.T, p string) {
		ts, _ := newFaultyServer(t, Faults{FailNext: 3})
		for i := range 3 {
			res := do(t, ts, goodRequest(t, p))
			if res.status != http.StatusServiceUnavailable || tokenOf(res) != "" {
				t.Fatalf("request %d: status %d, body %s", i+1, res.status, res.raw)
			}
			if res.header.Get("Retry-After") != "" {
				t.Errorf("Retry-After %q without RetryAfter", res.header.Get("Retry-After"))
			}
			wantCode := "temporarily_unavailable"
			if p == ProviderOracleCASB {
				wantCode = "SERVICE_UNAVAILABLE"
			}
			if errorCode(res) != wantCode {
				t.Errorf("error body %s, want code %s", res.raw, wantCode)
			}
			if left := ts.Faults().FailNext; left != 2-i {
				t.Errorf("FailNext = %d after %d failures", left, i+1)
			}
		}
		issue(t, ts, p) // after the burst
		st := ts.Stats()
		if st.ByStatus[503] != 3 || st.ByFault[FaultError] != 3 || st.Successes != 1 || st.Failures != 3 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestFaultErrorRatePercent(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		percent int
		failing []int // 1-based request numbers among the first 20
	}{
		"10 percent":  {10, []int{10, 20}},
		"25 percent":  {25, []int{4, 8, 12, 16, 20}},
		"50 percent":  {50, []int{2, 4, 6, 8, 10, 12, 14, 16, 18, 20}},
		"100 percent": {100, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newFaultyServer(t, Faults{ErrorRatePercent: tc.percent, FailStatus: 502})
			var failed []int
			for n := 1; n <= 20; n++ {
				res := do(t, ts, goodRequest(t, ProviderSCM))
				if res.status == http.StatusBadGateway {
					failed = append(failed, n)
				} else if res.status != http.StatusOK {
					t.Fatalf("request %d: status %d", n, res.status)
				}
			}
			if !slices.Equal(failed, tc.failing) {
				t.Errorf("failed requests %v, want %v", failed, tc.failing)
			}
		})
	}
}

func TestFaultOutage(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		faults Faults
		status int // 0: the connection is reset
	}{
		"error":             {Faults{Outage: OutageError}, 503},
		"error with 500":    {Faults{Outage: OutageError, FailStatus: 500}, 500},
		"reset":             {Faults{Outage: OutageReset}, 0},
		"rate limit":        {Faults{Outage: OutageRateLimit}, 429},
		"html":              {Faults{Outage: OutageHTML}, 502},
		"html with 504":     {Faults{Outage: OutageHTML, HTMLStatus: 504}, 504},
		"outage beats next": {Faults{Outage: OutageError, FailStatus: 504, RateLimitNext: 5}, 504},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newFaultyServer(t, tc.faults)
			for i := range 5 {
				res, err := tryDo(ts, goodRequest(t, ProviderOAuth2))
				switch {
				case tc.status == 0 && err == nil:
					t.Fatalf("request %d: got status %d, want a reset connection", i, res.status)
				case tc.status != 0 && err != nil:
					t.Fatalf("request %d: %v", i, err)
				case tc.status != 0 && res.status != tc.status:
					t.Fatalf("request %d: status %d, want %d", i, res.status, tc.status)
				}
			}
			setFaults(t, ts.Server, Faults{})
			issue(t, ts, ProviderOAuth2) // after the outage
			if st := ts.Stats(); st.Failures != 5 || st.Successes != 1 || st.ByStatus[tc.status] != 5 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestFaultResetNext(t *testing.T) {
	t.Parallel()
	ts, _ := newFaultyServer(t, Faults{ResetNext: 2})
	for i := range 2 {
		if res, err := tryDo(ts, goodRequest(t, ProviderSaaSSecurity)); err == nil {
			t.Fatalf("request %d: got status %d, want a reset", i, res.status)
		}
	}
	issue(t, ts, ProviderSaaSSecurity) // after the resets
	st := ts.Stats()
	if st.ByFault[FaultReset] != 2 || st.ByStatus[0] != 2 || st.Successes != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultRateLimitRetryAfter(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		faults     Faults
		retryAfter func(now time.Time) string
	}{
		"no Retry-After": {Faults{RateLimitNext: 1}, func(time.Time) string { return "" }},
		"seconds":        {Faults{RateLimitNext: 1, RetryAfter: 30 * time.Second}, func(time.Time) string { return "30" }},
		"seconds rounded up": {
			Faults{RateLimitNext: 1, RetryAfter: 1500 * time.Millisecond}, func(time.Time) string { return "2" },
		},
		"HTTP date": {
			Faults{RateLimitNext: 1, RetryAfter: 2 * time.Minute, RetryAfterHTTPDate: true},
			func(now time.Time) string { return now.Add(2 * time.Minute).Format(http.TimeFormat) },
		},
		"HTTP date on the skewed clock": {
			Faults{RateLimitNext: 1, RetryAfter: time.Minute, RetryAfterHTTPDate: true, ClockSkew: -time.Hour},
			func(now time.Time) string { return now.Add(-time.Hour + time.Minute).Format(http.TimeFormat) },
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, clk := newFaultyServer(t, tc.faults)
			res := do(t, ts, goodRequest(t, ProviderSCM))
			if res.status != http.StatusTooManyRequests || errorCode(res) != "too_many_requests" {
				t.Fatalf("status %d, body %s", res.status, res.raw)
			}
			if got, want := res.header.Get("Retry-After"), tc.retryAfter(clk.Now()); got != want {
				t.Errorf("Retry-After = %q, want %q", got, want)
			}
			issue(t, ts, ProviderSCM) // the second request
		})
	}
}

func TestFaultRetryAfterOn503(t *testing.T) {
	t.Parallel()
	ts, _ := newFaultyServer(t, Faults{FailNext: 1, RetryAfter: 5 * time.Second})
	res := do(t, ts, goodRequest(t, ProviderBrightPattern))
	if res.status != 503 || res.header.Get("Retry-After") != "5" {
		t.Errorf("status %d, Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
	// A 500 is not a "come back later": no Retry-After.
	setFaults(t, ts.Server, Faults{FailNext: 1, FailStatus: 500, RetryAfter: 5 * time.Second})
	res = do(t, ts, goodRequest(t, ProviderBrightPattern))
	if res.status != 500 || res.header.Get("Retry-After") != "" {
		t.Errorf("status %d, Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
}

func TestFaultHTML(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		status int
		want   int
	}{
		"default 502":    {0, 502},
		"captive portal": {200, 200},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newFaultyServer(t, Faults{HTMLNext: 1, HTMLStatus: tc.status})
			res := do(t, ts, goodRequest(t, ProviderOracleCASB))
			if res.status != tc.want || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
				t.Errorf("status %d, Content-Type %q", res.status, res.header.Get("Content-Type"))
			}
			if json.Valid(res.raw) || !strings.Contains(string(res.raw), "<html>") {
				t.Errorf("body is not an HTML page: %s", res.raw)
			}
			if st := ts.Stats(); st.Successes != 0 || st.ByFault[FaultHTML] != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestFaultTruncateBody(t *testing.T) {
	t.Parallel()
	forEachProvider(t, func(t *testing.T, p string) {
		ts, _ := newFaultyServer(t, Faults{TruncateBody: true})
		res := do(t, ts, goodRequest(t, p))
		if res.status != successStatus(p) || json.Valid(res.raw) || len(res.raw) == 0 {
			t.Errorf("status %d, body %q: want the success status and broken JSON", res.status, res.raw)
		}
		if st := ts.Stats(); st.Successes != 0 || st.Failures != 1 || st.ByFault[FaultTruncate] != 1 {
			t.Errorf("stats = %+v", st)
		}
		// Errors are not truncated: the fault shapes successes.
		rq := goodRequest(t, p)
		rq.method = http.MethodGet
		if res := do(t, ts, rq); !json.Valid(res.raw) {
			t.Errorf("an error body was truncated: %s", res.raw)
		}
	})
}

func TestFaultOmitToken(t *testing.T) {
	t.Parallel()
	forEachProvider(t, func(t *testing.T, p string) {
		ts, _ := newFaultyServer(t, Faults{OmitToken: true})
		res := do(t, ts, goodRequest(t, p))
		if res.status != successStatus(p) || res.json == nil {
			t.Fatalf("status %d, body %s", res.status, res.raw)
		}
		if _, ok := res.json["access_token"]; ok {
			t.Errorf("body has access_token: %s", res.raw)
		}
		if _, ok := res.json["accessToken"]; ok {
			t.Errorf("body has accessToken: %s", res.raw)
		}
		if len(res.json) == 0 {
			t.Error("the other fields are gone too")
		}
		if st := ts.Stats(); st.Successes != 0 || st.ByFault[FaultNoToken] != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestFaultExpiresInForm(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		provider string
		form     string
		want     any // nil: absent
	}{
		"SaaS as vendor":        {ProviderSaaSSecurity, ExpiresInVendor, float64(7199)},
		"SaaS as string":        {ProviderSaaSSecurity, ExpiresInString, "7199"},
		"SCM as string":         {ProviderSCM, ExpiresInString, "899"},
		"SCM omitted":           {ProviderSCM, ExpiresInOmit, nil},
		"Bright as vendor":      {ProviderBrightPattern, ExpiresInVendor, "3599"},
		"Bright as number":      {ProviderBrightPattern, ExpiresInNumber, float64(3599)},
		"Bright omitted":        {ProviderBrightPattern, ExpiresInOmit, nil},
		"OAuth2 as string":      {ProviderOAuth2, ExpiresInString, "3600"},
		"OAuth2 forced number":  {ProviderOAuth2, ExpiresInNumber, float64(3600)},
		"Oracle expiresAt gone": {ProviderOracleCASB, ExpiresInOmit, nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newFaultyServer(t, Faults{ExpiresIn: tc.form})
			res := issue(t, ts, tc.provider)
			field := "expires_in"
			if tc.provider == ProviderOracleCASB {
				field = "expiresAt"
			}
			got, present := res.json[field]
			if (tc.want == nil) == present || (present && got != tc.want) {
				t.Errorf("%s = %#v (present %t), want %#v", field, got, present, tc.want)
			}
			// The token still expires as configured, and the fake knows it.
			if _, ok := ts.Check(tokenOf(res)); !ok {
				t.Error("token unknown")
			}
		})
	}
}

func TestFaultLifetimes(t *testing.T) {
	t.Parallel()
	const tenYears = 10 * 365 * 24 * time.Hour
	for name, tc := range map[string]struct {
		provider  string
		lifetime  time.Duration
		expiresIn any
	}{
		"zero":                     {ProviderSCM, 0, float64(0)},
		"one second":               {ProviderSCM, time.Second, float64(1)},
		"ten years":                {ProviderSCM, tenYears, float64(315360000)},
		"sub-second rounds down":   {ProviderSaaSSecurity, 1500 * time.Millisecond, float64(1)},
		"Bright one second":        {ProviderBrightPattern, time.Second, "1"},
		"Oracle zero":              {ProviderOracleCASB, 0, nil},
		"Oracle one second":        {ProviderOracleCASB, time.Second, nil},
		"Oracle ten years":         {ProviderOracleCASB, tenYears, nil},
		"OAuth2 ten years, string": {ProviderOAuth2, tenYears, float64(315360000)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, clk := newDemoServer(t)
			if err := ts.SetLifetime(tc.provider, tc.lifetime); err != nil {
				t.Fatal(err)
			}
			start := clk.Now()
			res := issue(t, ts, tc.provider)
			whole := tc.lifetime.Truncate(time.Second)
			if tc.provider == ProviderOracleCASB {
				want := start.Add(whole).Format(time.RFC3339)
				if res.str("expiresAt") != want {
					t.Errorf("expiresAt = %q, want %q", res.str("expiresAt"), want)
				}
			} else if res.json["expires_in"] != tc.expiresIn {
				t.Errorf("expires_in = %#v, want %#v", res.json["expires_in"], tc.expiresIn)
			}
			tok := tokenOf(res)
			info, ok := ts.Check(tok)
			if !info.ExpiresAt.Equal(start.Add(whole)) {
				t.Errorf("ExpiresAt = %s, want %s", info.ExpiresAt, start.Add(whole))
			}
			if ok != (whole > 0) {
				t.Errorf("Check ok = %t right after minting a %s token", ok, tc.lifetime)
			}
			clk.Advance(whole)
			if _, ok := ts.Check(tok); ok {
				t.Error("Check ok at the expiry instant")
			}
		})
	}
}

func TestFaultClockSkew(t *testing.T) {
	t.Parallel()
	ts, clk := newFaultyServer(t, Faults{ClockSkew: 5 * time.Minute})
	vendorNow := clk.Now().Add(5 * time.Minute)

	res := do(t, ts, goodRequest(t, ProviderOracleCASB))
	if got := res.header.Get("Date"); got != vendorNow.Format(http.TimeFormat) {
		t.Errorf("Date = %q, want the skewed %q", got, vendorNow.Format(http.TimeFormat))
	}
	if got, want := res.str("expiresAt"), vendorNow.Add(time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("expiresAt = %q, want %q", got, want)
	}
	tok := tokenOf(res)
	if !ts.Now().Equal(vendorNow) {
		t.Errorf("Now = %s, want %s", ts.Now(), vendorNow)
	}
	// expiresAt reads 1h5m ahead of the unskewed clock, but the token dies
	// an hour from now: a client that trusts expiresAt over its own clock,
	// without the Date header, keeps it 5 minutes too long.
	clk.Advance(time.Hour - time.Second)
	if _, ok := ts.Check(tok); !ok {
		t.Error("token expired early")
	}
	clk.Advance(time.Second)
	if _, ok := ts.Check(tok); ok {
		t.Error("token alive past the vendor's expiry")
	}
	// A skew applies to every provider, even with a Providers filter.
	setFaults(t, ts.Server, Faults{ClockSkew: -time.Hour, Providers: []string{ProviderSCM}})
	res = do(t, ts, goodRequest(t, ProviderSaaSSecurity))
	if got, want := res.header.Get("Date"), clk.Now().Add(-time.Hour).Format(http.TimeFormat); got != want {
		t.Errorf("Date = %q, want %q", got, want)
	}
}

func TestFaultProvidersFilter(t *testing.T) {
	t.Parallel()
	ts, _ := newFaultyServer(t, Faults{Providers: []string{ProviderSCM}, Outage: OutageError, TruncateBody: true})
	if res := do(t, ts, goodRequest(t, ProviderSCM)); res.status != 503 {
		t.Errorf("SCM status %d, want 503", res.status)
	}
	for _, p := range []string{ProviderSaaSSecurity, ProviderOracleCASB, ProviderBrightPattern, ProviderOAuth2} {
		issue(t, ts, p)
	}
	// FailNext counts only the providers it applies to.
	setFaults(t, ts.Server, Faults{Providers: []string{ProviderSCM}, FailNext: 1})
	do(t, ts, goodRequest(t, ProviderOAuth2))
	if res := do(t, ts, goodRequest(t, ProviderSCM)); res.status != 503 {
		t.Errorf("SCM status %d, want 503", res.status)
	}
}

// A delayed response outlives a client's timeout: the client gets a timeout
// error, never an answer.
func TestFaultDelayPastTimeout(t *testing.T) {
	t.Parallel()
	records := make(chan RequestRecord, 4)
	clk := newTestClock()
	s := New(WithClock(clk.Now), WithRequestLog(func(r RequestRecord) { records <- r }))
	if err := s.AddAccount(demo(t, ProviderSCM)); err != nil {
		t.Fatal(err)
	}
	ts := Serve(t, s)
	setFaults(t, s, Faults{Delay: time.Hour})

	r, err := newRequest(context.Background(), ts, goodRequest(t, ProviderSCM))
	if err != nil {
		t.Fatal(err)
	}
	// The timeout starts once the request is written, so the server has it.
	client := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(r)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("got status %d, want a timeout", resp.StatusCode)
	}
	var netErr interface{ Timeout() bool }
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Errorf("error %v is not a timeout", err)
	}
	select {
	case rec := <-records:
		if rec.Fault != FaultDelay || !rec.Delayed || rec.Status != 0 || rec.TokenIssued {
			t.Errorf("record = %+v", rec)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the delayed request never finished after the client gave up")
	}
}

func TestFaultDelayThenAnswer(t *testing.T) {
	t.Parallel()
	ts, _ := newFaultyServer(t, Faults{Delay: time.Millisecond, FailNext: 1})
	if res := do(t, ts, goodRequest(t, ProviderSaaSSecurity)); res.status != 503 {
		t.Errorf("status %d, want the 503 after the delay", res.status)
	}
	issue(t, ts, ProviderSaaSSecurity) // after the delay
	if st := ts.Stats(); st.ByFault[FaultDelay] != 2 || st.ByFault[FaultError] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// Requests held by a delay are in flight together: the peak counts them,
// and MaxInFlight answers one more with an immediate 429.
func TestFaultMaxInFlightAndPeak(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	const n = 5
	setFaults(t, ts.Server, Faults{Delay: time.Hour, MaxInFlight: n, RetryAfter: time.Second})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, n)
	for range n {
		go func() {
			r, err := newRequest(ctx, ts, goodRequest(t, ProviderSCM))
			if err == nil {
				var resp *http.Response
				if resp, err = ts.Client().Do(r); err == nil {
					_ = resp.Body.Close()
				}
			}
			errs <- err
		}()
	}
	waitFor(t, "5 requests in flight", func() bool { return ts.Stats().InFlight == n })

	res := do(t, ts, goodRequest(t, ProviderSCM))
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "1" {
		t.Errorf("request beyond the limit: status %d, Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
	if st := ts.Stats(); st.PeakInFlight != n+1 || st.ByFault[FaultInFlight] != 1 {
		t.Errorf("stats = %+v", st)
	}

	cancel()
	for range n {
		if err := <-errs; err == nil {
			t.Error("a delayed request was answered")
		}
	}
	waitFor(t, "no request in flight", func() bool { return ts.Stats().InFlight == 0 })
	if st := ts.Stats(); st.ByFault[FaultDelay] != n || st.Requests != n+1 || st.Successes != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// takeFault answers 429 to the request beyond MaxInFlight (tested directly:
// a delayed request cannot answer at once).
func TestTakeFaultMaxInFlight(t *testing.T) {
	t.Parallel()
	s := New()
	setFaults(t, s, Faults{MaxInFlight: 10})
	if f, _ := s.takeFault(ProviderSCM, 10); f != "" {
		t.Errorf("fault %q at the limit", f)
	}
	if f, _ := s.takeFault(ProviderSCM, 11); f != FaultInFlight {
		t.Errorf("fault %q past the limit, want %q", f, FaultInFlight)
	}
}

// echoSecret has a space, "/", "+", "=", "&", "?" and non-ASCII characters,
// and its base64 forms differ by alphabet and padding.
const echoSecret = "a b/c+d=&é?😀?" //nolint:gosec // G101: a test secret

func TestFaultEchoSecret(t *testing.T) {
	t.Parallel()
	oauth2 := Account{Provider: ProviderOAuth2, ClientID: "echo-client", ClientSecret: echoSecret}
	basic := req{
		path: "/oauth2/token", contentType: formType, body: form("grant_type", "client_credentials"),
		basic: true, basicUser: "echo-client", basicPass: echoSecret,
	}
	for name, tc := range map[string]struct {
		faults      Faults
		rq          req
		status      int
		contentType string
		want        string
		validJSON   bool
	}{
		"raw": {Faults{EchoSecret: EchoRaw}, basic, 400, "application/json", `"The client secret a b/c+d=&é?😀? is wrong."`, true},
		"path escape": {
			Faults{EchoSecret: EchoPathEscape, EchoStatus: 401},
			basic, 401, "application/json",
			"a%20b%2Fc+d=&%C3%A9%3F%F0%9F%98%80%3F", true,
		},
		"lower-case hex": {
			Faults{EchoSecret: EchoLowerHex},
			basic, 400, "application/json",
			"a%20b%2fc%2bd%3d%26%c3%a9%3f%f0%9f%98%80%3f", true,
		},
		"form":            {Faults{EchoSecret: EchoForm}, basic, 400, "application/json", "a+b%2Fc%2Bd%3D%26%C3%A9%3F%F0%9F%98%80%3F", true},
		"base64":          {Faults{EchoSecret: EchoBase64}, basic, 400, "application/json", "YSBiL2MrZD0mw6k/8J+YgD8=", true},
		"base64url":       {Faults{EchoSecret: EchoBase64URL}, basic, 400, "application/json", "YSBiL2MrZD0mw6k_8J-YgD8=", true},
		"base64url nopad": {Faults{EchoSecret: EchoBase64URLNoPad}, basic, 400, "application/json", "YSBiL2MrZD0mw6k_8J-YgD8 is", true},
		"JSON unicode, truncated": {
			Faults{EchoSecret: EchoJSONUnicode},
			basic, 400, "application/json",
			`\u0061\u0020\u0062\u002f\u0063\u002b\u0064\u003d\u0026\u00e9\u003f\ud83d\ude00\u003f;`, false,
		},
		"HTML page": {Faults{EchoSecret: EchoHTML, EchoStatus: 502}, basic, 502, "text/html", "<p>Invalid client secret: a b/c+d=&amp;é?😀?</p>", false},
		"client_secret_post": {
			Faults{EchoSecret: EchoForm},
			req{
				path: "/oauth2/token", contentType: formType,
				body: form("grant_type", "client_credentials", "client_id", "echo-client", "client_secret", echoSecret),
			},
			400, "application/json", "a+b%2Fc%2Bd%3D%26%C3%A9%3F%F0%9F%98%80%3F", true,
		},
		"Oracle accessSecret": {
			Faults{EchoSecret: EchoRaw},
			req{
				path: "/api/v1/token", contentType: jsonType,
				body: `{"accessKey":"DEMOACCESSKEY0000001","accessSecret":"a b/c+d=&é?😀?"}`,
			},
			400, "application/json", `"message":"The client secret a b/c+d=&é?😀? is wrong."`, true,
		},
		"another provider is not affected": {Faults{EchoSecret: EchoRaw, Providers: []string{ProviderSCM}}, basic, 200, "application/json", `"access_token"`, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newFaultyServer(t, tc.faults)
			if err := ts.AddAccount(oauth2); err != nil {
				t.Fatal(err)
			}
			res := do(t, ts, tc.rq)
			if res.status != tc.status || !strings.HasPrefix(res.header.Get("Content-Type"), tc.contentType) {
				t.Errorf("status %d, Content-Type %q; want %d %q", res.status, res.header.Get("Content-Type"), tc.status, tc.contentType)
			}
			if !strings.Contains(string(res.raw), tc.want) {
				t.Errorf("body %s\nlacks %s", res.raw, tc.want)
			}
			if json.Valid(res.raw) != tc.validJSON {
				t.Errorf("body is valid JSON: %t, want %t: %s", json.Valid(res.raw), tc.validJSON, res.raw)
			}
			if wantFault := tc.status != 200; (ts.Stats().ByFault[FaultEchoSecret] == 1) != wantFault {
				t.Errorf("ByFault = %v", ts.Stats().ByFault)
			}
		})
	}
}

func TestFaultControlChar(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		provider, field, char string
		want                  string // the field's value
	}{
		"SCM token_type CRLF":    {ProviderSCM, "token_type", "", "Bearer\r\nX-Injected: 1"},
		"SaaS scope LF":          {ProviderSaaSSecurity, "scope", "lf", "api_access\nX-Injected: 1"},
		"SaaS tenant CR":         {ProviderSaaSSecurity, "tenant", "cr", "demo tenant\rX-Injected: 1"},
		"Oracle tenantId NUL":    {ProviderOracleCASB, "tenantId", "nul", "00000000-demo-0000-0000-000000000001\x00X-Injected: 1"},
		"Bright tenant_id ESC":   {ProviderBrightPattern, "tenant_id", "esc", "\x1bX-Injected: 1"},
		"OAuth2 extra field DEL": {ProviderOAuth2, "x_note", "del", "\x7fX-Injected: 1"},
		"OAuth2 scope tab":       {ProviderOAuth2, "scope", "tab", "read\tX-Injected: 1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newFaultyServer(t, Faults{ControlCharField: tc.field, ControlChar: tc.char})
			res := issue(t, ts, tc.provider)
			if res.str(tc.field) != tc.want {
				t.Errorf("%s = %q, want %q; body %s", tc.field, res.str(tc.field), tc.want, res.raw)
			}
			if _, ok := ts.Check(tokenOf(res)); !ok {
				t.Error("the token is not valid")
			}
			if _, isNum := res.json["expires_in"].(float64); tc.provider != ProviderOracleCASB && tc.provider != ProviderBrightPattern && !isNum {
				t.Errorf("expires_in changed form: %s", res.raw)
			}
			if ts.Stats().ByFault[FaultControlChar] != 1 {
				t.Errorf("ByFault = %v", ts.Stats().ByFault)
			}
		})
	}
}

func TestFaultsValidateBodies(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		body string
		want string
	}{
		"unknown encoding":      {`{"echo_secret":"rot13"}`, "echo_secret:"},
		"echo status 200":       {`{"echo_secret":"raw","echo_status":200}`, "echo_status:"},
		"token field":           {`{"control_char_field":"access_token"}`, "control_char_field:"},
		"field with a space":    {`{"control_char_field":"a b"}`, "control_char_field:"},
		"unknown char":          {`{"control_char_field":"scope","control_char":"bell"}`, "control_char:"},
		"char without a field":  {`{"control_char":"cr"}`, "control_char: needs"},
		"empty kid":             {`{"refuse_kids":["k1",""]}`, "refuse_kids:"},
		"refuse_kids not array": {`{"refuse_kids":"k1"}`, "refuse_kids"},
	} {
		ts, _ := newDemoServer(t)
		res := admin(t, ts, http.MethodPut, "/_fake/faults", tc.body)
		if res.status != http.StatusBadRequest || !strings.Contains(res.str("error"), tc.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", name, res.status, res.raw, tc.want)
		}
	}
	ts, _ := newDemoServer(t)
	res := admin(t, ts, http.MethodPut, "/_fake/faults",
		`{"echo_secret":"base64url_nopad","echo_status":401,"control_char_field":"tenant","control_char":"del","refuse_kids":["k2"]}`)
	want := Faults{EchoSecret: EchoBase64URLNoPad, EchoStatus: 401, ControlCharField: "tenant", ControlChar: "del", RefuseKIDs: []string{"k2"}}
	got := ts.Faults()
	if res.status != http.StatusOK || got.EchoSecret != want.EchoSecret || got.EchoStatus != 401 || got.ControlCharField != "tenant" ||
		got.ControlChar != "del" || len(got.RefuseKIDs) != 1 || got.RefuseKIDs[0] != "k2" {
		t.Errorf("PUT: %d %s; Faults %+v", res.status, res.raw, got)
	}
}
