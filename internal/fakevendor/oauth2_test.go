package fakevendor

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestOAuth2Success(t *testing.T) {
	t.Parallel()
	post := func(kv ...string) func(r *req) {
		return func(r *req) { r.basic = false; r.body = form(kv...) }
	}
	for name, tc := range map[string]struct {
		mutate func(r *req)
		method string
		scope  string // "" for a token without a scope, and no scope field
	}{
		"basic with scope": {func(*req) {}, AuthMethodBasic, "read"},
		"basic without scope": {
			func(r *req) { r.body = form("grant_type", "client_credentials") }, AuthMethodBasic, "",
		},
		"basic form-encoded": {
			func(r *req) { r.basicUser = url.QueryEscape(r.basicUser) }, AuthMethodBasic, "read",
		},
		"post with two scopes": {
			post("grant_type", "client_credentials", "client_id", "demo-oauth2-client",
				"client_secret", "demo-oauth2-secret-not-real", "scope", "read write"),
			AuthMethodPost, "read write",
		},
		"post without scope": {
			post("grant_type", "client_credentials", "client_id", "demo-oauth2-client",
				"client_secret", "demo-oauth2-secret-not-real"),
			AuthMethodPost, "",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, clk := newDemoServer(t)
			res := issue(t, ts, ProviderOAuth2, tc.mutate)
			scope := any(nil)
			if tc.scope != "" {
				scope = tc.scope
			}
			expectFields(t, res, map[string]any{"expires_in": float64(3600), "token_type": "Bearer", "scope": scope})
			expectInfo(t, ts, res, TokenInfo{
				Provider: ProviderOAuth2, Account: "demo-oauth2-client", Scope: tc.scope, AuthMethod: tc.method, ExpiresAt: clk.Now().Add(time.Hour),
			})
		})
	}
}

func TestOAuth2Errors(t *testing.T) {
	t.Parallel()
	post := func(kv ...string) func(r *req) {
		return func(r *req) { r.basic = false; r.body = form(kv...) }
	}
	runErrorCases(t, ProviderOAuth2, map[string]errCase{
		"GET":               {func(r *req) { r.method = http.MethodGet }, 405, "invalid_request"},
		"JSON content type": {func(r *req) { r.contentType = "application/json" }, 400, "invalid_request"},
		"no credentials":    {func(r *req) { r.basic = false }, 401, "invalid_client"},
		"Bearer header":     {func(r *req) { r.basic = false; r.header = map[string]string{"Authorization": "Bearer x"} }, 401, "invalid_client"},
		"both methods": {func(r *req) {
			r.body += "&" + form("client_id", "demo-oauth2-client", "client_secret", "demo-oauth2-secret-not-real")
		}, 400, "invalid_request"},
		"basic wrong secret": {func(r *req) { r.basicPass = "nope" }, 401, "invalid_client"},
		"post wrong secret": {post("grant_type", "client_credentials", "client_id", "demo-oauth2-client",
			"client_secret", "nope"), 400, "invalid_client"},
		"post without secret": {post("grant_type", "client_credentials", "client_id", "demo-oauth2-client"), 400, "invalid_client"},
		"missing grant_type":  {func(r *req) { r.body = form("scope", "read") }, 400, "invalid_request"},
		"wrong grant_type":    {func(r *req) { r.body = form("grant_type", "password", "scope", "read") }, 400, "unsupported_grant_type"},
		"scope not allowed":   {func(r *req) { r.body = form("grant_type", "client_credentials", "scope", "admin") }, 400, "invalid_scope"},
		"repeated scope":      {func(r *req) { r.body += "&scope=write" }, 400, "invalid_request"},
	})
}

func TestOAuth2AuthMethodRestriction(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		allowed string
		basic   bool
		status  int
	}{
		"basic client uses basic": {AuthMethodBasic, true, http.StatusOK},
		"basic client uses post":  {AuthMethodBasic, false, http.StatusBadRequest},
		"post client uses post":   {AuthMethodPost, false, http.StatusOK},
		"post client uses basic":  {AuthMethodPost, true, http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := NewTestServer(t, Account{Provider: ProviderOAuth2, ClientID: "c", ClientSecret: "s", AuthMethod: tc.allowed})
			rq := req{path: "/oauth2/token", contentType: "application/x-www-form-urlencoded"}
			if tc.basic {
				rq.basic, rq.basicUser, rq.basicPass = true, "c", "s"
				rq.body = form("grant_type", "client_credentials")
			} else {
				rq.body = form("grant_type", "client_credentials", "client_id", "c", "client_secret", "s")
			}
			res := do(t, ts, rq)
			if res.status != tc.status {
				t.Errorf("status = %d, want %d; body %s", res.status, tc.status, res.raw)
			}
		})
	}
}
