package provider

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	want := []string{BrightPattern, OAuth2, OracleCASB, PaloAltoSaaSSecurity, PaloAltoSCM}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range want {
		if d, ok := Describe(name); !ok || d.Name != name {
			t.Errorf("Describe(%q) = %v, %v", name, d, ok)
		}
	}
	if _, ok := Describe("paloalto"); ok {
		t.Error(`Describe("paloalto") found a provider`)
	}
	urls := map[string]string{
		PaloAltoSaaSSecurity: "https://api.aperture.paloaltonetworks.com/oauth/token",
		PaloAltoSCM:          "https://auth.apps.paloaltonetworks.com/am/oauth2/access_token",
		OracleCASB:           "",
		BrightPattern:        "",
		OAuth2:               "",
		"unknown":            "",
	}
	for name, want := range urls {
		if d, _ := Describe(name); d.DefaultTokenURL != want {
			t.Errorf("%s default token URL = %q, want %q", name, d.DefaultTokenURL, want)
		}
	}
}

func TestNewRequest(t *testing.T) {
	t.Parallel()
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	}
	cases := map[string]struct {
		params   Params
		wantURL  string // "" means params.TokenURL
		wantType string // "" means a form
		wantAuth string // "" means no Authorization header
		wantBody string
	}{
		"saas security as the vendor documents it": {
			params: Params{ //nolint:gosec // G101: made-up test credentials
				Provider: PaloAltoSaaSSecurity, TokenURL: "https://api.aperture.paloaltonetworks.com/oauth/token", Values: Values{"client_id": "acme", "client_secret": "acmesecret", "scope": "api_access"},
			},
			wantAuth: "Basic YWNtZTphY21lc2VjcmV0", // the vendor document's own example
			wantBody: "grant_type=client_credentials&scope=api_access",
		},
		"saas security defaults the URL and scope": {
			params:   Params{Provider: PaloAltoSaaSSecurity, Values: Values{"client_id": "acme", "client_secret": "acmesecret"}},
			wantURL:  "https://api.aperture.paloaltonetworks.com/oauth/token",
			wantAuth: "Basic YWNtZTphY21lc2VjcmV0",
			wantBody: "grant_type=client_credentials&scope=api_access",
		},
		"saas security several scopes": {
			params: Params{ //nolint:gosec // G101: made-up test credentials
				Provider: PaloAltoSaaSSecurity, TokenURL: "https://api.aperture-eu.paloaltonetworks.com/oauth/token", Values: Values{"client_id": "acme", "client_secret": "acmesecret", "scope": "log_access incident_management"},
			},
			wantAuth: "Basic YWNtZTphY21lc2VjcmV0",
			wantBody: "grant_type=client_credentials&scope=log_access+incident_management",
		},
		"scm with the TSG id as scope": {
			params: Params{
				Provider: PaloAltoSCM, Values: Values{"client_id": "sa@1234567890.iam.panserviceaccount.com", "client_secret": "p:ss/w rd", "tsg_id": "1234567890"}, //nolint:gosec // G101: made-up test credentials
			},
			wantURL: "https://auth.apps.paloaltonetworks.com/am/oauth2/access_token",
			// curl -u sends the id and secret as they are.
			wantAuth: basic("sa@1234567890.iam.panserviceaccount.com", "p:ss/w rd"),
			wantBody: "grant_type=client_credentials&scope=tsg_id%3A1234567890",
		},
		"oracle casb JSON body": {
			params: Params{ //nolint:gosec // G101: made-up test credentials
				Provider: OracleCASB, TokenURL: "https://pod1.palerra.net/api/v1/token", Values: Values{"access_key": "BLHZKSBNTO7DIYRB3DRQ", "access_secret": "uQHUJdDrb08png%7K2guKbADYKnZKz05xke9LjTlEs"}, //nolint:gosec // G101: made-up test credentials
			},
			wantType: "application/json",
			wantBody: `{"accessKey":"BLHZKSBNTO7DIYRB3DRQ","accessSecret":"uQHUJdDrb08png%7K2guKbADYKnZKz05xke9LjTlEs"}`,
		},
		"bright pattern as the vendor documents it": {
			params: Params{ //nolint:gosec // G101: made-up test credentials
				Provider: BrightPattern, TokenURL: "https://example.com/configapi/v2/oauth/token", Values: Values{"client_id": "clientid", "client_secret": "qkDwDJlDfig2IpeuUZYKH1Wb8q1V0ju6sILxQQqhJ", "scope": "example.com"}, //nolint:gosec // G101: made-up test credentials
			},
			wantBody: "grant_type=client_credentials&client_id=clientid&client_secret=qkDwDJlDfig2IpeuUZYKH1Wb8q1V0ju6sILxQQqhJ&scope=example.com",
		},
		"bright pattern encodes the form": {
			params: Params{ //nolint:gosec // G101: made-up test credentials
				Provider: BrightPattern, TokenURL: "http://127.0.0.1:8443/configapi/v2/oauth/token", Values: Values{"client_id": "sheila.thomas", "client_secret": "a&b=c+d", "scope": "tenant.example.com"},
			},
			wantBody: "grant_type=client_credentials&client_id=sheila.thomas&client_secret=a%26b%3Dc%2Bd&scope=tenant.example.com",
		},
		"oauth2 basic encodes id and secret first (RFC 6749 2.3.1)": {
			params: Params{ //nolint:gosec // G101: made-up test credentials
				Provider: OAuth2, TokenURL: "https://idp.example.com/token", Values: Values{"token_endpoint_auth_method": AuthClientSecretBasic, "client_id": "my client", "client_secret": "p@ss:w/rd", "scope": "read write"},
			},
			wantAuth: basic("my+client", "p%40ss%3Aw%2Frd"),
			wantBody: "grant_type=client_credentials&scope=read+write",
		},
		"oauth2 basic is the default style and scope is optional": {
			params: Params{ //nolint:gosec // G101: made-up test credentials
				Provider: OAuth2, TokenURL: "https://idp.example.com/token", Values: Values{"client_id": "id", "client_secret": "secret"},
			},
			wantAuth: basic("id", "secret"),
			wantBody: "grant_type=client_credentials",
		},
		"oauth2 body style": {
			params: Params{ //nolint:gosec // G101: made-up test credentials
				Provider: OAuth2, TokenURL: "https://idp.example.com/token", Values: Values{"token_endpoint_auth_method": AuthClientSecretPost, "client_id": "my client", "client_secret": "p@ss:w/rd", "scope": "read"},
			},
			wantBody: "grant_type=client_credentials&client_id=my+client&client_secret=p%40ss%3Aw%2Frd&scope=read",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proto := protocolOf(tc.params.Provider)
			if proto == nil {
				t.Fatalf("no protocol %q", tc.params.Provider)
			}
			ctx := context.WithValue(context.Background(), ctxKey{}, "marker")
			req, err := proto.NewRequest(ctx, withDefaults(tc.params))
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			if req.Context().Value(ctxKey{}) != "marker" {
				t.Error("the request does not carry the caller's context")
			}
			if req.Method != http.MethodPost {
				t.Errorf("method = %s, want POST", req.Method)
			}
			wantURL, wantType := cmp.Or(tc.wantURL, tc.params.TokenURL), cmp.Or(tc.wantType, "application/x-www-form-urlencoded")
			if req.URL.String() != wantURL {
				t.Errorf("URL = %s, want %s", req.URL, wantURL)
			}
			if got := req.Header.Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type = %q, want %q", got, wantType)
			}
			if got := req.Header.Get("Accept"); got != "application/json" {
				t.Errorf("Accept = %q, want application/json", got)
			}
			if got := req.Header.Get("Authorization"); got != tc.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tc.wantAuth)
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tc.wantBody {
				t.Errorf("body = %s\nwant   %s", body, tc.wantBody)
			}
			if req.ContentLength != int64(len(tc.wantBody)) {
				t.Errorf("ContentLength = %d, want %d", req.ContentLength, len(tc.wantBody))
			}
			if req.GetBody == nil {
				t.Error("GetBody is nil: the body cannot be replayed for a retry")
			}
		})
	}
}

