package fakevendor

import (
	"net/http"
	"slices"
	"strings"
)

// Generic OAuth2 client credentials (RFC 6749 section 4.4): POST
// /oauth2/token.
//
// The client authenticates with HTTP Basic (client_secret_basic) or with
// client_id and client_secret form fields (client_secret_post), never both
// (section 2.3). The form is grant_type=client_credentials and an optional
// space-separated scope. A success is 200 with access_token, token_type
// "Bearer", expires_in (a number, 3600) and the scope if one was requested.
// Errors follow section 5.2: invalid_client is 401 with WWW-Authenticate
// when the client used HTTP Basic, 400 otherwise.

func (s *Server) oauth2Token(in *tokenRequest) response {
	const p = ProviderOAuth2
	form, resp, bad := postForm(in, p)
	if bad {
		return resp
	}
	basicID, basicSecret, hasBasic := in.r.BasicAuth()
	hasPost := form.Has("client_id") || form.Has("client_secret")
	if hasBasic && hasPost {
		return oauthError(http.StatusBadRequest, "invalid_request",
			"The client used more than one authentication method.")
	}
	var method, id, secret string
	switch {
	case hasBasic:
		method, id, secret = AuthMethodBasic, basicID, basicSecret
	case hasPost:
		method, id, secret = AuthMethodPost, form.Get("client_id"), form.Get("client_secret")
	case in.r.Header.Get("Authorization") != "":
		return oauthError(http.StatusUnauthorized, "invalid_client", "Unsupported authentication scheme.")
	default:
		return oauthError(http.StatusUnauthorized, "invalid_client", "Client authentication is required.")
	}
	acct, ok := s.checkClient(p, id, secret, method == AuthMethodBasic)
	if !ok || acct.Disabled || (acct.AuthMethod != "" && acct.AuthMethod != method) {
		status := http.StatusBadRequest
		if method == AuthMethodBasic {
			status = http.StatusUnauthorized
		}
		return oauthError(status, "invalid_client", "Client authentication failed.")
	}
	if resp, bad := checkGrantType(form.Get("grant_type")); bad {
		return resp
	}
	scopes := strings.Fields(form.Get("scope"))
	for _, sc := range scopes {
		if !slices.Contains(acct.Scopes, sc) {
			return oauthError(http.StatusBadRequest, "invalid_scope", "The requested scope is not allowed for this client.")
		}
	}
	scope := strings.Join(scopes, " ")
	fields, resp := s.mintOAuth(in, p, "Bearer", false,
		TokenInfo{Account: acct.ClientID, Scope: scope, AuthMethod: method})
	if scope != "" {
		fields["scope"] = scope
	}
	return resp.withBody(http.StatusOK, fields)
}
