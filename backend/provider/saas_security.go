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
// Params.DefaultTTL.
type saasSecurity struct{}

// saasDefaultScope is the scope sent when none is configured.
const saasDefaultScope = "api_access"

func (saasSecurity) Name() string { return PaloAltoSaaSSecurity }

func (saasSecurity) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	u, err := resolveTokenURL(PaloAltoSaaSSecurity, p)
	if err != nil {
		return nil, err
	}
	if err := require(PaloAltoSaaSSecurity, [2]string{"client_id", p.ClientID}, [2]string{"client_secret", p.ClientSecret}); err != nil {
		return nil, err
	}
	body := formBody([2]string{"grant_type", grantType}, [2]string{"scope", saasScope(p)})
	req, err := newPost(ctx, PaloAltoSaaSSecurity, u, contentTypeForm, []byte(body))
	if err != nil {
		return nil, err
	}
	// As the vendor documents it: Base64(client_id:client_secret), with no
	// form-encoding of the two (unlike RFC 6749 section 2.3.1).
	req.SetBasicAuth(p.ClientID, p.ClientSecret)
	return req, nil
}

func (saasSecurity) ParseResponse(p Params, resp *Response, now time.Time) (Token, error) {
	return oauthShape{
		provider:       PaloAltoSaaSSecurity,
		extraKeys:      []string{"tenant", "jti"},
		requestedScope: saasScope,
	}.parse(p, resp, now)
}

func saasScope(p Params) string {
	if p.Scope == "" {
		return saasDefaultScope
	}
	return p.Scope
}
