package fakevendor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	ts, clk := newDemoServer(t)
	res := do(t, ts, goodRequest(t, ProviderSCM))
	tok := tokenOf(res)

	for name, tc := range map[string]struct {
		token string
		known bool
	}{
		"minted":            {tok, true},
		"unknown":           {"fake-scm-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", false},
		"empty":             {"", false},
		"prefix of minted":  {tok[:len(tok)-1], false},
		"minted, different": {tok + "x", false},
	} {
		info, ok := ts.Check(tc.token)
		if ok != tc.known || (info.Provider != "") != tc.known {
			t.Errorf("%s: Check = %+v, %t", name, info, ok)
		}
	}

	clk.Advance(899*time.Second - time.Nanosecond)
	if _, ok := ts.Check(tok); !ok {
		t.Error("expired a nanosecond early")
	}
	clk.Advance(time.Nanosecond)
	info, ok := ts.Check(tok)
	if ok || info.Provider != ProviderSCM {
		t.Errorf("at expiry: Check = %+v, %t; want info and not ok", info, ok)
	}
}

// A disabled account gets no token: the vendor's refusal of bad
// credentials, or Oracle CASB's 403 for a disabled tenant.
func TestDisabledAccount(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]struct {
		status int
		code   string
	}{
		ProviderSaaSSecurity:  {http.StatusUnauthorized, "unauthorized"},
		ProviderSCM:           {http.StatusUnauthorized, "invalid_client"},
		ProviderBrightPattern: {http.StatusUnauthorized, "invalid_client"},
		ProviderOAuth2:        {http.StatusUnauthorized, "invalid_client"},
		ProviderOracleCASB:    {http.StatusForbidden, "FORBIDDEN"},
	} {
		a := demo(t, p)
		a.Disabled = true
		res := do(t, NewTestServer(t, a), goodRequest(t, p))
		if res.status != want.status || errorCode(res) != want.code || tokenOf(res) != "" {
			t.Errorf("%s: status %d, body %s; want %d %s", p, res.status, res.raw, want.status, want.code)
		}
		if p == ProviderOracleCASB && res.json["status"] != float64(403) {
			t.Errorf("the Oracle body's status is not 403: %s", res.raw)
		}
	}
}

func TestDemoAccount(t *testing.T) {
	t.Parallel()
	for _, p := range Providers() {
		if a, ok := DemoAccount(p); !ok || a.Provider != p || a.Validate() != nil {
			t.Errorf("DemoAccount(%s) = %v, %t; want a valid account of the provider", p, a, ok)
		}
	}
	if a, ok := DemoAccount("okta"); ok || a.Provider != "" {
		t.Errorf("DemoAccount(okta) = %v, %t", a, ok)
	}
}

