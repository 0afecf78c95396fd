package provider

import (
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

func (oauth2Generic) Name() string { return OAuth2 }

func (oauth2Generic) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	u, err := resolveTokenURL(OAuth2, p)
	if err != nil {
		return nil, err
	}
	if err := require(OAuth2, [2]string{"client_id", p.ClientID}, [2]string{"client_secret", p.ClientSecret}); err != nil {
		return nil, err
	}
	fields := [][2]string{{"grant_type", grantType}}
	style := p.AuthStyle
	switch style {
	case "", AuthStyleBasic:
		style = AuthStyleBasic
	case AuthStyleBody:
		fields = append(fields, [2]string{"client_id", p.ClientID}, [2]string{"client_secret", p.ClientSecret})
	default:
		return nil, configError(OAuth2, `auth_style must be "basic" or "body"`)
	}
	if p.Scope != "" {
		fields = append(fields, [2]string{"scope", p.Scope})
	}
	req, err := newPost(ctx, OAuth2, u, contentTypeForm, []byte(formBody(fields...)))
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
		provider:       OAuth2,
		requestedScope: func(p Params) string { return p.Scope },
	}.parse(p, resp, now)
}
