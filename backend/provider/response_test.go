package provider

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testSecret is the client secret of testParams; testAccessSecret the
// Oracle access secret. Tests check that neither ever leaks.
const (
	testSecret       = "cl1ent-S3cret/with+special&chars="
	testAccessSecret = "uQHUJdDrb08png%7K2guKbADYKnZKz05xke9LjTlEs" //nolint:gosec // G101: the Oracle page's own example value
)

// testParams returns valid parameters for a provider, token URL included.
func testParams(provider, tokenURL string) Params {
	p := Params{Provider: provider, TokenURL: tokenURL, DefaultTTL: 30 * time.Minute, Values: Values{}}
	switch provider {
	case OracleCASB:
		p.Values[AccessKey.Name], p.Values[AccessSecret.Name] = "BLHZKSBNTO7DIYRB3DRQ", testAccessSecret
	default:
		p.Values[ClientID.Name], p.Values[ClientSecret.Name] = "acme", testSecret
	}
	switch provider {
	case PaloAltoSaaSSecurity:
		p.Values[Scope.Name] = "api_access"
	case PaloAltoSCM:
		p.Values[TSGID.Name] = "1234567890"
	case BrightPattern:
		p.Values[Scope.Name] = "example.com"
	}
	d, _ := Describe(provider)
	d.ApplyDefaults(p.Values)
	if p.TokenURL == "" {
		p.TokenURL = d.DefaultTokenURL
	}
	if p.TokenURL == "" {
		p.TokenURL = "https://vendor.example.com/token"
	}
	return p
}

type parseCase struct {
	params func(*Params) // optional changes to testParams
	status int
	header http.Header
	body   string

	// On success:
	want Token // IssuedAt is always testNow; Extra nil means empty

	// On failure:
	wantKind   Kind
	wantCode   string
	wantMsg    []string // substrings of the message
	wantNotMsg []string // must not appear in Error()
}

// runParseCases parses every case's response as provider's.
func runParseCases(t *testing.T, provider string, cases map[string]parseCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := testParams(provider, "")
			if tc.params != nil {
				tc.params(&p)
			}
			proto := protocolOf(provider)
			resp := &Response{StatusCode: tc.status, Header: tc.header, Body: []byte(tc.body)}
			tok, err := proto.ParseResponse(p, resp, testNow)
			if tc.wantMsg == nil && tc.wantCode == "" && tc.wantKind == 0 && tc.want.AccessToken != "" {
				if err != nil {
					t.Fatalf("ParseResponse: %v", err)
				}
				want := tc.want
				want.IssuedAt = testNow
				if want.Extra == nil {
					want.Extra = map[string]string{}
				}
				if !reflect.DeepEqual(tok, want) {
					t.Errorf("token =\n%+v\nwant\n%+v", tok, want)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (token %+v), want *Error", err, tok)
			}
			if !reflect.DeepEqual(tok, Token{}) {
				t.Errorf("a failure returned a token: %+v", tok)
			}
			if pe.Provider != provider || pe.StatusCode != tc.status {
				t.Errorf("provider, status = %q, %d; want %q, %d", pe.Provider, pe.StatusCode, provider, tc.status)
			}
			if pe.Kind != tc.wantKind {
				t.Errorf("kind = %v, want %v (%v)", pe.Kind, tc.wantKind, pe)
			}
			if pe.Code != tc.wantCode {
				t.Errorf("code = %q, want %q", pe.Code, tc.wantCode)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(pe.Message, m) {
					t.Errorf("message %q does not contain %q", pe.Message, m)
				}
			}
			for _, m := range append(tc.wantNotMsg, testSecret, testAccessSecret) {
				if strings.Contains(pe.Error(), m) {
					t.Errorf("error %q contains %q", pe.Error(), m)
				}
			}
			if n := len([]rune(pe.Message)); n > 2*maxExcerpt+60 {
				t.Errorf("message is %d characters long", n)
			}
		})
	}
}

