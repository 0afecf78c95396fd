package provider

import (
	"context"
	"net/http"
	"time"
)

// brightPattern is Bright Pattern Contact Center: POST
// /configapi/v2/oauth/token with the form
// grant_type=client_credentials&client_id=<login id>&client_secret=<API
// secret>&scope=<tenant host>, and no Basic auth. The response is RFC 6749
// JSON whose expires_in is a string ("3599"). Bad credentials, a locked user
// or an inactive tenant give 401; repeated bad logins can lock the user,
// which is why 4xx is never retried.
type brightPattern struct{}

//nolint:gosec // G101 false positive: field names and help text, not a credential.
var brightPatternDescriptor = Descriptor{
	Name:         BrightPattern,
	Vendor:       "Bright Pattern Contact Center",
	TokenURLHint: "per tenant: https://<tenant host>/configapi/v2/oauth/token",
	Fields: []FieldUse{
		{Field: ClientID, Required: true, Note: "the user's login id"},
		{Field: ClientSecret, Required: true, Note: "that user's API secret"},
		{Field: Scope, Required: true, Note: "the tenant host, for example example.com"},
	},
	Protocol: brightPattern{},
}

func (brightPattern) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	body := formBody(
		[2]string{"grant_type", grantType},
		[2]string{"client_id", p.Get(ClientID)},
		[2]string{"client_secret", p.Get(ClientSecret)},
		[2]string{"scope", p.Get(Scope)},
	)
	return newPost(ctx, BrightPattern, p.TokenURL, contentTypeForm, []byte(body))
}

func (brightPattern) ParseResponse(p Params, resp *Response, now time.Time) (Token, error) {
	return oauthShape{
		provider: BrightPattern,
	}.parse(p, resp, now)
}
