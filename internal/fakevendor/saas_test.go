package fakevendor

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSaaSSuccess(t *testing.T) {
	t.Parallel()
	ts, clk := newDemoServer(t)
	res := issue(t, ts, ProviderSaaSSecurity)
	tok := tokenOf(res)
	if !strings.HasPrefix(tok, "fake-saas-") || len(tok) < 40 {
		t.Errorf("access_token = %q", tok)
	}
	expectFields(t, res, map[string]any{"expires_in": float64(7199), "token_type": "bearer", "scope": "api_access", "tenant": "demo tenant"})
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(res.str("jti")) {
		t.Errorf("jti = %q, want a UUID", res.str("jti"))
	}
	if got := res.header.Get("Date"); got != clk.Now().Format(http.TimeFormat) {
		t.Errorf("Date = %q, want the fake clock %q", got, clk.Now().Format(http.TimeFormat))
	}
	if got := res.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	expectInfo(t, ts, res, TokenInfo{
		Provider: ProviderSaaSSecurity, Account: "demo-saas-client", Scope: "api_access", ExpiresAt: clk.Now().Add(7199 * time.Second),
	})
}

func TestSaaSSeveralScopes(t *testing.T) {
	t.Parallel()
	ts := NewTestServer(t, Account{
		Provider: ProviderSaaSSecurity, ClientID: "acme", ClientSecret: "acmesecret",
		Scopes: []string{"log_access", "incident_management", "quarantine_management"},
	})
	// The vendor document's own example: Authorization: Basic YWNtZTphY21lc2VjcmV0.
	res := do(t, ts, req{
		path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
		body:   "grant_type=client_credentials&scope=log_access+quarantine_management",
		header: map[string]string{"Authorization": "Basic YWNtZTphY21lc2VjcmV0"},
	})
	if res.status != http.StatusOK || res.str("scope") != "log_access quarantine_management" {
		t.Fatalf("status %d, body %s", res.status, res.raw)
	}
	if res.str("tenant") != "test tenant" {
		t.Errorf("tenant = %q, want the documented default", res.str("tenant"))
	}
}

func TestSaaSErrors(t *testing.T) {
	t.Parallel()
	runErrorCases(t, ProviderSaaSSecurity, map[string]errCase{
		"GET":                 {func(r *req) { r.method = http.MethodGet }, 405, "invalid_request"},
		"JSON content type":   {func(r *req) { r.contentType = "application/json" }, 400, "invalid_request"},
		"no content type":     {func(r *req) { r.contentType = "" }, 400, "invalid_request"},
		"no Basic":            {func(r *req) { r.basic = false }, 401, "unauthorized"},
		"wrong secret":        {func(r *req) { r.basicPass = "nope" }, 401, "unauthorized"},
		"unknown client":      {func(r *req) { r.basicUser = "who" }, 401, "unauthorized"},
		"Bearer instead":      {func(r *req) { r.basic = false; r.header = map[string]string{"Authorization": "Bearer x"} }, 401, "unauthorized"},
		"missing grant_type":  {func(r *req) { r.body = form("scope", "api_access") }, 400, "invalid_request"},
		"password grant":      {func(r *req) { r.body = form("grant_type", "password", "scope", "api_access") }, 400, "unsupported_grant_type"},
		"missing scope":       {func(r *req) { r.body = form("grant_type", "client_credentials") }, 400, "invalid_scope"},
		"scope not allowed":   {func(r *req) { r.body = form("grant_type", "client_credentials", "scope", "api_access admin") }, 400, "invalid_scope"},
		"repeated grant_type": {func(r *req) { r.body += "&grant_type=client_credentials" }, 400, "invalid_request"},
		"grant_type in query": {func(r *req) { r.path += "?grant_type=client_credentials" }, 400, "invalid_request"},
		"malformed form":      {func(r *req) { r.body = "grant_type=%zz" }, 400, "invalid_request"},
		"credentials in body": {func(r *req) {
			r.body += "&" + form("client_id", "demo-saas-client", "client_secret", "demo-saas-secret-not-real")
		}, 400, "invalid_request"},
		"secret in body alone": {func(r *req) {
			r.basic = false
			r.body += "&" + form("client_id", "demo-saas-client", "client_secret", "demo-saas-secret-not-real")
		}, 400, "invalid_request"},
	})
}
