package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// oracleCASB is Oracle CASB Cloud Service: POST /api/v1/token with the JSON
// body {"accessKey": ..., "accessSecret": ...} and no Basic auth. Success is
// 201 with {"accessToken", "tenantId", "expiresAt"}, expiresAt an absolute
// RFC 3339 time. A failure can hide inside a 200:
// {"runtime-response": {"status": 200, "message": "No existing keys found
// for tenant"}}; errors otherwise come as {status, entity, metadata}.
type oracleCASB struct{}

//nolint:gosec // G101 false positive: field names and help text, not a credential.
var oracleCASBDescriptor = Descriptor{
	Name:         OracleCASB,
	Vendor:       "Oracle CASB Cloud Service",
	TokenURLHint: "per tenant: https://<pod>.palerra.net/api/v1/token",
	Fields: []FieldUse{
		{Field: AccessKey, Required: true},
		{Field: AccessSecret, Required: true},
	},
	Extra: []ResponseField{
		{"tenant_id", "Tenant id; send it as the X-Apprity-Tenant-Id header."},
	},
	Protocol: oracleCASB{},
}

// oracleTokenRequest is the request body; the field order is the documented
// one.
type oracleTokenRequest struct {
	AccessKey    string `json:"accessKey"`
	AccessSecret string `json:"accessSecret"`
}

func (oracleCASB) NewRequest(ctx context.Context, p Params) (*http.Request, error) {
	// The secret goes into the request body by design; it is never logged.
	creds := oracleTokenRequest{AccessKey: p.Get(AccessKey), AccessSecret: p.Get(AccessSecret)}
	body, err := json.Marshal(creds) //nolint:gosec // G117: this is the credential exchange itself
	if err != nil {
		return nil, configError(OracleCASB, "the token request body cannot be encoded")
	}
	return newPost(ctx, OracleCASB, p.TokenURL, contentTypeJSON, body)
}

// ParseResponse accepts any 2xx (the vendor documents 201; 200 is seen) with
// a non-empty accessToken.
func (oracleCASB) ParseResponse(p Params, resp *Response, now time.Time) (Token, error) {
	if !isSuccess(resp.StatusCode) {
		return Token{}, statusError(OracleCASB, p, resp)
	}
	obj, ok := decodeObject(resp.Body)
	if !ok {
		return Token{}, responseError(OracleCASB, p, resp, "the response is not a JSON object", true)
	}
	access, ok := stringField(obj, "accessToken", true)
	if !ok {
		return Token{}, responseError(OracleCASB, p, resp, "accessToken in the response is not a string", false)
	}
	if strings.TrimSpace(access) == "" {
		return Token{}, missingTokenError(OracleCASB, p, resp, "accessToken")
	}
	exp, err := absoluteExpiry(obj["expiresAt"], resp.Header.Get("Date"), now, p.DefaultTTL)
	if err != nil {
		return Token{}, lifetimeError(OracleCASB, p, resp, "expiresAt", err)
	}
	tok := Token{
		AccessToken:       access,
		TokenType:         "Bearer", // the API takes it as a bearer token; the response does not say
		IssuedAt:          now,
		ExpiresAt:         exp.at,
		LifetimeDefaulted: exp.defaulted,
		LifetimeClamped:   exp.clamped,
		Extra:             map[string]string{},
	}
	if tenant, _ := stringField(obj, "tenantId", false); tenant != "" {
		tok.Extra["tenant_id"] = tenant
	}
	return checkTokenFields(OracleCASB, p, resp, tok)
}
