package provider

import (
	"context"
	"net/http"
	"time"
)

// scm is the Palo Alto Strata Cloud Manager authentication service (WildFire,
// Prisma Access and the other SCM APIs): POST /am/oauth2/access_token with
// HTTP Basic client_id:client_secret and the form
// grant_type=client_credentials&scope=tsg_id:<TSG id>. The response is RFC
// 6749 JSON with a numeric expires_in (900). Bad credentials come back as
// {"error":"invalid_client"}, often with status 400.
type scm struct{}

//nolint:gosec // G101 false positive: field names and help text, not a credential.
var scmDescriptor = Descriptor{
	Name:            PaloAltoSCM,
	Vendor:          "Palo Alto Networks Strata Cloud Manager auth (WildFire, Prisma Access and the other SCM APIs)",
	DefaultTokenURL: "https://auth.apps.paloaltonetworks.com/am/oauth2/access_token",
	TokenURLHint:    "default: auth.apps.paloaltonetworks.com",
	Fields: []FieldUse{
		{Field: ClientID, Required: true},
		{Field: ClientSecret, Required: true},
		{Field: TSGID, Required: true, Note: "the Tenant Service Group id, for example 1234567890"},
		{Field: IAMURL, Default: "https://api.sase.paloaltonetworks.com"},
		{Field: ServiceAccountID},
	},
	Extra: []ResponseField{
		{"tsg_id", "Tenant Service Group id the token is scoped to."},
	},
	Protocol: scm{},
	Rotation: scmSecretReset{},
	scope:    func(p Params) string { return "tsg_id:" + p.Get(TSGID) },
}

func (scm) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	body := formBody([2]string{"grant_type", grantType}, [2]string{"scope", p.RequestedScope()})
	req, err := newPost(ctx, PaloAltoSCM, p.TokenURL, contentTypeForm, []byte(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(p.Get(ClientID), p.Get(ClientSecret)) // as curl -u sends it
	return req, nil
}

func (scm) ParseResponse(p Params, resp *Response, now time.Time) (Token, error) {
	return oauthShape{
		provider: PaloAltoSCM,
		extra:    func(p Params) map[string]string { return map[string]string{"tsg_id": p.Get(TSGID)} },
	}.parse(p, resp, now)
}
