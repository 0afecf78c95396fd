package fakevendor

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

// admin sends an admin request with a JSON body.
func admin(t testing.TB, ts *TestServer, method, path, body string) result {
	t.Helper()
	rq := req{method: method, path: path, body: body}
	if body != "" {
		rq.contentType = "application/json"
	}
	return do(t, ts, rq)
}

// expectAdmin sends an admin request (admin) and checks its status.
func expectAdmin(t testing.TB, ts *TestServer, status int, method, path, body string) {
	t.Helper()
	if res := admin(t, ts, method, path, body); res.status != status {
		t.Errorf("%s %s %s: status %d, want %d; body %s", method, path, body, res.status, status, res.raw)
	}
}

func TestAdminFaults(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	res := admin(t, ts, http.MethodPut, "/_fake/faults",
		`{"fail_next": 2, "retry_after": "30s", "providers": ["paloalto_scm"], "clock_skew": "-2m"}`)
	if res.status != http.StatusOK {
		t.Fatalf("PUT: status %d, body %s", res.status, res.raw)
	}
	want := Faults{FailNext: 2, RetryAfter: 30 * time.Second, Providers: []string{ProviderSCM}, ClockSkew: -2 * time.Minute}
	got := ts.Faults()
	if got.FailNext != 2 || got.RetryAfter != want.RetryAfter || got.ClockSkew != want.ClockSkew || len(got.Providers) != 1 {
		t.Errorf("Faults = %+v, want %+v", got, want)
	}
	do(t, ts, goodRequest(t, ProviderSCM)) // uses one
	res = admin(t, ts, http.MethodGet, "/_fake/faults", "")
	if res.json["fail_next"] != float64(1) || res.str("retry_after") != "30s" || res.str("clock_skew") != "-2m0s" {
		t.Errorf("GET: %s", res.raw)
	}

	for name, body := range map[string]string{
		"unknown field":   `{"fail_nxt": 1}`,
		"bad outage":      `{"outage": "sometimes"}`,
		"bad duration":    `{"delay": "soon"}`,
		"wrong type":      `{"fail_next": "two"}`,
		"not JSON":        `fail_next=1`,
		"negative counts": `{"reset_next": -1}`,
	} {
		res := admin(t, ts, http.MethodPut, "/_fake/faults", body)
		if res.status != http.StatusBadRequest || res.str("error") == "" {
			t.Errorf("%s: status %d, body %s", name, res.status, res.raw)
		}
	}
	if ts.Faults().FailNext != 1 {
		t.Error("a rejected PUT changed the faults")
	}
	// Clearing: an empty object.
	expectAdmin(t, ts, http.StatusOK, http.MethodPut, "/_fake/faults", `{}`)
	if ts.Faults().FailNext != 0 {
		t.Error("faults not cleared")
	}
}

func TestAdminStats(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	issue(t, ts, ProviderBrightPattern)
	res := admin(t, ts, http.MethodGet, "/_fake/stats", "")
	var st Stats
	if err := json.Unmarshal(res.raw, &st); err != nil {
		t.Fatalf("%v: %s", err, res.raw)
	}
	if st.Requests != 1 || st.Successes != 1 || st.ByAccount["demo.user"].Successes != 1 || st.ByStatus[200] != 1 {
		t.Errorf("stats = %s", res.raw)
	}
	expectAdmin(t, ts, http.StatusNoContent, http.MethodPost, "/_fake/stats/reset", "")
	if ts.Stats().Requests != 0 {
		t.Error("stats not reset")
	}
}

func TestAdminAccounts(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	res := admin(t, ts, http.MethodPost, "/_fake/accounts",
		`{"provider":"paloalto_scm","client_id":"new@1.iam.panserviceaccount.com","client_secret":"admin-added-secret","tsg_ids":["1111111111"]}`)
	if res.status != http.StatusCreated || res.str("id") != "new@1.iam.panserviceaccount.com" {
		t.Fatalf("status %d, body %s", res.status, res.raw)
	}
	testkit.AssertNoSecret(t, "the body", string(res.raw), "admin-added-secret")
	rq := req{ //nolint:gosec // G101: a test credential
		path: "/am/oauth2/access_token", contentType: "application/x-www-form-urlencoded",
		body:  "grant_type=client_credentials&scope=tsg_id:1111111111",
		basic: true, basicUser: "new@1.iam.panserviceaccount.com", basicPass: "admin-added-secret",
	}
	if res := do(t, ts, rq); res.status != http.StatusOK {
		t.Errorf("token for the new account: status %d, body %s", res.status, res.raw)
	}

	for name, body := range map[string]string{
		"invalid account": `{"provider":"paloalto_scm","client_id":"x","client_secret":"admin-added-secret","tsg_ids":["1"]}`,
		"unknown field":   `{"provider":"oauth2","client_id":"x","client_secret":"admin-added-secret","password":"p"}`,
		"wrong type":      `{"provider":"oauth2","client_id":"x","client_secret":"admin-added-secret","disabled":"admin-added-secret"}`,
		"malformed":       `{"provider":"oauth2","client_secret":"admin-added-secret"`,
	} {
		res := admin(t, ts, http.MethodPost, "/_fake/accounts", body)
		if res.status != http.StatusBadRequest || res.str("error") == "" {
			t.Errorf("%s: status %d, body %s", name, res.status, res.raw)
		}
		testkit.AssertNoSecret(t, "the body", string(res.raw), "admin-added-secret")
	}
}

