package fakevendor

import (
	"net/http"
	"testing"
	"time"
)

func TestBrightPatternSuccess(t *testing.T) {
	t.Parallel()
	for name, path := range map[string]string{
		"v2": "/configapi/v2/oauth/token",
		"v3": "/configapi/v3/oauth/token",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, clk := newDemoServer(t)
			res := issue(t, ts, ProviderBrightPattern, func(rq *req) { rq.path = path })
			expectFields(t, res, map[string]any{"expires_in": "3599", "token_type": "Bearer"})
			expectInfo(t, ts, res, TokenInfo{
				Provider: ProviderBrightPattern, Account: "demo.user", Scope: "demo.example.com", ExpiresAt: clk.Now().Add(3599 * time.Second),
			})
		})
	}
}

func TestBrightPatternErrors(t *testing.T) {
	t.Parallel()
	body := func(kv ...string) func(r *req) { return func(r *req) { r.body = form(kv...) } }
	runErrorCases(t, ProviderBrightPattern, map[string]errCase{
		"GET":                {func(r *req) { r.method = http.MethodGet }, 405, "invalid_request"},
		"JSON content type":  {func(r *req) { r.contentType = "application/json" }, 400, "invalid_request"},
		"Basic as well":      {func(r *req) { r.basic, r.basicUser, r.basicPass = true, "demo.user", "x" }, 400, "invalid_request"},
		"missing grant_type": {body("client_id", "demo.user", "client_secret", "demo-bright-secret-not-real", "scope", "demo.example.com"), 400, "invalid_request"},
		"wrong grant_type":   {body("grant_type", "password", "client_id", "demo.user", "client_secret", "demo-bright-secret-not-real", "scope", "demo.example.com"), 400, "unsupported_grant_type"},
		"missing client_id":  {body("grant_type", "client_credentials", "client_secret", "demo-bright-secret-not-real", "scope", "demo.example.com"), 400, "invalid_request"},
		"missing secret":     {body("grant_type", "client_credentials", "client_id", "demo.user", "scope", "demo.example.com"), 400, "invalid_request"},
		"missing scope":      {body("grant_type", "client_credentials", "client_id", "demo.user", "client_secret", "demo-bright-secret-not-real"), 400, "invalid_request"},
		"wrong secret":       {body("grant_type", "client_credentials", "client_id", "demo.user", "client_secret", "nope", "scope", "demo.example.com"), 401, "invalid_client"},
		"unknown user":       {body("grant_type", "client_credentials", "client_id", "who", "client_secret", "demo-bright-secret-not-real", "scope", "demo.example.com"), 401, "invalid_client"},
		"wrong tenant":       {body("grant_type", "client_credentials", "client_id", "demo.user", "client_secret", "demo-bright-secret-not-real", "scope", "other.example.com"), 401, "invalid_client"},
		"tenant as URL":      {body("grant_type", "client_credentials", "client_id", "demo.user", "client_secret", "demo-bright-secret-not-real", "scope", "https://demo.example.com"), 401, "invalid_client"},
		"secret in query":    {func(r *req) { r.path += "?client_secret=demo-bright-secret-not-real" }, 400, "invalid_request"},
	})
}

func TestBrightPatternTenantHostIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	issue(t, ts, ProviderBrightPattern, func(rq *req) {
		rq.body = form("grant_type", "client_credentials", "client_id", "demo.user",
			"client_secret", "demo-bright-secret-not-real", "scope", "Demo.Example.COM")
	})
}
