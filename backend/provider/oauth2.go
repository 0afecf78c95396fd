package provider

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// oauth2Generic is any RFC 6749 client-credentials token endpoint (section
// 4.4). With client_secret_basic (the default) the client authenticates
// with HTTP Basic over the form-encoded id and secret (section 2.3.1); with
// client_secret_post it sends client_id and client_secret as form fields;
// with private_key_jwt it sends client_id and a client assertion signed with
// the key the engine made (RFC 7523 section 2.2; see jwt.go). scope,
// audience and each resource (RFC 8707) are sent when set.
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
		{Field: ClientSecret, Required: true, When: withSecret, Unless: "with token_endpoint_auth_method " + AuthPrivateKeyJWT + ": the engine makes a key pair instead"},
		{Field: Scope, Note: "optional"},
		{Field: TokenEndpointAuthMethod, Default: AuthClientSecretBasic},
		{Field: Audience, Note: "optional"},
		{Field: Resource, Note: "optional"},
		{Field: KeyType, Default: KeyEC256, When: UsesKey, Unless: onlyWithKey},
		{Field: AssertionAudience, Note: "optional", When: UsesKey, Unless: onlyWithKey},
		{Field: RotationOverlap, Default: DefaultRotationOverlap.String(), When: UsesKey, Unless: onlyWithKey},
		{Field: SigningKey, When: UsesKey},
		{Field: RetiredKeys, When: UsesKey},
	},
	Protocol: oauth2Generic{},
	Rotation: keyRotation{},
}

// onlyWithKey says when the key fields do not apply.
const onlyWithKey = "unless token_endpoint_auth_method is " + AuthPrivateKeyJWT

// withSecret reports whether a config with values v authenticates with a
// client secret.
func withSecret(v Values) bool { return !UsesKey(v) }

func (oauth2Generic) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	fields := [][2]string{{"grant_type", grantType}}
	method := p.Get(TokenEndpointAuthMethod)
	switch method {
	case AuthClientSecretPost:
		fields = append(fields, [2]string{"client_id", p.Get(ClientID)}, [2]string{"client_secret", p.Get(ClientSecret)})
	case AuthPrivateKeyJWT:
		assertion := p.assertion
		if assertion == "" {
			var err error
			if assertion, err = clientAssertion(p, time.Now()); err != nil {
				return nil, err
			}
		}
		fields = append(fields, [2]string{"client_id", p.Get(ClientID)},
			[2]string{"client_assertion_type", ClientAssertionType}, [2]string{"client_assertion", assertion})
	}
	if scope := p.Get(Scope); scope != "" {
		fields = append(fields, [2]string{"scope", scope})
	}
	if audience := p.Get(Audience); audience != "" {
		fields = append(fields, [2]string{"audience", audience})
	}
	for _, r := range strings.Fields(p.Get(Resource)) {
		fields = append(fields, [2]string{"resource", r})
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