// The vendor documents' own success examples.
const (
	saasDocBody = `{ "access_token" : "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6WyJhcGlfYWNjZXNzIl0.vxao73NJcehYkngrI9WvHIxugbhDzOEWDBbR4TS99Eg", "token_type" : "bearer", "expires_in" : 7199, "scope" : "api_access", "tenant" : "test tenant", "jti" : "d66abfad-8c3c-40d1-8c1f-91cc0e1931f1" }`
	scmDocBody  = `{ "access_token": "eyJhb...truncated", "scope": "tsg_id:1234567890", "token_type": "Bearer", "expires_in": 900 }`
	// The Bright Pattern page's example, trailing comma and all.
	brightDocBody = "{\n\"access_token\":\"eyJhbGciOiJSUzI1NiI5q9Jgt...6HznsvPWy7UP3MINA\",\n\"token_type\":\"Bearer\",\n\"expires_in\":\"3599\",\n}"
	oracleDocBody = `{
  "accessToken" : "oracle-token-value",
  "tenantId" : "abcdefgh-1234-ijkl-5678-mnopqrstuvwx",
  "expiresAt" : "2017-09-11T00:19:24Z"
}`
	oracleRuntimeFailure = `{
  "runtime-response": {
    "status": 200,
    "message": "No existing keys found for tenant",
    "action-arg": [
      {
        "name": "accessKey"
      }
    ]
  }
}`
	springUnauthorized = `{"timestamp":"2025-03-04T10:00:00.000+00:00","status":401,"error":"Unauthorized","message":"Bad credentials","path":"/oauth/token"}`
	htmlBadGateway     = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head>\n<body><h1>Bad\tGateway</h1><script>alert(1)</script><p>The proxy received an invalid\r\nresponse &amp; gave up.</p></body></html>"
)

func TestParseResponseSaaSSecurity(t *testing.T) {
	t.Parallel()
	runParseCases(t, PaloAltoSaaSSecurity, map[string]parseCase{
		"documented success": {
			status: 200, body: saasDocBody,
			want: Token{ //nolint:gosec // G101: a made-up test token
				AccessToken: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6WyJhcGlfYWNjZXNzIl0.vxao73NJcehYkngrI9WvHIxugbhDzOEWDBbR4TS99Eg",
				TokenType:   "bearer", Scope: "api_access", ExpiresAt: testNow.Add(7199 * time.Second),
				Extra: map[string]string{"tenant": "test tenant", "jti": "d66abfad-8c3c-40d1-8c1f-91cc0e1931f1"},
			},
		},
		"no expires_in means the default, not forever": {
			status: 200, body: `{"access_token":"t","token_type":"bearer"}`,
			want: Token{AccessToken: "t", TokenType: "bearer", Scope: "api_access", ExpiresAt: testNow.Add(30 * time.Minute), LifetimeDefaulted: true},
		},
		"expires_in as a string": {
			status: 200, body: `{"access_token":"t","expires_in":"7199"}`,
			want: Token{AccessToken: "t", Scope: "api_access", ExpiresAt: testNow.Add(7199 * time.Second)},
		},
		"any 2xx": {
			status: 201, body: `{"access_token":"t","expires_in":60,"tenant":7}`,
			want: Token{AccessToken: "t", Scope: "api_access", ExpiresAt: testNow.Add(time.Minute)},
		},
		"spring 401": {
			status: 401, body: springUnauthorized,
			wantKind: KindCredentials, wantMsg: []string{"Bad credentials"},
		},
		"spring error without message": {
			status: 400, body: `{"timestamp":"x","status":400,"error":"Bad Request","path":"/oauth/token"}`,
			wantKind: KindRequest, wantMsg: []string{"Bad Request"},
		},
		"oauth2 invalid_scope": {
			status: 400, body: `{"error":"invalid_scope","error_description":"Invalid scope: api_acess"}`,
			wantKind: KindRequest, wantCode: "invalid_scope", wantMsg: []string{"Invalid scope: api_acess"},
		},
		"oauth2 unauthorized_client": {
			status: 400, body: `{"error":"unauthorized_client"}`,
			wantKind: KindCredentials, wantCode: "unauthorized_client",
		},
		"403 is a credential failure": {
			status: 403, body: `{"message":"Forbidden"}`,
			wantKind: KindCredentials, wantMsg: []string{"Forbidden"},
		},
		"500 is transient": {
			status: 500, body: `{"message":"Internal error"}`,
			wantKind: KindTransient, wantMsg: []string{"Internal error"},
		},
		"zero lifetime": {
			status: 200, body: `{"access_token":"t","expires_in":0}`,
			wantKind: KindResponse, wantMsg: []string{"expires_in", "already be expired"},
		},
		"no lifetime and no default": {
			params: func(p *Params) { p.DefaultTTL = 0 },
			status: 200, body: `{"access_token":"t"}`,
			wantKind: KindConfig, wantMsg: []string{"no lifetime"},
		},
	})
}

