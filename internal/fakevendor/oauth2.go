package fakevendor

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Generic OAuth2 client credentials (RFC 6749 section 4.4): POST
// /oauth2/token.
//
// The client authenticates with HTTP Basic (client_secret_basic), with
// client_id and client_secret form fields (client_secret_post), or with a
// signed assertion (private_key_jwt, see oauth2jwt.go), never with more than
// one (section 2.3). The form is grant_type=client_credentials, an optional
// space-separated scope, and optional audience and resource parameters
// (RFC 8707; both may be repeated; a resource must be an absolute URI
// without a fragment). A success is 200 with access_token, token_type
// "Bearer", expires_in (a number, 3600) and the scope if one was requested.
// Errors follow section 5.2: invalid_client is 401 with WWW-Authenticate
// when the client used HTTP Basic or an assertion, 400 otherwise; a bad
// resource is 400 invalid_target. What each request of a known client
// carried is recorded (Server.LastOAuth2Request).

func (s *Server) oauth2Token(in *tokenRequest) response {
	form, resp, bad := postForm(in, ProviderOAuth2, "audience", "resource")
	if bad {
		return resp
	}
	rec := OAuth2Request{Time: in.now, Scope: form.Get("scope"), Audience: form["audience"], Resources: form["resource"]}
	acct, resp := s.oauth2Grant(in, form, &rec)
	if acct.ClientID != "" {
		rec.Status = resp.status
		if resp.token == "" {
			var e struct {
				Error            string `json:"error"`
				ErrorDescription string `json:"error_description"`
			}
			_ = json.Unmarshal(resp.body, &e)
			rec.Error, rec.ErrorDescription = e.Error, e.ErrorDescription
		}
		s.mu.Lock()
		s.oauth2.last[acct.ClientID] = rec
		s.mu.Unlock()
	}
	return resp
}

// oauth2Grant authenticates the client and mints its token. It returns the
// account the request named (zero if none) with the answer.
func (s *Server) oauth2Grant(in *tokenRequest, form url.Values, rec *OAuth2Request) (Account, response) {
	acct, resp, ok := s.oauth2Client(in, form, rec)
	if !ok {
		return acct, resp
	}
	if resp, bad := checkGrantType(form.Get("grant_type")); bad {
		return acct, resp
	}
	scopes := strings.Fields(rec.Scope)
	for _, sc := range scopes {
		if !slices.Contains(acct.Scopes, sc) {
			return acct, oauthError(http.StatusBadRequest, "invalid_scope", "The requested scope is not allowed for this client.")
		}
	}
	for _, r := range rec.Resources {
		if u, err := url.Parse(r); err != nil || !u.IsAbs() || strings.Contains(r, "#") {
			return acct, oauthError(http.StatusBadRequest, "invalid_target", "A resource must be an absolute URI without a fragment.")
		}
	}
	if slices.Contains(rec.Audience, "") {
		return acct, oauthError(http.StatusBadRequest, "invalid_request", "An audience parameter is empty.")
	}
	scope := strings.Join(scopes, " ")
	info := TokenInfo{Account: acct.ClientID, Scope: scope, AuthMethod: rec.AuthMethod, Audience: rec.Audience, Resources: rec.Resources}
	if rec.Assertion != nil {
		info.KeyID = rec.Assertion.KeyID
	}
	fields, resp := s.mintOAuth(in, ProviderOAuth2, "Bearer", false, info)
	if scope != "" {
		fields["scope"] = scope
	}
	return acct, resp.withBody(http.StatusOK, fields)
}

// oauth2Client authenticates the client by the one method the request
// uses. It returns the account the request named (zero if none, even when
// refused) and, when the client is not authenticated, the answer and false.
func (s *Server) oauth2Client(in *tokenRequest, form url.Values, rec *OAuth2Request) (Account, response, bool) {
	const p = ProviderOAuth2
	basicID, basicSecret, hasBasic := in.r.BasicAuth()
	hasAssertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	hasPost := form.Has("client_secret") || (form.Has("client_id") && !hasAssertion)
	if (hasBasic && (hasPost || hasAssertion)) || (hasAssertion && form.Has("client_secret")) {
		return Account{}, oauthError(http.StatusBadRequest, "invalid_request",
			"The client used more than one authentication method."), false
	}
	var id, secret string
	switch {
	case hasAssertion:
		return s.assertionClient(in, form, rec)
	case hasBasic:
		rec.AuthMethod, id, secret = AuthMethodBasic, basicID, basicSecret
	case hasPost:
		rec.AuthMethod, id, secret = AuthMethodPost, form.Get("client_id"), form.Get("client_secret")
	case in.r.Header.Get("Authorization") != "":
		return Account{}, oauthError(http.StatusUnauthorized, "invalid_client", "Unsupported authentication scheme."), false
	default:
		return Account{}, oauthError(http.StatusUnauthorized, "invalid_client", "Client authentication is required."), false
	}
	acct, ok := s.checkClient(p, id, secret, hasBasic)
	if !ok {
		acct, _ = s.account(p, id) // recorded, not authenticated
	}
	if !ok || acct.Disabled || (acct.AuthMethod != "" && acct.AuthMethod != rec.AuthMethod) {
		status := http.StatusBadRequest
		if hasBasic {
			status = http.StatusUnauthorized
		}
		return acct, oauthError(status, "invalid_client", "Client authentication failed."), false
	}
	return acct, response{}, true
}
