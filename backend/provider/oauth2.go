package provider

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// oauth2Generic is any RFC 6749 client-credentials token endpoint (section
// 4.4). With client_secret_basic (the default) the client authenticates
// with HTTP Basic over the form-encoded id and secret (section 2.3.1); with
// client_secret_post it sends client_id and client_secret as form fields.
// scope is sent only when set.
type oauth2Generic struct{}

// The token endpoint authentication methods of the generic oauth2
// provider, by their OAuth 2.0 names (RFC 7591 section 2).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
)

var oauth2Descriptor = Descriptor{
	Name:         OAuth2,
	Vendor:       "any RFC 6749 client-credentials endpoint",
	TokenURLHint: "your endpoint",
	Fields: []FieldUse{
		{Field: ClientID, Required: true},
		{Field: ClientSecret, Required: true},
		{Field: Scope, Note: "optional"},
		{Field: TokenEndpointAuthMethod, Default: AuthClientSecretBasic},
	},
	Protocol: oauth2Generic{},
}

func (oauth2Generic) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	fields := [][2]string{{"grant_type", grantType}}
	method := p.Get(TokenEndpointAuthMethod)
	if method == AuthClientSecretPost {
		fields = append(fields, [2]string{"client_id", p.Get(ClientID)}, [2]string{"client_secret", p.Get(ClientSecret)})
	}
	if scope := p.Get(Scope); scope != "" {
		fields = append(fields, [2]string{"scope", scope})
	}
	req, err := newPost(ctx, OAuth2, p.TokenURL, contentTypeForm, []byte(formBody(fields...)))
	if err != nil {
		return nil, err
	}
	if method == AuthClientSecretBasic {
		req.SetBasicAuth(url.QueryEscape(p.Get(ClientID)), url.QueryEscape(p.Get(ClientSecret)))
	}
	return req, nil
}

func (oauth2Generic) ParseResponse(p Params, resp *Response, now time.Time) (Token, error) {
	return oauthShape{
		provider: OAuth2,
	}.parse(p, resp, now)
}
