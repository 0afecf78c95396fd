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

func (scm) Name() string { return PaloAltoSCM }

func (scm) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	u, err := resolveTokenURL(PaloAltoSCM, p)
	if err != nil {
		return nil, err
	}
	if err := require(PaloAltoSCM,
		[2]string{"client_id", p.ClientID}, [2]string{"client_secret", p.ClientSecret}, [2]string{"tsg_id", p.TSGID},
	); err != nil {
		return nil, err
	}
	body := formBody([2]string{"grant_type", grantType}, [2]string{"scope", scmScope(p)})
	req, err := newPost(ctx, PaloAltoSCM, u, contentTypeForm, []byte(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(p.ClientID, p.ClientSecret) // as curl -u sends it
	return req, nil
}

func (scm) ParseResponse(p Params, resp *Response, now time.Time) (Token, error) {
	return oauthShape{
		provider:       PaloAltoSCM,
		extra:          func(p Params) map[string]string { return map[string]string{"tsg_id": p.TSGID} },
		requestedScope: scmScope,
	}.parse(p, resp, now)
}

func scmScope(p Params) string { return "tsg_id:" + p.TSGID }
