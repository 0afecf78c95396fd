package fakevendor

import (
	"net/http"
	"strings"
)

// Bright Pattern Contact Center: POST /configapi/v2/oauth/token, also
// /configapi/v3/oauth/token, as the vendor documents it.
//
// Everything travels in the form body: grant_type=client_credentials,
// client_id (a user's login id), client_secret (that user's API secret) and
// scope (the tenant host, such as example.com). There is no HTTP Basic
// authentication; a request with an Authorization header is rejected. A
// success is 200 with access_token, token_type "Bearer" and expires_in as a
// STRING ("3599").
//
// Bad credentials, a disabled user and a wrong or inactive tenant all give
// 401. The body is not documented; the fake sends an RFC 6749 invalid_client
// body.

func (s *Server) brightToken(in *tokenRequest) response {
	const p = ProviderBrightPattern
	form, resp, bad := postForm(in, p)
	if bad {
		return resp
	}
	if in.r.Header.Get("Authorization") != "" {
		return oauthError(http.StatusBadRequest, "invalid_request",
			"Client credentials must be sent in the request body, not an Authorization header.")
	}
	if resp, bad := checkGrantType(form.Get("grant_type")); bad {
		return resp
	}
	for _, name := range []string{"client_id", "client_secret", "scope"} {
		if form.Get(name) == "" {
			return oauthError(http.StatusBadRequest, "invalid_request", "Missing parameter: "+name)
		}
	}
	acct, ok := s.checkClient(p, form.Get("client_id"), form.Get("client_secret"), false)
	if !ok || acct.Disabled || !strings.EqualFold(form.Get("scope"), acct.TenantHost) {
		return oauthError(http.StatusUnauthorized, "invalid_client", "Bad credentials")
	}
	fields, resp := s.mintOAuth(in, p, "Bearer", true, TokenInfo{Account: acct.ClientID, Scope: acct.TenantHost})
	return resp.withBody(http.StatusOK, fields)
}
