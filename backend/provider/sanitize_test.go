package provider

import (
	"encoding/base64"
	"html"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	t.Parallel()
	r := Params{Values: Values{"client_id": "acme", "client_secret": "hunter2<x>&y z"}}.redactor() //nolint:gosec // G101: made-up test secret
	cases := map[string]struct {
		in, want string
	}{
		"plain":                     {in: "Bad credentials", want: "Bad credentials"},
		"tags and entities":         {in: "<p>Bad &amp; <b>worse</b></p>", want: "Bad & worse"},
		"escaped tags are stripped": {in: "&lt;script&gt;x", want: "x"},
		"script, style, comments":   {in: "a<script>var s='x';</script>b<style>p{}</style>c<!-- hidden -->d", want: "a b c d"},
		"whitespace folded":         {in: "  a\n\n\tb \r\n c  ", want: "a b c"},
		"control characters":        {in: "a\x00b\x1b[31mc\u202ed", want: "a b [31mc d"},
		"invalid UTF-8":             {in: "a\xffb", want: "a b"},
		"raw secret":                {in: "echo: hunter2<x>&y z!", want: "echo: [redacted]!"},
		"form-encoded secret":       {in: "client_secret=" + url.QueryEscape("hunter2<x>&y z"), want: "client_secret=[redacted]"},
		"path-encoded secret":       {in: "/x/" + url.PathEscape("hunter2<x>&y z"), want: "/x/[redacted]"},
		"HTML-escaped secret":       {in: "<td>" + html.EscapeString("hunter2<x>&y z") + "</td>", want: "[redacted]"},
		"JSON-escaped secret":       {in: `"hunter2\u003cx\u003e\u0026y z"`, want: `"[redacted]"`},
		"Basic header echoed": {
			in:   "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("acme:hunter2<x>&y z")),
			want: "Authorization: Basic [redacted]",
		},
		"secret split by a tag": {in: "hunter2<x>&y<b></b> z", want: "hunter2 &y z"},
		"long text cut": {
			in:   strings.Repeat("word ", 100),
			want: strings.TrimSpace(strings.Repeat("word ", 40))[:197] + "...",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := sanitize(tc.in, r, maxExcerpt)
			if got != tc.want {
				t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if utf8.RuneCountInString(got) > maxExcerpt {
				t.Errorf("result has %d characters", utf8.RuneCountInString(got))
			}
		})
	}
}

func TestRedactorEdgeCases(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		params Params
		in     string
		secret string
	}{
		"secret made of the marker's characters": {params: Params{Values: Values{"client_secret": "]]"}}, in: "]]]]]", secret: "]]"},
		"secret inside the marker":               {params: Params{Values: Values{"client_secret": "dact"}}, in: "redactdact", secret: "dact"},
		"access secret":                          {params: Params{Values: Values{"access_secret": "k%7K2"}}, in: `{"accessSecret":"k%7K2"}`, secret: "k%7K2"},
		"both secrets":                           {params: Params{Values: Values{"client_secret": "aaa1", "access_secret": "bbb2"}}, in: "aaa1 bbb2", secret: "bbb2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := tc.params.redactor().redact(tc.in)
			if strings.Contains(got, tc.secret) {
				t.Errorf("redact(%q) = %q still holds %q", tc.in, got, tc.secret)
			}
		})
	}
	if got := newRedactor().redact("nothing to hide"); got != "nothing to hide" {
		t.Errorf("an empty secret redacted text: %q", got)
	}
}

