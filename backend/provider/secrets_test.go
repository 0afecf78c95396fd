package provider

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

// assertNoSecret fails the test if s holds any form of p's secrets.
func assertNoSecret(t *testing.T, what, s string, p Params) {
	t.Helper()
	testkit.AssertNoSecret(t, what, s, slices.Concat(testkit.SecretForms(p.Get(ClientID), p.Get(ClientSecret)), testkit.SecretForms("", p.Get(AccessSecret)))...)
}

// echoShapes are vendor responses that repeat the request back: its body
// and Authorization header, in every error shape the package understands.
var echoShapes = map[string]func(w http.ResponseWriter, echo string){
	"oauth2 400": func(w http.ResponseWriter, echo string) {
		reply(w, 400, `{"error":"invalid_request","error_description":`+jsonString(echo)+`}`)
	},
	"spring 401": func(w http.ResponseWriter, echo string) {
		reply(w, 401, `{"timestamp":"t","status":401,"error":"Unauthorized","message":`+jsonString(echo)+`}`)
	},
	"runtime-response in 200": func(w http.ResponseWriter, echo string) {
		reply(w, 200, `{"runtime-response":{"status":200,"message":`+jsonString(echo)+`}}`)
	},
	"oracle entity 500": func(w http.ResponseWriter, echo string) {
		reply(w, 500, `{"status":500,"entity":{"detail":`+jsonString(echo)+`},"metadata":{}}`)
	},
	"HTML 502": func(w http.ResponseWriter, echo string) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><body><pre>"+html.EscapeString(echo)+"</pre><!-- "+echo+" --></body></html>")
	},
	"plain 403": func(w http.ResponseWriter, echo string) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, echo)
	},
	"JSON without a message": func(w http.ResponseWriter, echo string) {
		reply(w, 418, `{"request":`+jsonString(echo)+`}`)
	},
	"token echoing the request": func(w http.ResponseWriter, echo string) {
		reply(w, 200, `{"access_token":`+jsonString(echo)+`,"accessToken":`+jsonString(echo)+`,"expires_in":60}`)
	},
	"expires_in echoing the request": func(w http.ResponseWriter, echo string) {
		reply(w, 200, `{"access_token":"t","accessToken":"t","expires_in":`+jsonString(echo)+`,"expiresAt":`+jsonString(echo)+`}`)
	},
	"redirect to the secret": func(w http.ResponseWriter, echo string) {
		w.Header().Set("Location", "/login/"+url.PathEscape(echo)+"?q="+url.QueryEscape(echo))
		w.WriteHeader(http.StatusFound)
	},
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestSecretsNeverInErrors drives every provider against a vendor that
// echoes the request (secrets included) in every error shape, and checks
// that no error carries a secret in any form.
func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	for _, provider := range Names() {
		for shape, respond := range echoShapes {
			t.Run(provider+"/"+shape, func(t *testing.T) {
				t.Parallel()
				v := newVendor(t, func(w http.ResponseWriter, r *http.Request, _ int) {
					body, _ := io.ReadAll(r.Body)
					decoded, _ := url.QueryUnescape(string(body))
					respond(w, string(body)+" | "+decoded+" | "+r.Header.Get("Authorization"))
				})
				opts := fastOptions()
				opts.RetryMax = -1
				p := testParams(provider, v.URL)
				_, err := newTestClient(t, opts).Fetch(fetchCtx(t), p)
				if err == nil {
					t.Fatal("Fetch succeeded against an echoing vendor")
				}
				pe := asError(t, err)
				assertNoSecret(t, "error", err.Error(), p)
				assertNoSecret(t, "code", pe.Code, p)
				assertNoSecret(t, "message", pe.Message, p)
			})
		}
	}
}

// TestSecretsNeverInParsedErrors feeds ParseResponse bodies that hold the
// secret in awkward forms.
func TestSecretsNeverInParsedErrors(t *testing.T) {
	t.Parallel()
	s := testSecret
	bodies := map[string]string{
		"raw":                   s,
		"JSON-escaped":          `{"message":"` + strings.ReplaceAll(jsonString(s), `"`, ``) + `"}`,
		"slash-escaped JSON":    `{"message":"` + strings.ReplaceAll(s, "/", `\/`) + `"}`,
		"HTML-escaped":          "<b>" + html.EscapeString(s) + "</b>",
		"split by a tag":        "<p>" + s[:5] + "<br/>" + s[5:] + "</p>",
		"split by a NUL":        s[:5] + "\x00" + s[5:],
		"split by a newline":    s[:5] + "\r\n" + s[5:],
		"entity-escaped tag":    s[:5] + "&lt;i&gt;" + s[5:],
		"at the excerpt cut":    strings.Repeat("x", maxExcerpt-5) + s,
		"long prefix and echo":  strings.Repeat("word ", 100) + s,
		"as the OAuth2 code":    `{"error":"` + s + `"}`,
		"as a nested message":   `{"entity":{"errors":[{"message":"` + s + `"}]}}`,
		"access secret":         `{"message":"` + testAccessSecret + `"}`,
		"access secret escaped": `{"message":"` + url.QueryEscape(testAccessSecret) + `"}`,
	}
	for _, provider := range Names() {
		for name, body := range bodies {
			for _, status := range []int{200, 400, 401, 503} {
				t.Run(provider+"/"+name+"/"+http.StatusText(status), func(t *testing.T) {
					t.Parallel()
					p := testParams(provider, "")
					p.Values[AccessSecret.Name] = testAccessSecret // both secrets, whatever the provider
					proto := protocolOf(provider)
					_, err := proto.ParseResponse(p, &Response{StatusCode: status, Body: []byte(body)}, testNow)
					if err == nil {
						t.Fatal("ParseResponse succeeded")
					}
					assertNoSecret(t, "error", err.Error(), p)
				})
			}
		}
	}
}