func TestParseResponseSCM(t *testing.T) {
	t.Parallel()
	runParseCases(t, PaloAltoSCM, map[string]parseCase{
		"documented success": {
			status: 200, body: scmDocBody,
			want: Token{ //nolint:gosec // G101: a made-up test token
				AccessToken: "eyJhb...truncated", TokenType: "Bearer", Scope: "tsg_id:1234567890",
				ExpiresAt: testNow.Add(15 * time.Minute), Extra: map[string]string{"tsg_id": "1234567890"},
			},
		},
		"scope from the request when the response has none": {
			status: 200, body: `{"access_token":"t","token_type":"Bearer","expires_in":899}`,
			want: Token{
				AccessToken: "t", TokenType: "Bearer", Scope: "tsg_id:1234567890",
				ExpiresAt: testNow.Add(899 * time.Second), Extra: map[string]string{"tsg_id": "1234567890"},
			},
		},
		"invalid_client with 400": {
			status: 400, body: `{"error":"invalid_client","error_description":"Client authentication failed"}`,
			wantKind: KindCredentials, wantCode: "invalid_client", wantMsg: []string{"Client authentication failed"},
		},
		"invalid_client with 401": {
			status: 401, body: `{"error":"invalid_client","error_description":"Client authentication failed"}`,
			wantKind: KindCredentials, wantCode: "invalid_client",
		},
		"429 is transient": {
			status: 429, body: `{"error":"too_many_requests"}`,
			wantKind: KindTransient, wantCode: "too_many_requests",
		},
		"408 is transient": {
			status: 408, body: ``,
			wantKind: KindTransient,
		},
		"HTML 502 becomes a short clean excerpt": {
			status: 502, body: htmlBadGateway,
			wantKind: KindTransient, wantMsg: []string{"502 Bad Gateway Bad Gateway The proxy received an invalid response & gave up."},
			wantNotMsg: []string{"<", "alert", "color:red", "\n", "\t", "&amp;"},
		},
		"long HTML body is cut": {
			status: 503, body: "<html><body>" + strings.Repeat("overloaded ", 500) + "</body></html>",
			wantKind: KindTransient, wantMsg: []string{"overloaded overloaded", "..."},
		},
		"404 is a request error": {
			status: 404, body: `Not Found`,
			wantKind: KindRequest, wantMsg: []string{"Not Found"},
		},
		"redirect is refused and named": {
			status:   302,
			header:   http.Header{"Location": {"https://login.example.net/am/oauth2/access_token?client_secret=" + testSecret}},
			wantKind: KindRequest, wantMsg: []string{"redirected to https://login.example.net/am/oauth2/access_token", "token_url"},
			wantNotMsg: []string{"client_secret"},
		},
		"relative redirect resolved against token_url": {
			status: 307, header: http.Header{"Location": {"/oauth2/access_token"}},
			wantKind: KindRequest, wantMsg: []string{"redirected to https://auth.apps.paloaltonetworks.com/oauth2/access_token"},
		},
		"redirect without Location": {
			status: 301, body: "moved",
			wantKind: KindRequest, wantMsg: []string{"moved"},
		},
		"1xx is unusable": {
			status: 101, body: "",
			wantKind: KindResponse,
		},
	})
}