func TestTokensAreUnique(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	seen := map[string]bool{}
	for range 50 {
		tok := tokenOf(do(t, ts, goodRequest(t, ProviderOAuth2)))
		if len(tok) < len("fake-oauth2-")+40 || seen[tok] {
			t.Fatalf("token %q is short or repeated", tok)
		}
		seen[tok] = true
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	do(t, ts, goodRequest(t, ProviderSCM))
	do(t, ts, goodRequest(t, ProviderSCM))
	bad := goodRequest(t, ProviderSCM)
	bad.basicPass = "wrong"
	do(t, ts, bad)
	stranger := goodRequest(t, ProviderSCM)
	stranger.basicUser = "stranger"
	do(t, ts, stranger)
	do(t, ts, goodRequest(t, ProviderOracleCASB))
	do(t, ts, req{path: "/oauth2/token", contentType: "application/x-www-form-urlencoded", body: "grant_type=client_credentials"})
	do(t, ts, req{path: "/_fake/stats", method: http.MethodGet}) // admin: not counted
	do(t, ts, req{path: "/nowhere"})                             // unknown path: not counted

	st := ts.Stats()
	want := Counts{Requests: 6, Successes: 3, Failures: 3}
	if st.Counts != want {
		t.Errorf("totals = %+v, want %+v", st.Counts, want)
	}
	wantProvider := map[string]Counts{
		ProviderSCM:        {Requests: 4, Successes: 2, Failures: 2},
		ProviderOracleCASB: {Requests: 1, Successes: 1},
		ProviderOAuth2:     {Requests: 1, Failures: 1},
	}
	if fmt.Sprint(st.ByProvider) != fmt.Sprint(wantProvider) {
		t.Errorf("ByProvider = %v, want %v", st.ByProvider, wantProvider)
	}
	wantAccount := map[string]Counts{
		"wildfire-sa@1234567890.iam.panserviceaccount.com": {Requests: 3, Successes: 2, Failures: 1},
		"stranger":             {Requests: 1, Failures: 1},
		"DEMOACCESSKEY0000001": {Requests: 1, Successes: 1},
	}
	if fmt.Sprint(st.ByAccount) != fmt.Sprint(wantAccount) {
		t.Errorf("ByAccount = %v, want %v", st.ByAccount, wantAccount)
	}
	if st.ByStatus[200] != 2 || st.ByStatus[201] != 1 || st.ByStatus[401] != 3 {
		t.Errorf("ByStatus = %v", st.ByStatus)
	}
	if st.PeakInFlight < 1 || st.InFlight != 0 {
		t.Errorf("in flight %d, peak %d", st.InFlight, st.PeakInFlight)
	}

	// The copy is the caller's.
	st.ByAccount["stranger"] = Counts{}
	if ts.Stats().ByAccount["stranger"].Requests != 1 {
		t.Error("Stats returned shared maps")
	}

	ts.ResetStats()
	st = ts.Stats()
	if st.Requests != 0 || len(st.ByAccount) != 0 || len(st.ByStatus) != 0 || st.PeakInFlight != 0 {
		t.Errorf("after reset: %+v", st)
	}
}

// Many clients at once, while the faults change under them: the race
// detector checks the locking, and every request is counted once.
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	const workers, each = 8, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := Providers()[w%len(Providers())]
			for range each {
				if _, err := tryDo(ts, goodRequest(t, p)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		if err := ts.SetFaults(Faults{FailNext: i % 3, ExpiresIn: ExpiresInString}); err != nil {
			t.Error(err)
		}
		_ = ts.Faults()
		_ = ts.Stats()
	}
	wg.Wait()
	st := ts.Stats()
	if st.Requests != workers*each || st.Successes+st.Failures != workers*each {
		t.Errorf("counts = %+v, want %d requests", st.Counts, workers*each)
	}
	if st.PeakInFlight < 1 || st.PeakInFlight > workers {
		t.Errorf("PeakInFlight = %d", st.PeakInFlight)
	}
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	ts, clk := newDemoServer(t)
	res := do(t, ts, req{path: "/oauth/token/extra"})
	if res.status != http.StatusNotFound || res.header.Get("Date") != clk.Now().Format(http.TimeFormat) {
		t.Errorf("status %d, Date %q", res.status, res.header.Get("Date"))
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	rq := goodRequest(t, ProviderOAuth2)
	rq.body += "&pad=" + strings.Repeat("x", maxBodyBytes)
	res := do(t, ts, rq)
	if res.status != http.StatusBadRequest || tokenOf(res) != "" {
		t.Errorf("status %d, body %s", res.status, res.raw)
	}
}

func TestAccountValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		account Account
		wantErr string // "" for valid
	}{
		"every demo account": {demo(t, ProviderSCM), ""},
		"unknown provider":   {Account{Provider: "okta", ClientID: "a", ClientSecret: "s3cr3t-value"}, "unknown provider"},
		"no secret":          {Account{Provider: ProviderOAuth2, ClientID: "a"}, "needs client_id and client_secret"},
		"oracle with client id": {
			Account{Provider: ProviderOracleCASB, AccessKey: "K", AccessSecret: "s3cr3t-value", ClientID: "x"}, "not client_id",
		},
		"oracle without key": {Account{Provider: ProviderOracleCASB, AccessSecret: "s3cr3t-value"}, "needs access_key"},
		"scm without TSG":    {Account{Provider: ProviderSCM, ClientID: "a", ClientSecret: "s3cr3t-value"}, "tsg_id"},
		"scm short TSG": {
			Account{Provider: ProviderSCM, ClientID: "a", ClientSecret: "s3cr3t-value", TSGIDs: []string{"12345"}}, "10-digit",
		},
		"bright without host": {Account{Provider: ProviderBrightPattern, ClientID: "a", ClientSecret: "s3cr3t-value"}, "tenant_host"},
		"bright host as URL": {
			Account{Provider: ProviderBrightPattern, ClientID: "a", ClientSecret: "s3cr3t-value", TenantHost: "https://x"}, "tenant_host",
		},
		"oauth2 bad method": {
			Account{Provider: ProviderOAuth2, ClientID: "a", ClientSecret: "s3cr3t-value", AuthMethod: "client_secret_jwt"}, "auth_method",
		},
		"scope with space": {
			Account{Provider: ProviderOAuth2, ClientID: "a", ClientSecret: "s3cr3t-value", Scopes: []string{"a b"}}, "white space",
		},
		"saas defaults": {Account{Provider: ProviderSaaSSecurity, ClientID: "a", ClientSecret: "s3cr3t-value"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.account.Validate()
			if err2 := New().AddAccount(tc.account); fmt.Sprint(err) != fmt.Sprint(err2) {
				t.Errorf("AddAccount = %v, Validate = %v", err2, err)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t-value") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestAccountFormatsWithoutSecret(t *testing.T) {
	t.Parallel()
	for _, a := range DemoAccounts() {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			out := fmt.Sprintf(verb, a)
			assertNoSecret(t, verb, out)
			if !strings.Contains(out, a.ID()) {
				t.Errorf("%s of %s lacks the id: %s", verb, a.Provider, out)
			}
		}
		// Inside another value too.
		assertNoSecret(t, "%+v of a slice", fmt.Sprintf("%+v", []Account{a}))
	}
}

func TestRotateAndRemoveAccount(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	a := demo(t, ProviderSCM)
	a.ClientSecret = "rotated-secret"
	if err := ts.AddAccount(a); err != nil {
		t.Fatal(err)
	}
	if res := do(t, ts, goodRequest(t, ProviderSCM)); res.status != http.StatusUnauthorized {
		t.Errorf("old secret: status %d, want 401", res.status)
	}
	rq := goodRequest(t, ProviderSCM)
	rq.basicPass = "rotated-secret"
	if res := do(t, ts, rq); res.status != http.StatusOK {
		t.Errorf("new secret: status %d, want 200", res.status)
	}
	if !ts.RemoveAccount(ProviderSCM, a.ClientID) || ts.RemoveAccount(ProviderSCM, a.ClientID) {
		t.Error("RemoveAccount did not report the removal once")
	}
	if res := do(t, ts, rq); res.status != http.StatusUnauthorized {
		t.Errorf("removed account: status %d, want 401", res.status)
	}
}

// The caller's slices are copied: changing them later changes nothing.
func TestAddAccountCopies(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	a := demo(t, ProviderSCM)
	tsgs := []string{"1234567890"}
	a.TSGIDs = tsgs
	if err := ts.AddAccount(a); err != nil {
		t.Fatal(err)
	}
	tsgs[0] = "1234567891"
	if res := do(t, ts, goodRequest(t, ProviderSCM)); res.status != http.StatusOK {
		t.Errorf("status %d", res.status)
	}
}

func TestSetLifetimeValidation(t *testing.T) {
	t.Parallel()
	s := New()
	for name, tc := range map[string]struct {
		provider string
		d        time.Duration
		ok       bool
	}{
		"zero":             {ProviderSCM, 0, true},
		"ten years":        {ProviderSCM, 10 * 365 * 24 * time.Hour, true},
		"negative":         {ProviderSCM, -time.Second, false},
		"beyond 100 years": {ProviderSCM, maxLifetime + 1, false},
		"unknown provider": {"okta", time.Second, false},
	} {
		if err := s.SetLifetime(tc.provider, tc.d); (err == nil) != tc.ok {
			t.Errorf("%s: SetLifetime = %v", name, err)
		}
	}
	for _, p := range Providers() {
		if DefaultLifetime(p) == 0 || New().Lifetime(p) != DefaultLifetime(p) {
			t.Errorf("%s: default lifetime %s", p, DefaultLifetime(p))
		}
	}
}

func TestFaultsValidateAndJSON(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		faults Faults
		ok     bool
	}{
		"zero":               {Faults{}, true},
		"everything":         {Faults{Providers: []string{ProviderSCM}, Delay: time.Second, Outage: OutageHTML, MaxInFlight: 10, ResetNext: 1, FailNext: 2, FailStatus: 500, ErrorRatePercent: 10, RateLimitNext: 3, RetryAfter: time.Minute, RetryAfterHTTPDate: true, HTMLNext: 1, HTMLStatus: 200, TruncateBody: true, OmitToken: true, ExpiresIn: ExpiresInString, ClockSkew: -5 * time.Minute}, true},
		"unknown provider":   {Faults{Providers: []string{"okta"}}, false},
		"bad outage":         {Faults{Outage: "partial"}, false},
		"bad expires_in":     {Faults{ExpiresIn: "float"}, false},
		"negative count":     {Faults{FailNext: -1}, false},
		"rate above 100":     {Faults{ErrorRatePercent: 101}, false},
		"fail status 200":    {Faults{FailStatus: 200}, false},
		"html status 100":    {Faults{HTMLStatus: 100}, false},
		"negative delay":     {Faults{Delay: -time.Second}, false},
		"negative retry":     {Faults{RetryAfter: -time.Second}, false},
		"skew of a century+": {Faults{ClockSkew: -maxFaultDuration - 1}, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := New()
			err := s.SetFaults(tc.faults)
			if (err == nil) != tc.ok {
				t.Fatalf("SetFaults = %v", err)
			}
			if !tc.ok {
				if fmt.Sprint(s.Faults()) != fmt.Sprint(Faults{}) {
					t.Error("an invalid configuration was applied")
				}
				return
			}
			if got := s.Faults(); fmt.Sprint(got) != fmt.Sprint(tc.faults) {
				t.Errorf("read back %+v, want %+v", got, tc.faults)
			}
			b, err := json.Marshal(tc.faults)
			if err != nil {
				t.Fatal(err)
			}
			var back Faults
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("unmarshal %s: %v", b, err)
			}
			if fmt.Sprint(back) != fmt.Sprint(tc.faults) {
				t.Errorf("JSON round trip: %s gave %+v", b, back)
			}
		})
	}
}