func TestVendorDetail(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		body              string
		wantCode, wantMsg string
		wantJSON          bool
	}{
		"oauth2":               {body: `{"error":"invalid_client","error_description":"Client authentication failed"}`, wantCode: "invalid_client", wantMsg: "Client authentication failed", wantJSON: true},
		"oauth2 code only":     {body: `{"error":"invalid_request"}`, wantCode: "invalid_request", wantJSON: true},
		"spring":               {body: springUnauthorized, wantMsg: "Bad credentials", wantJSON: true},
		"spring reason only":   {body: `{"status":503,"error":"Service Unavailable"}`, wantMsg: "Service Unavailable", wantJSON: true},
		"runtime-response":     {body: oracleRuntimeFailure, wantMsg: "No existing keys found for tenant", wantJSON: true},
		"oracle nested entity": {body: `{"status":400,"entity":{"a":{"b":[{"detail":"deep"}]}},"metadata":{}}`, wantMsg: "deep", wantJSON: true},
		"outermost wins":       {body: `{"message":"outer","entity":{"message":"inner"}}`, wantMsg: "outer", wantJSON: true},
		"preferred key wins":   {body: `{"message":"m","error_description":"d"}`, wantMsg: "d", wantJSON: true},
		"key case ignored":     {body: `{"Message":"M"}`, wantMsg: "M", wantJSON: true},
		"blank message skipped": {
			body: `{"message":" ","entity":{"reason":"r"}}`, wantMsg: "r", wantJSON: true,
		},
		"too deep": {
			body: `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"message":"hidden"}}}}}}}}`, wantJSON: true,
		},
		"trailing comma":     {body: `{"message":"m",}`, wantMsg: "m", wantJSON: true},
		"no message":         {body: `{"status":500}`, wantJSON: true},
		"JSON string":        {body: `"just text"`, wantJSON: true},
		"HTML":               {body: `<html>oops</html>`},
		"two JSON values":    {body: `{"message":"a"}{"message":"b"}`},
		"text after JSON":    {body: `{"message":"a"} <html>`},
		"empty":              {body: ``},
		"number error field": {body: `{"error":500,"message":"m"}`, wantMsg: "m", wantJSON: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, msg, isJSON := vendorDetail([]byte(tc.body))
			if code != tc.wantCode || msg != tc.wantMsg || isJSON != tc.wantJSON {
				t.Errorf("vendorDetail = %q, %q, %v; want %q, %q, %v", code, msg, isJSON, tc.wantCode, tc.wantMsg, tc.wantJSON)
			}
		})
	}
}

func TestStripTrailingCommas(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, want string }{
		"object":             {in: `{"a":1,}`, want: `{"a":1}`},
		"object with spaces": {in: "{\"a\":\"1\",\n}", want: "{\"a\":\"1\"\n}"},
		"array":              {in: `[1,2, ]`, want: `[1,2 ]`},
		"nested":             {in: `{"a":[1,],"b":{"c":2,},}`, want: `{"a":[1],"b":{"c":2}}`},
		"inside a string":    {in: `{"a":",}"}`, want: `{"a":",}"}`},
		"escaped quote":      {in: `{"a":"\",}",}`, want: `{"a":"\",}"}`},
		"ordinary commas":    {in: `{"a":1,"b":2}`, want: `{"a":1,"b":2}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := string(stripTrailingCommas([]byte(tc.in))); got != tc.want {
				t.Errorf("stripTrailingCommas(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		status int
		code   string
		want   Kind
	}{
		"400":                      {status: 400, want: KindRequest},
		"400 invalid_client":       {status: 400, code: "invalid_client", want: KindCredentials},
		"400 unauthorized_client":  {status: 400, code: "unauthorized_client", want: KindCredentials},
		"400 invalid_scope":        {status: 400, code: "invalid_scope", want: KindRequest},
		"401":                      {status: 401, want: KindCredentials},
		"403":                      {status: 403, want: KindCredentials},
		"404":                      {status: 404, want: KindRequest},
		"408":                      {status: 408, want: KindTransient},
		"409":                      {status: 409, want: KindRequest},
		"429":                      {status: 429, want: KindTransient},
		"500":                      {status: 500, want: KindTransient},
		"503":                      {status: 503, want: KindTransient},
		"599":                      {status: 599, want: KindTransient},
		"302":                      {status: 302, want: KindRequest},
		"200 without a token":      {status: 200, want: KindRequest},
		"100":                      {status: 100, want: KindResponse},
		"600":                      {status: 600, want: KindResponse},
		"503 invalid_client":       {status: 503, code: "invalid_client", want: KindCredentials},
		"invalid_client code case": {status: 400, code: "Invalid_Client", want: KindRequest},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := classify(tc.status, tc.code); got != tc.want {
				t.Errorf("classify(%d, %q) = %v, want %v", tc.status, tc.code, got, tc.want)
			}
		})
	}
}