func TestAdminLifetimes(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	res := admin(t, ts, http.MethodPut, "/_fake/lifetimes", `{"paloalto_scm":"1s","oracle_casb":"87600h"}`)
	if res.status != http.StatusOK || res.str(ProviderSCM) != "1s" || res.str(ProviderSaaSSecurity) != "1h59m59s" {
		t.Errorf("status %d, body %s", res.status, res.raw)
	}
	if ts.Lifetime(ProviderOracleCASB) != 87600*time.Hour {
		t.Errorf("Oracle lifetime = %s", ts.Lifetime(ProviderOracleCASB))
	}
	if tok := do(t, ts, goodRequest(t, ProviderSCM)); tok.json["expires_in"] != float64(1) {
		t.Errorf("expires_in = %v", tok.json["expires_in"])
	}
	for _, body := range map[string]string{
		"unknown provider": `{"okta":"1s"}`,
		"negative":         `{"paloalto_scm":"-1s","oauth2":"5s"}`,
		"not a duration":   `{"paloalto_scm":"soon"}`,
		"number":           `{"paloalto_scm":1}`,
	} {
		expectAdmin(t, ts, http.StatusBadRequest, http.MethodPut, "/_fake/lifetimes", body)
	}
	if ts.Lifetime(ProviderOAuth2) != DefaultLifetime(ProviderOAuth2) {
		t.Error("a rejected PUT changed a lifetime")
	}
	if res := admin(t, ts, http.MethodGet, "/_fake/lifetimes", ""); res.str(ProviderBrightPattern) != "59m59s" {
		t.Errorf("GET: %s", res.raw)
	}
}

func TestAdminCheck(t *testing.T) {
	t.Parallel()
	ts, clk := newDemoServer(t)
	tok := tokenOf(do(t, ts, goodRequest(t, ProviderSaaSSecurity)))
	check := func() CheckResult {
		t.Helper()
		res := admin(t, ts, http.MethodGet, "/_fake/check?token="+url.QueryEscape(tok), "")
		var c CheckResult
		if err := json.Unmarshal(res.raw, &c); err != nil {
			t.Fatalf("%v: %s", err, res.raw)
		}
		return c
	}
	if c := check(); !c.Minted || !c.Valid || c.Info == nil || c.Info.Account != "demo-saas-client" {
		t.Errorf("fresh token: %+v", c)
	}
	clk.Advance(2 * time.Hour)
	if c := check(); !c.Minted || c.Valid || c.Info == nil {
		t.Errorf("expired token: %+v", c)
	}
	tok = "fake-saas-never-minted"
	if c := check(); c.Minted || c.Valid || c.Info != nil {
		t.Errorf("unknown token: %+v", c)
	}
}

func TestAdminNowAndRoutes(t *testing.T) {
	t.Parallel()
	ts, clk := newDemoServer(t)
	if err := ts.SetFaults(Faults{ClockSkew: time.Minute}); err != nil {
		t.Fatal(err)
	}
	res := admin(t, ts, http.MethodGet, "/_fake/now", "")
	var now struct{ Now time.Time }
	if err := json.Unmarshal(res.raw, &now); err != nil || !now.Now.Equal(clk.Now().Add(time.Minute)) {
		t.Errorf("now = %s (%v), want the skewed clock", res.raw, err)
	}
	if res.header.Get("Date") != clk.Now().Add(time.Minute).Format(http.TimeFormat) {
		t.Errorf("Date = %q", res.header.Get("Date"))
	}
	for _, rq := range map[string][2]string{
		"unknown route":   {http.MethodGet, "/_fake/nothing"},
		"wrong method":    {http.MethodDelete, "/_fake/faults"},
		"GET on a reset":  {http.MethodGet, "/_fake/stats/reset"},
		"POST on a check": {http.MethodPost, "/_fake/check"},
	} {
		expectAdmin(t, ts, http.StatusNotFound, rq[0], rq[1], "")
	}
	// Faults never touch the admin API.
	if err := ts.SetFaults(Faults{Outage: OutageReset}); err != nil {
		t.Fatal(err)
	}
	expectAdmin(t, ts, http.StatusOK, http.MethodGet, "/_fake/stats", "")
}