func TestFaultsJSONForm(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Faults{Delay: 1500 * time.Millisecond, ClockSkew: -3 * time.Minute, FailNext: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"fail_next":2,"delay":"1.5s","clock_skew":"-3m0s"}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	for name, in := range map[string]string{
		"unknown field":    `{"fail_nxt":2}`,
		"number duration":  `{"delay":1500}`,
		"garbage duration": `{"delay":"soon"}`,
		"trailing data":    `{} {}`,
	} {
		var f Faults
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("%s: %s was accepted as %+v", name, in, f)
		}
	}
}

// The copy returned by Faults is the caller's.
func TestFaultsCopy(t *testing.T) {
	t.Parallel()
	s := New()
	in := Faults{Providers: []string{ProviderSCM}}
	if err := s.SetFaults(in); err != nil {
		t.Fatal(err)
	}
	in.Providers[0] = ProviderOAuth2
	out := s.Faults()
	out.Providers[0] = ProviderOracleCASB
	if got := s.Faults().Providers[0]; got != ProviderSCM {
		t.Errorf("stored Providers changed to %s", got)
	}
}

func TestNewPanicsOnInvalidOptions(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]Option{
		"SCM status 403":    WithSCMInvalidClientStatus(403),
		"Oracle status 418": WithOracleUnknownKeyStatus(418),
		"nil clock":         WithClock(nil),
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: New did not panic", name)
				}
			}()
			New(opt)
		}()
	}
}

// No response of any kind, in any fault mode, echoes a secret it was sent.
func TestNoSecretInAnyResponse(t *testing.T) {
	t.Parallel()
	modes := []Faults{{}, {FailNext: 1}, {RateLimitNext: 1}, {HTMLNext: 1}, {TruncateBody: true}, {OmitToken: true}}
	for _, p := range Providers() {
		for _, f := range modes {
			ts, _ := newDemoServer(t)
			setFaults(t, ts.Server, f)
			good := goodRequest(t, p)
			wrong := goodRequest(t, p)
			wrong.basicPass = "demo-oauth2-secret-not-real" // another account's secret
			wrong.body = strings.ReplaceAll(wrong.body, "not-real", "not-realX")
			get := goodRequest(t, p)
			get.method = http.MethodGet
			for _, rq := range []req{good, wrong, get} {
				res := do(t, ts, rq)
				assertNoSecret(t, p+" response", string(res.raw))
				assertNoSecret(t, p+" headers", fmt.Sprint(res.header))
			}
		}
	}
}
