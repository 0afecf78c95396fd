package provider

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTokenFieldsRefuseControlCharacters gives every response field that
// reaches a user a control character, a line separator or (for the access
// token) white space, and checks that the token is refused with an error
// that names the field and does not quote its value.
func TestTokenFieldsRefuseControlCharacters(t *testing.T) {
	t.Parallel()
	// field is a response field: its key in the body and its name in the
	// token.
	type field struct{ key, name string }
	oauth := func(extra ...string) (map[string]any, []field) {
		body := map[string]any{"access_token": "tok", "token_type": "Bearer", "expires_in": 900, "scope": "s"}
		fields := []field{{"access_token", "access_token"}, {"token_type", "token_type"}, {"scope", "scope"}}
		for _, k := range extra {
			body[k] = "v"
			fields = append(fields, field{k, k})
		}
		return body, fields
	}
	shapes := map[string]func() (map[string]any, []field){
		PaloAltoSaaSSecurity: func() (map[string]any, []field) { return oauth(extraNames(saasSecurityDescriptor)...) },
		PaloAltoSCM:          func() (map[string]any, []field) { return oauth() },
		BrightPattern:        func() (map[string]any, []field) { return oauth() },
		OAuth2:               func() (map[string]any, []field) { return oauth() },
		OracleCASB: func() (map[string]any, []field) {
			body := map[string]any{"accessToken": "tok", "tenantId": "tid", "expiresAt": testNow.Add(time.Hour).Format(time.RFC3339)}
			return body, []field{{"accessToken", "access_token"}, {"tenantId", "tenant_id"}}
		},
	}
	bad := map[string]string{
		"CR": "\r", "LF": "\n", "NUL": "\x00", "tab": "\t", "ESC": "\x1b", "DEL": "\x7f",
		"NEL (C1)": "\u0085", "CSI (C1)": "\u009b", "line separator": "\u2028", "paragraph separator": "\u2029",
	}
	if len(shapes) != len(Names()) {
		t.Fatalf("shapes cover %d providers of %d", len(shapes), len(Names()))
	}
	for provider, shape := range shapes {
		_, fields := shape()
		for _, f := range fields {
			chars := bad
			if f.name == "access_token" {
				chars = map[string]string{"space": " ", "no-break space": "\u00a0", "LF": "\n", "C1": "\u0085", "line separator": "\u2028"}
			}
			for cname, c := range chars {
				t.Run(provider+"/"+f.name+"/"+cname, func(t *testing.T) {
					t.Parallel()
					body, _ := shape()
					body[f.key] = "value" + c + "X-Injected: 1"
					raw, err := json.Marshal(body)
					if err != nil {
						t.Fatal(err)
					}
					_, err = protocolOf(provider).ParseResponse(testParams(provider, ""), &Response{StatusCode: 200, Header: http.Header{}, Body: raw}, testNow)
					pe := asError(t, err)
					if pe.Kind != KindResponse || !strings.Contains(pe.Message, f.name+" holds") {
						t.Errorf("error %v (kind %v) does not refuse %s", err, pe.Kind, f.name)
					}
					if strings.Contains(err.Error(), "value") || strings.Contains(err.Error(), "Injected") {
						t.Errorf("error quotes the value: %v", err)
					}
				})
			}
		}
		t.Run(provider+"/clean response accepted", func(t *testing.T) {
			t.Parallel()
			body, _ := shape()
			raw, _ := json.Marshal(body)
			if _, err := protocolOf(provider).ParseResponse(testParams(provider, ""), &Response{StatusCode: 200, Header: http.Header{}, Body: raw}, testNow); err != nil {
				t.Errorf("a clean response was refused: %v", err)
			}
		})
	}
}

// TestTokenFieldsRefuseEncodedEcho checks that a token response echoing the
// secret in a field, in an encoding only a decoding finds, is refused.
func TestTokenFieldsRefuseEncodedEcho(t *testing.T) {
	t.Parallel()
	p := testParams(PaloAltoSaaSSecurity, "")
	for name, encode := range map[string]func(string) string{
		"base64 in scope":      func(s string) string { return b64([]byte(s)) },
		"lowercase hex in jti": everyByte("%%%02x"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key := strings.Fields(name)[len(strings.Fields(name))-1]
			body, _ := json.Marshal(map[string]any{"access_token": "tok", "expires_in": 900, key: encode(testSecret)})
			_, err := protocolOf(p.Provider).ParseResponse(p, &Response{StatusCode: 200, Body: body}, testNow)
			if pe := asError(t, err); pe.Kind != KindResponse || !strings.Contains(pe.Message, "echoes a credential") {
				t.Errorf("error %v does not refuse the echo", err)
			}
		})
	}
}
