package provider

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"time"
)

// oauth2Generic is any RFC 6749 client-credentials token endpoint (section
// 4.4). With AuthStyleBasic (the default) the client authenticates with HTTP
// Basic over the form-encoded id and secret (section 2.3.1); with
// AuthStyleBody it sends client_id and client_secret as form fields. scope
// is sent only when set.
type oauth2Generic struct{}

var oauth2Descriptor = Descriptor{
	Name:         OAuth2,
	Vendor:       "any RFC 6749 client-credentials endpoint",
	TokenURLHint: "your endpoint",
	Fields: []FieldUse{
		{Field: ClientID, Required: true},
		{Field: ClientSecret, Required: true},
		{Field: Scope, Note: "optional"},
		{Field: AuthStyle, Default: AuthStyleBasic},
	},
	Protocol: oauth2Generic{},
}

func (oauth2Generic) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	fields := [][2]string{{"grant_type", grantType}}
	style := cmp.Or(p.AuthStyle, oauth2Descriptor.Default(AuthStyle.Name))
	if err := AuthStyle.Validate(style); err != nil {
		return nil, configError(OAuth2, err.Error())
	}
	if style == AuthStyleBody {
		fields = append(fields, [2]string{"client_id", p.ClientID}, [2]string{"client_secret", p.ClientSecret})
	}
	if p.Scope != "" {
		fields = append(fields, [2]string{"scope", p.Scope})
	}
	req, err := newPost(ctx, OAuth2, p.tokenURL(), contentTypeForm, []byte(formBody(fields...)))
	if err != nil {
		return nil, err
	}
	if style == AuthStyleBasic {
		req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.ClientSecret))
	}
	return req, nil
}

func (oauth2Generic) ParseResponse(p Params, resp *Response, now time.Time) (Token, error) {
	return oauthShape{
		provider: OAuth2,
	}.parse(p, resp, now)
}
