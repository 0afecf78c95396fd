package provider

import (
	"context"
	"net/http"
	"time"
)

// saasSecurity is Palo Alto SaaS Security (Data Security) API: POST
// /oauth/token with HTTP Basic client_id:client_secret and the form
// grant_type=client_credentials&scope=<scope>. The response is RFC 6749
// JSON plus tenant (tenant name) and jti (token id); expires_in is a
// number, and "no value means it does not expire", which here means
// Params.DefaultTTL. A config without a scope is given api_access.
type saasSecurity struct{}

// saasDefaultScope is the scope sent when none is configured.
const saasDefaultScope = "api_access"

//nolint:gosec // G101 false positive: field names and help text, not a credential.
var saasSecurityDescriptor = Descriptor{
	Name:            PaloAltoSaaSSecurity,
	Vendor:          "Palo Alto Networks SaaS Security API",
	DefaultTokenURL: "https://api.aperture.paloaltonetworks.com/oauth/token",
	TokenURLHint:    "default: the US endpoint; set it for other regions",
	Fields: []FieldUse{
		{Field: ClientID, Required: true},
		{Field: ClientSecret, Required: true},
		{Field: Scope, Default: saasDefaultScope, Note: "space-separated API scopes"},
	},
	Extra: []ResponseField{
		{"tenant", "Tenant name."},
		{"jti", "Token id."},
	},
	Protocol: saasSecurity{},
}

func (saasSecurity) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	body := formBody([2]string{"grant_type", grantType}, [2]string{"scope", p.RequestedScope()})
	req, err := newPost(ctx, PaloAltoSaaSSecurity, p.TokenURL, contentTypeForm, []byte(body))
	if err != nil {
		return nil, err
	}
	// As the vendor documents it: Base64(client_id:client_secret), with no
	// form-encoding of the two (unlike RFC 6749 section 2.3.1).
	req.SetBasicAuth(p.Get(ClientID), p.Get(ClientSecret))
	return req, nil
}

func (saasSecurity) ParseResponse(p Params, resp *Response, now time.Time) (Token, error) {
	return oauthShape{
		provider:  PaloAltoSaaSSecurity,
		extraKeys: extraNames(saasSecurityDescriptor),
	}.parse(p, resp, now)
}
