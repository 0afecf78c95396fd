package fakevendor

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestSCMSuccess(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		path, tsg string
	}{
		"own TSG":                     {"/am/oauth2/access_token", "1234567890"},
		"child TSG":                   {"/am/oauth2/access_token", "1234567891"},
		"alias /oauth2/access_token":  {"/oauth2/access_token", "1234567890"},
		"alias /auth/v1/oauth2/...":   {"/auth/v1/oauth2/access_token", "1234567890"},
		"charset in the content type": {"/am/oauth2/access_token", "1234567890"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, clk := newDemoServer(t)
			res := issue(t, ts, ProviderSCM, func(rq *req) {
				rq.path = tc.path
				rq.body = form("grant_type", "client_credentials", "scope", "tsg_id:"+tc.tsg)
				if name == "charset in the content type" {
					rq.contentType = "application/x-www-form-urlencoded; charset=UTF-8"
				}
			})
			expectFields(t, res, map[string]any{"token_type": "Bearer", "scope": "tsg_id:" + tc.tsg, "expires_in": float64(899)})
			expectInfo(t, ts, res, TokenInfo{
				Provider: ProviderSCM, Account: demo(t, ProviderSCM).ClientID, Scope: "tsg_id:" + tc.tsg, ExpiresAt: clk.Now().Add(899 * time.Second),
			})
		})
	}
}

// A client that form-encodes its Basic credentials as RFC 6749 section
// 2.3.1 asks ("@" becomes "%40") is accepted too.
func TestSCMFormEncodedBasic(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	issue(t, ts, ProviderSCM, func(rq *req) { rq.basicUser = url.QueryEscape(rq.basicUser) })
}

func TestSCMErrors(t *testing.T) {
	t.Parallel()
	runErrorCases(t, ProviderSCM, map[string]errCase{
		"GET":                 {func(r *req) { r.method = http.MethodGet }, 405, "invalid_request"},
		"JSON content type":   {func(r *req) { r.contentType = "application/json" }, 400, "invalid_request"},
		"no Basic":            {func(r *req) { r.basic = false }, 401, "invalid_client"},
		"wrong secret":        {func(r *req) { r.basicPass = "nope" }, 401, "invalid_client"},
		"unknown client":      {func(r *req) { r.basicUser = "nobody@1.iam.panserviceaccount.com" }, 401, "invalid_client"},
		"credentials in form": {func(r *req) { r.basic = false; r.body += "&" + form("client_id", "x", "client_secret", "y") }, 400, "invalid_request"},
		"missing grant_type":  {func(r *req) { r.body = form("scope", "tsg_id:1234567890") }, 400, "invalid_request"},
		"wrong grant_type":    {func(r *req) { r.body = form("grant_type", "authorization_code", "scope", "tsg_id:1234567890") }, 400, "unsupported_grant_type"},
		"missing scope":       {func(r *req) { r.body = form("grant_type", "client_credentials") }, 400, "invalid_scope"},
		"bare TSG id":         {func(r *req) { r.body = form("grant_type", "client_credentials", "scope", "1234567890") }, 400, "invalid_scope"},
		"9-digit TSG":         {func(r *req) { r.body = form("grant_type", "client_credentials", "scope", "tsg_id:123456789") }, 400, "invalid_scope"},
		"extra scope":         {func(r *req) { r.body = form("grant_type", "client_credentials", "scope", "tsg_id:1234567890 profile") }, 400, "invalid_scope"},
		"foreign TSG":         {func(r *req) { r.body = form("grant_type", "client_credentials", "scope", "tsg_id:9999999999") }, 400, "invalid_scope"},
		"repeated scope":      {func(r *req) { r.body += "&scope=tsg_id:1234567891" }, 400, "invalid_request"},
	})
}

// TestSCMInvalidClient: a wrong secret gets the invalid_client body, with
// the default status 401 and its WWW-Authenticate header, or with the 400
// WithSCMInvalidClientStatus sets and no such header.
func TestSCMInvalidClient(t *testing.T) {
	t.Parallel()
	const body = `{"error":"invalid_client","error_description":"Client authentication failed"}`
	for name, tc := range map[string]struct {
		opts   []Option
		status int
	}{
		"default": {nil, http.StatusUnauthorized},
		"400":     {[]Option{WithSCMInvalidClientStatus(http.StatusBadRequest)}, http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newDemoServer(t, tc.opts...)
			rq := goodRequest(t, ProviderSCM)
			rq.basicPass = "wrong"
			res := do(t, ts, rq)
			if res.status != tc.status || string(res.raw) != body {
				t.Errorf("status %d, body %s", res.status, res.raw)
			}
			if got := res.header.Get("WWW-Authenticate") != ""; got != (tc.status == http.StatusUnauthorized) {
				t.Errorf("a %d carries WWW-Authenticate: %t", res.status, got)
			}
		})
	}
}
