package fakevendor

import (
	"net/http"
	"slices"
	"strings"
)

// Palo Alto Strata Cloud Manager auth: POST /am/oauth2/access_token, also
// answered at /oauth2/access_token and /auth/v1/oauth2/access_token, as the
// vendor documents it.
//
// The client authenticates with HTTP Basic client_id:client_secret and sends
// the form grant_type=client_credentials&scope=tsg_id:<10-digit TSG id>. The
// service account must be allowed that TSG: its own or a child. A success is
// 200 with access_token, scope "tsg_id:<id>", token_type "Bearer" and
// expires_in (a number, 899).
//
// Errors are RFC 6749 bodies. Bad or missing client credentials give
// {"error":"invalid_client","error_description":"Client authentication
// failed"} with 401, or 400 as the real service often sends (see
// WithSCMInvalidClientStatus). A malformed scope, or a TSG the account may
// not use, gives 400 invalid_scope: the vendor does not document this case,
// and an RFC 6749 server answers a scope it will not grant so.

func (s *Server) scmToken(in *tokenRequest) response {
	const p = ProviderSCM
	invalidClient := oauthError(s.scmInvalidClientStatus, "invalid_client", "Client authentication failed")
	form, acct, resp, bad := s.basicClient(in, p, basicRules{
		inBody:  "Client credentials must be sent with HTTP Basic authentication, not in the request body.",
		noBasic: invalidClient, badClient: invalidClient, decode: true,
	})
	if bad {
		return resp
	}
	tsg, found := strings.CutPrefix(form.Get("scope"), "tsg_id:")
	if !found || !tsgIDPattern.MatchString(tsg) {
		return oauthError(http.StatusBadRequest, "invalid_scope",
			"The scope must be tsg_id:<TSG id>, the TSG id being a 10-digit number.")
	}
	if !slices.Contains(acct.TSGIDs, tsg) {
		return oauthError(http.StatusBadRequest, "invalid_scope",
			"The service account does not belong to the requested TSG.")
	}
	scope := "tsg_id:" + tsg
	fields, resp := s.mintOAuth(in, p, "Bearer", false, TokenInfo{Account: acct.ClientID, Scope: scope})
	fields["scope"] = scope
	return resp.withBody(http.StatusOK, fields)
}