func TestParseResponseOracleCASB(t *testing.T) {
	t.Parallel()
	vendorDate := time.Date(2017, 9, 11, 0, 4, 24, 0, time.UTC) // 15 minutes before the documented expiresAt
	dated := http.Header{"Date": {vendorDate.Format(http.TimeFormat)}}
	runParseCases(t, OracleCASB, map[string]parseCase{
		"documented success, 201, lifetime measured against Date": {
			status: 201, header: dated, body: oracleDocBody,
			want: Token{
				AccessToken: "oracle-token-value", TokenType: "Bearer", ExpiresAt: testNow.Add(15 * time.Minute),
				Extra: map[string]string{"tenant_id": "abcdefgh-1234-ijkl-5678-mnopqrstuvwx"},
			},
		},
		"200 is accepted too; no Date means expiresAt as is": {
			status: 200,
			body:   `{"accessToken":"t","tenantId":"tid","expiresAt":"` + testNow.Add(time.Hour).Format(time.RFC3339) + `"}`,
			want: Token{
				AccessToken: "t", TokenType: "Bearer", ExpiresAt: testNow.Add(time.Hour),
				Extra: map[string]string{"tenant_id": "tid"},
			},
		},
		"expiresAt with offset and fraction": {
			status: 201, header: http.Header{"Date": {testNow.Format(http.TimeFormat)}},
			body: `{"accessToken":"t","expiresAt":"2025-03-04T11:30:00.250+01:00"}`,
			want: Token{AccessToken: "t", TokenType: "Bearer", ExpiresAt: testNow.Add(30*time.Minute + 250*time.Millisecond)},
		},
		"missing expiresAt uses the default": {
			status: 201, body: `{"accessToken":"t","tenantId":"tid"}`,
			want: Token{
				AccessToken: "t", TokenType: "Bearer", ExpiresAt: testNow.Add(30 * time.Minute), LifetimeDefaulted: true,
				Extra: map[string]string{"tenant_id": "tid"},
			},
		},
		"runtime-response failure inside a 200": {
			status: 200, body: oracleRuntimeFailure,
			wantKind: KindRequest, wantMsg: []string{"no accessToken", "No existing keys found for tenant"},
		},
		"400 status/entity/metadata": {
			status:   400,
			body:     `{"status":400,"entity":{"errors":[{"field":"accessKey","message":"accessKey must not be empty"}]},"metadata":{}}`,
			wantKind: KindRequest, wantMsg: []string{"accessKey must not be empty"},
		},
		"401 status/entity/metadata": {
			status:   401,
			body:     `{"status":401,"entity":{"errorMessage":"Invalid access key or secret"},"metadata":{"Content-Type":["application/json"]}}`,
			wantKind: KindCredentials, wantMsg: []string{"Invalid access key or secret"},
		},
		"403 with a string entity": {
			status: 403, body: `{"status":403,"entity":"APIs are not enabled for this tenant","metadata":{}}`,
			wantKind: KindCredentials, wantMsg: []string{"APIs are not enabled for this tenant"}, wantNotMsg: []string{`"status"`},
		},
		"404": {
			status: 404, body: `{"status":404,"entity":{"message":"Resource not present"}}`,
			wantKind: KindRequest, wantMsg: []string{"Resource not present"},
		},
		"500 runtime-response": {
			status: 500, body: `{"runtime-response":{"status":500,"message":"Internal Server error"}}`,
			wantKind: KindTransient, wantMsg: []string{"Internal Server error"},
		},
		"expired by the vendor's clock": {
			status: 201, header: dated,
			body:     `{"accessToken":"t","expiresAt":"2017-09-11T00:04:00Z"}`,
			wantKind: KindResponse, wantMsg: []string{"expiresAt", "already be expired"},
		},
		"expiresAt as epoch number": {
			status: 201, body: `{"accessToken":"t","expiresAt":1505089164}`,
			wantKind: KindResponse, wantMsg: []string{"expiresAt", "RFC 3339"},
		},
		"absurd expiresAt is clamped": {
			status: 201, header: dated, body: `{"accessToken":"t","expiresAt":"9999-01-01T00:00:00Z"}`,
			want: Token{AccessToken: "t", TokenType: "Bearer", ExpiresAt: testNow.Add(MaxLifetime), LifetimeClamped: true},
		},
	})
}

