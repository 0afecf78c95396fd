package fakevendor

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Palo Alto SaaS Security API: POST /oauth/token, as the vendor documents
// it.
//
// The client authenticates with HTTP Basic client_id:client_secret and sends
// the form grant_type=client_credentials&scope=<space-separated scopes>. A
// success is 200 with access_token, token_type "bearer", expires_in (a
// number, 7199), scope, tenant and jti.
//
// Errors are not documented. The endpoint is a Spring Security OAuth2 token
// endpoint by its shape (/oauth/token, a lower-case "bearer", jti), so the
// fake answers as that does: RFC 6749 {"error", "error_description"} bodies,
// 401 "unauthorized" for missing or bad client credentials.

func (s *Server) saasToken(in *tokenRequest) response {
	const p = ProviderSaaSSecurity
	form, acct, resp, bad := s.basicClient(in, p, basicRules{
		inBody:    "Client credentials must be sent in the Authorization header, not the request body.",
		noBasic:   oauthError(http.StatusUnauthorized, "unauthorized", "Full authentication is required to access this resource"),
		badClient: oauthError(http.StatusUnauthorized, "unauthorized", "Bad credentials"),
	})
	if bad {
		return resp
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 {
		return oauthError(http.StatusBadRequest, "invalid_scope",
			"Empty scope (either the client or the user is not allowed the requested scopes)")
	}
	for _, sc := range scopes {
		if !slices.Contains(acct.Scopes, sc) {
			resp := jsonResponse(http.StatusBadRequest, map[string]string{
				"error":             "invalid_scope",
				"error_description": "Invalid scope",
				"scope":             strings.Join(acct.Scopes, " "),
			})
			return resp
		}
	}
	scope := strings.Join(scopes, " ")
	fields, resp := s.mintOAuth(in, p, "bearer", false, TokenInfo{Account: acct.ClientID, Scope: scope})
	fields["scope"] = scope
	fields["tenant"] = acct.Tenant
	fields["jti"] = newUUID()
	return resp.withBody(http.StatusOK, fields)
}

// basicRules are how an endpoint that takes HTTP Basic client
// authentication alone answers a client it refuses.
type basicRules struct {
	inBody    string   // the description when the body holds client credentials
	noBasic   response // the answer without HTTP Basic credentials
	badClient response // the answer to an unknown client, a wrong secret or a disabled account
	decode    bool     // whether form-encoded Basic credentials are accepted too
}

// basicClient reads a client_credentials token request whose client
// authenticates with HTTP Basic alone (SaaS Security, SCM): the form, no
// credentials in the body, a known and enabled account, and the grant
// type. bad is true when resp answers the request instead.
func (s *Server) basicClient(in *tokenRequest, provider string, rules basicRules) (form url.Values, acct Account, resp response, bad bool) {
	form, resp, bad = postForm(in, provider)
	if bad {
		return nil, Account{}, resp, true
	}
	if form.Has("client_id") || form.Has("client_secret") {
		return nil, Account{}, oauthError(http.StatusBadRequest, "invalid_request", rules.inBody), true
	}
	id, secret, ok := in.r.BasicAuth()
	if !ok {
		return nil, Account{}, rules.noBasic, true
	}
	acct, ok = s.checkClient(provider, id, secret, rules.decode)
	if !ok || acct.Disabled {
		return nil, Account{}, rules.badClient, true
	}
	if resp, bad := checkGrantType(form.Get("grant_type")); bad {
		return nil, Account{}, resp, true
	}
	return form, acct, response{}, false
}

// checkGrantType checks an RFC 6749 grant_type for client credentials.
func checkGrantType(gt string) (response, bool) {
	switch gt {
	case "client_credentials":
		return response{}, false
	case "":
		return oauthError(http.StatusBadRequest, "invalid_request", "Missing grant type"), true
	default:
		return oauthError(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type"), true
	}
}