type ctxKey struct{}

// withDefaults is p with its provider's defaults filled in, as the engine
// stores every config.
func withDefaults(p Params) Params {
	d, _ := Describe(p.Provider)
	if p.TokenURL == "" {
		p.TokenURL = d.DefaultTokenURL
	}
	p.Values = cloneValues(p.Values)
	d.ApplyDefaults(p.Values)
	return p
}

func TestNewRequestConfigErrors(t *testing.T) {
	t.Parallel()
	const secret = "Sup3r-S3cret-value"
	cases := map[string]struct {
		params  Params
		wantMsg string
	}{
		"saas without secret": {
			params:  Params{Provider: PaloAltoSaaSSecurity, Values: Values{"client_id": "id"}},
			wantMsg: "client_secret is required",
		},
		"saas without id": {
			params:  Params{Provider: PaloAltoSaaSSecurity, Values: Values{"client_secret": secret}},
			wantMsg: "client_id is required",
		},
		"scm without tsg_id": {
			params:  Params{Provider: PaloAltoSCM, Values: Values{"client_id": "id", "client_secret": secret}},
			wantMsg: "tsg_id is required",
		},
		"oracle without token_url": {
			params:  Params{Provider: OracleCASB, Values: Values{"access_key": "k", "access_secret": secret}},
			wantMsg: "token_url is required",
		},
		"oracle without access_key": {
			params:  Params{Provider: OracleCASB, TokenURL: "https://pod.palerra.net/api/v1/token", Values: Values{"access_secret": secret}}, //nolint:gosec // G101: made-up test credentials
			wantMsg: "access_key is required",
		},
		"oracle without access_secret": {
			params:  Params{Provider: OracleCASB, TokenURL: "https://pod.palerra.net/api/v1/token", Values: Values{"access_key": "k"}}, //nolint:gosec // G101: made-up test credentials
			wantMsg: "access_secret is required",
		},
		"bright pattern without scope": {
			params:  Params{Provider: BrightPattern, TokenURL: "https://bp.example.com/configapi/v2/oauth/token", Values: Values{"client_id": "id", "client_secret": secret}}, //nolint:gosec // G101: made-up test credentials
			wantMsg: "scope is required",
		},
		"oauth2 without token_url": {
			params:  Params{Provider: OAuth2, Values: Values{"client_id": "id", "client_secret": secret}},
			wantMsg: "token_url is required",
		},
		"oauth2 unknown auth style": {
			params:  Params{Provider: OAuth2, TokenURL: "https://idp.example.com/token", Values: Values{"client_id": "id", "client_secret": secret, "token_endpoint_auth_method": "header"}}, //nolint:gosec // G101: made-up test credentials
			wantMsg: "token_endpoint_auth_method",
		},
		"token_url not http": {
			params:  Params{Provider: OAuth2, TokenURL: "ftp://idp.example.com/token", Values: Values{"client_id": "id", "client_secret": secret}}, //nolint:gosec // G101: made-up test credentials
			wantMsg: "absolute https://",
		},
		"token_url relative": {
			params:  Params{Provider: OAuth2, TokenURL: "/token", Values: Values{"client_id": "id", "client_secret": secret}},
			wantMsg: "absolute https://",
		},
		"token_url unparsable": {
			params:  Params{Provider: OAuth2, TokenURL: "https://idp.example.com:port/" + secret, Values: Values{"client_id": "id", "client_secret": secret}},
			wantMsg: "absolute https://",
		},
		"token_url with user info": {
			params:  Params{Provider: OAuth2, TokenURL: "https://user:" + secret + "@idp.example.com/token", Values: Values{"client_id": "id", "client_secret": secret}},
			wantMsg: "user info",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := checkParams(tc.params)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if pe.Kind != KindConfig || pe.Provider != tc.params.Provider {
				t.Errorf("kind, provider = %v, %q; want config, %q", pe.Kind, pe.Provider, tc.params.Provider)
			}
			if !strings.Contains(pe.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", pe.Error(), tc.wantMsg)
			}
			if strings.Contains(pe.Error(), secret) {
				t.Errorf("error %q contains the secret", pe.Error())
			}
		})
	}
}

func TestRequestedScope(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		params Params
		want   string
	}{
		"saas default":       {Params{Provider: PaloAltoSaaSSecurity, Values: Values{"scope": saasSecurityDescriptor.Default("scope")}}, "api_access"},
		"saas configured":    {Params{Provider: PaloAltoSaaSSecurity, Values: Values{"scope": "log_access"}}, "log_access"},
		"scm":                {Params{Provider: PaloAltoSCM, Values: Values{"tsg_id": "1234567890", "scope": "ignored"}}, "tsg_id:1234567890"},
		"bright pattern":     {Params{Provider: BrightPattern, Values: Values{"scope": "example.com"}}, "example.com"},
		"oauth2 without one": {Params{Provider: OAuth2}, ""},
		"oracle":             {Params{Provider: OracleCASB}, ""},
	}
	for name, tc := range cases {
		if got := tc.params.RequestedScope(); got != tc.want {
			t.Errorf("%s: RequestedScope() = %q, want %q", name, got, tc.want)
		}
	}
}