func TestParseResponseBrightPattern(t *testing.T) {
	t.Parallel()
	runParseCases(t, BrightPattern, map[string]parseCase{
		"documented success, string expires_in, trailing comma": {
			status: 200, body: brightDocBody,
			want: Token{ //nolint:gosec // G101: a made-up test token
				AccessToken: "eyJhbGciOiJSUzI1NiI5q9Jgt...6HznsvPWy7UP3MINA", TokenType: "Bearer",
				Scope: "example.com", ExpiresAt: testNow.Add(3599 * time.Second),
			},
		},
		"numeric expires_in also read": {
			status: 200, body: `{"access_token":"t","token_type":"Bearer","expires_in":3480,"scope":"example.com"}`,
			want: Token{AccessToken: "t", TokenType: "Bearer", Scope: "example.com", ExpiresAt: testNow.Add(3480 * time.Second)},
		},
		"float string": {
			status: 200, body: `{"access_token":"t","expires_in":"3600.0"}`,
			want: Token{AccessToken: "t", Scope: "example.com", ExpiresAt: testNow.Add(time.Hour)},
		},
		"non-numeric expires_in": {
			status: 200, body: `{"access_token":"t","expires_in":"one hour"}`,
			wantKind: KindResponse, wantMsg: []string{"expires_in", "not a decimal number"}, wantNotMsg: []string{"one hour"},
		},
		"401 with an empty body": {
			status: 401, body: ``,
			wantKind: KindCredentials,
		},
		"401 with a plain text body": {
			status: 401, body: "User is locked\n",
			wantKind: KindCredentials, wantMsg: []string{"User is locked"},
		},
	})
}

func TestParseResponseOAuth2(t *testing.T) {
	t.Parallel()
	runParseCases(t, OAuth2, map[string]parseCase{
		"success": {
			status: 200, params: func(p *Params) { p.Values[Scope.Name] = "read" },
			body: `{"access_token":"t","token_type":"Bearer","expires_in":3600}`,
			want: Token{AccessToken: "t", TokenType: "Bearer", Scope: "read", ExpiresAt: testNow.Add(time.Hour)},
		},
		"response scope wins": {
			status: 200, params: func(p *Params) { p.Values[Scope.Name] = "read write" },
			body: `{"access_token":"t","scope":"read","expires_in":3600}`,
			want: Token{AccessToken: "t", Scope: "read", ExpiresAt: testNow.Add(time.Hour)},
		},
		"invalid_client inside a 200": {
			status: 200, body: `{"error":"invalid_client","error_description":"Unknown client"}`,
			wantKind: KindCredentials, wantCode: "invalid_client", wantMsg: []string{"no access_token", "Unknown client"},
		},
		"2xx without a token or a message": {
			status: 200, body: `{"token_type":"Bearer"}`,
			wantKind: KindRequest, wantMsg: []string{"no access_token"},
		},
		"blank token": {
			status: 200, body: `{"access_token":"  "}`,
			wantKind: KindRequest, wantMsg: []string{"no access_token"},
		},
		"token of the wrong type": {
			status: 200, body: `{"access_token":12345}`,
			wantKind: KindResponse, wantMsg: []string{"not a string"},
		},
		"HTML with 200": {
			status: 200, body: `<html><body>Please log in</body></html>`,
			wantKind: KindResponse, wantMsg: []string{"not a JSON object", "an HTML or XML page of 39 bytes", "not quoted"},
		},
		"JSON array": {
			status: 200, body: `[{"access_token":"t"}]`,
			wantKind: KindResponse, wantMsg: []string{"not a JSON object"},
		},
		"empty 200": {
			status: 204, body: ``,
			wantKind: KindResponse, wantMsg: []string{"not a JSON object", "empty body"},
		},
		"truncated JSON": {
			status: 200, body: `{"access_token":"abc","expi`,
			wantKind: KindResponse, wantMsg: []string{"not a JSON object"},
		},
		"token echoing the secret is refused": {
			status: 200, body: `{"access_token":"x` + testSecret + `x","expires_in":60}`,
			wantKind: KindResponse, wantMsg: []string{"echoes a credential"},
		},
		"extra field echoing the secret is refused": {
			status: 200, body: `{"access_token":"t","scope":"` + testSecret + `","expires_in":60}`,
			wantKind: KindResponse, wantMsg: []string{"echoes a credential"},
		},
	})
}
