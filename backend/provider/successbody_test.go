package provider

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A success body may hold a token even when it cannot be used; the error
// about it must never quote the token.
func TestUnusableSuccessBodyNeverQuotesATokenOrSecret(t *testing.T) {
	t.Parallel()
	const tok = "eyJhbGciOiJSUzI1NiJ9.tokenvalue-that-must-not-leak"
	cases := map[string]struct {
		provider string
		status   int
		body     string
		want     string
	}{
		"truncated oauth body": {
			PaloAltoSCM, 200, `{"access_token":"` + tok + `","token_type":"Bearer","expi`, "not valid JSON",
		},
		"truncated oracle body": {
			OracleCASB, 201, `{"accessToken":"` + tok + `","tenantId":"abc","expiresAt":"2026-`, "not valid JSON",
		},
		"token under another key": {
			PaloAltoSaaSSecurity, 200, `{"id_token":"` + tok + `","token_type":"bearer"}`, "fields id_token, token_type",
		},
		"html page with status 200": {
			BrightPattern, 200, `<html><body>Please log in to the proxy ` + tok + `</body></html>`, "an HTML or XML page of 103 bytes",
		},
		"form-encoded body": {
			OAuth2, 200, `access_token=` + tok + `&scope=&token_type=bearer`, "text that is not JSON",
		},
		"a JSON string": {
			OAuth2, 200, `"` + tok + `"`, "a JSON value of 52 bytes that is not an object",
		},
		"plain text": {
			PaloAltoSaaSSecurity, 200, tok, "text that is not JSON",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proto := protocolOf(tc.provider)
			p := Params{Provider: tc.provider, DefaultTTL: time.Minute, Values: Values{"client_id": "id", "client_secret": "client-secret-1", "access_key": "ak", "access_secret": "access-secret-1", "scope": "s", "tsg_id": "1234567890"}}
			_, err := proto.ParseResponse(p, &Response{StatusCode: tc.status, Header: http.Header{}, Body: []byte(tc.body)}, time.Now())
			if err == nil {
				t.Fatal("an unusable body was accepted")
			}
			if strings.Contains(err.Error(), "tokenvalue") {
				t.Errorf("error quotes the token: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
