package fakevendor

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Oracle CASB Cloud Service: POST /api/v1/token, as the vendor documents it.
//
// The request is a JSON body {"accessKey": ..., "accessSecret": ...} with
// Content-Type application/json and no HTTP Basic authentication; a request
// with an Authorization header is rejected. A success is **201** with
// accessToken, tenantId and expiresAt, an absolute RFC 3339 time such as
// "2017-09-11T00:19:24Z" on the vendor's clock.
//
// Errors are 400, 401, 403, 404 and 500 with a {status, entity, metadata}
// body; 404 and 500 come only from Faults (FailStatus). An unknown access
// key gives, by default, the vendor document's failure example: a 200 whose
// runtime-response says status 200, "No existing keys found for tenant",
// and which carries no token (see WithOracleUnknownKeyStatus). A wrong
// secret gives 401; a disabled account gives 403, as for a tenant whose
// APIs are not enabled.

func (s *Server) oracleToken(in *tokenRequest) response {
	const p = ProviderOracleCASB
	if in.r.Method != http.MethodPost {
		return methodNotAllowed(p)
	}
	if !hasMediaType(in.r, jsonType) {
		return oracleError(http.StatusBadRequest, "Content-Type must be application/json.")
	}
	if err := checkQuery(in.r); err != nil {
		return oracleError(http.StatusBadRequest, err.Error())
	}
	if in.r.Header.Get("Authorization") != "" {
		return oracleError(http.StatusBadRequest,
			"The access key and secret belong in the JSON body, not an Authorization header.")
	}
	var req struct {
		AccessKey    *string `json:"accessKey"`
		AccessSecret *string `json:"accessSecret"`
	}
	if err := decodeStrict(in.body, &req); err != nil {
		return oracleError(http.StatusBadRequest,
			"The body must be a JSON object with the string fields accessKey and accessSecret only.")
	}
	if req.AccessKey == nil || *req.AccessKey == "" || req.AccessSecret == nil || *req.AccessSecret == "" {
		return oracleError(http.StatusBadRequest, "accessKey and accessSecret are required.")
	}
	acct, known := s.account(p, *req.AccessKey)
	switch {
	case !known:
		return s.oracleUnknownKey()
	case !secretEqual(acct.AccessSecret, *req.AccessSecret):
		return oracleError(http.StatusUnauthorized, "Invalid access key or access secret.")
	case acct.Disabled:
		return oracleError(http.StatusForbidden, "The Oracle CASB Cloud Service APIs are not enabled for this tenant.")
	}

	expiresAt := in.now.Add(s.Lifetime(p)).UTC().Truncate(time.Second)
	token := newTokenValue(p)
	fields := map[string]any{"tenantId": acct.TenantID}
	if !in.faults.OmitToken {
		fields["accessToken"] = token
	}
	if in.faults.ExpiresIn != ExpiresInOmit {
		fields["expiresAt"] = expiresAt.Format(time.RFC3339)
	}
	resp := response{token: token, info: TokenInfo{
		Provider: p, Account: acct.AccessKey, IssuedAt: in.now, ExpiresAt: expiresAt,
	}}
	return resp.withBody(http.StatusCreated, fields)
}

func (s *Server) oracleUnknownKey() response {
	if s.oracleUnknownKeyStatus != http.StatusOK {
		return oracleError(s.oracleUnknownKeyStatus, "No existing keys found for tenant")
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"runtime-response": map[string]any{
			"status":     200,
			"message":    "No existing keys found for tenant",
			"action-arg": []map[string]string{{"name": "accessKey"}},
		},
	})
}

// decodeStrict decodes one JSON value into v, rejecting unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadBody
	}
	return nil
}
