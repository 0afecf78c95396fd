package provider

import (
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	t.Parallel()
	r := newRedactor("hunter2<x>&y z")
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
			want: echoMark,
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
		secrets []string
		in      string
		secret  string
	}{
		"secret made of the marker's characters": {secrets: []string{"]]"}, in: "]]]]]", secret: "]]"},
		"secret inside the marker":               {secrets: []string{"dact"}, in: "redactdact", secret: "dact"},
		"access secret":                          {secrets: []string{"k%7K2"}, in: `{"accessSecret":"k%7K2"}`, secret: "k%7K2"},
		"both secrets":                           {secrets: []string{"aaa1", "bbb2"}, in: "aaa1 bbb2", secret: "bbb2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := newRedactor(tc.secrets...).redact(tc.in)
			if strings.Contains(got, tc.secret) {
				t.Errorf("redact(%q) = %q still holds %q", tc.in, got, tc.secret)
			}
		})
	}
	if got := newRedactor("", "").redact("nothing to hide"); got != "nothing to hide" {
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

// echoSecrets are secrets with the characters encoders treat specially.
var echoSecrets = map[string]string{
	"spaces":           "pass word with spaces",
	"slash plus equal": "a/b+c=d/e+f==",
	"percent":          "100%pure%7Kx%41",
	"quotes":           `say "hi" it's`,
	"non-ASCII":        "pässwörd ✓",
	"surrogate pairs":  "key🔑lock🔒",
	"8 bytes":          "x8Y!q2#z",
	"test secret":      testSecret,
}

// everyRune writes each character of s with format (for its code point).
func everyRune(format string) func(string) string {
	return func(s string) string {
		var b strings.Builder
		for _, c := range s {
			fmt.Fprintf(&b, format, c)
		}
		return b.String()
	}
}

// everyByte writes each byte of s with format.
func everyByte(format string) func(string) string {
	return func(s string) string {
		var b strings.Builder
		for i := range len(s) {
			fmt.Fprintf(&b, format, s[i])
		}
		return b.String()
	}
}

// jsonUnicode writes every character of s as \u escapes, surrogate pairs
// for those outside the BMP.
func jsonUnicode(format string) func(string) string {
	return func(s string) string {
		var b strings.Builder
		for _, u := range utf16.Encode([]rune(s)) {
			fmt.Fprintf(&b, format, u)
		}
		return b.String()
	}
}

// namedEntities spells some characters as HTML named entities.
var namedEntities = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;", "/", "&sol;", "+", "&plus;",
	"=", "&equals;", "%", "&percnt;", "!", "&excl;", "#", "&num;", "ä", "&auml;", "ö", "&ouml;", "✓", "&check;",
)

var (
	b64    = base64.StdEncoding.EncodeToString
	b64url = base64.URLEncoding.EncodeToString
	// lowerHexRe matches a percent escape, to write it in lowercase.
	lowerHexRe = regexp.MustCompile(`%[0-9A-F]{2}`)
)

// echoEncodings are the forms in which a vendor may echo a secret.
var echoEncodings = map[string]func(string) string{
	"raw":                     func(s string) string { return s },
	"form-encoded":            url.QueryEscape,
	"path-encoded (%20)":      url.PathEscape,
	"form, lowercase hex":     func(s string) string { return lowerHexRe.ReplaceAllStringFunc(url.QueryEscape(s), strings.ToLower) },
	"every byte, uppercase":   everyByte("%%%02X"),
	"every byte, lowercase":   everyByte("%%%02x"),
	"spaces as + only":        func(s string) string { return strings.ReplaceAll(s, " ", "+") },
	"base64":                  func(s string) string { return b64([]byte(s)) },
	"base64 unpadded":         func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) },
	"base64url":               func(s string) string { return b64url([]byte(s)) },
	"base64url unpadded":      func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
	"base64, offset 1":        func(s string) string { return b64([]byte("x" + s + "yz")) },
	"base64url, offset 2":     func(s string) string { return b64url([]byte("xy" + s)) },
	"base64 after 1 char":     func(s string) string { return "Q" + b64([]byte(s)) },
	"base64 after 3 chars":    func(s string) string { return "Zm9" + b64([]byte(s)) },
	"base64, form-encoded":    func(s string) string { return url.QueryEscape(b64([]byte(s))) },
	"Basic header":            func(s string) string { return "Basic " + b64([]byte("acme:"+s)) },
	"Basic header, RFC 6749":  func(s string) string { return "Basic " + b64([]byte("acme:"+url.QueryEscape(s))) },
	"JSON-escaped":            func(s string) string { j := jsonString(s); return j[1 : len(j)-1] },
	`JSON \/`:                 func(s string) string { return strings.ReplaceAll(s, "/", `\/`) },
	`JSON \u, lowercase`:      jsonUnicode(`\u%04x`),
	`JSON \u, uppercase`:      jsonUnicode(`\u%04X`),
	"HTML-escaped":            html.EscapeString,
	"HTML named entities":     namedEntities.Replace,
	"HTML decimal":            everyRune("&#%d;"),
	"HTML hex":                everyRune("&#x%x;"),
	"HTML decimal, escaped":   func(s string) string { return html.EscapeString(everyRune("&#%d;")(s)) },
	"after a stray %":         func(s string) string { return "%" + everyByte("%%%02x")(s) },
	`after a stray backslash`: func(s string) string { return `\` + jsonUnicode(`\u%04x`)(s) },
}

// echoContexts put an encoded secret into a vendor text.
var echoContexts = map[string]func(form string) string{
	"in a sentence": func(form string) string { return "client_secret " + form + " is not valid" },
	"in a truncated JSON body": func(form string) string {
		return `{"error":"invalid_client","error_description":"bad secret ` + form + `; try ag`
	},
	"across the cut": func(form string) string {
		return strings.Repeat("z ", maxExcerpt/2-4) + form + " and more text after it"
	},
}

// assertNoEcho fails the test if out shows secret, or half or more of the
// form it was sent in (or of that form with HTML entities decoded), or if
// any decoding of out holds the secret.
func assertNoEcho(t *testing.T, out, secret, form string) {
	t.Helper()
	if strings.Contains(out, secret) {
		t.Fatalf("output shows the secret: %q", out)
	}
	for _, f := range []string{form, html.UnescapeString(form)} { // sanitize unescapes HTML once
		n := max(6, len(f)/2)
		for i := 0; i+n <= len(f); i++ {
			if strings.Contains(out, f[i:i+n]) {
				t.Fatalf("output shows %q of the form %q: %q", f[i:i+n], f, out)
			}
		}
	}
	if newRedactor(secret).echoes(out) {
		t.Fatalf("a decoding of the output holds the secret: %q", out)
	}
}

// TestSanitizeEncodings echoes each secret in each encoding in each context
// and checks that sanitize shows none of it.
func TestSanitizeEncodings(t *testing.T) {
	t.Parallel()
	for sname, secret := range echoSecrets {
		r := newRedactor(secret, testAccessSecret)
		for ename, encode := range echoEncodings {
			form := encode(secret)
			for cname, context := range echoContexts {
				t.Run(sname+"/"+ename+"/"+cname, func(t *testing.T) {
					t.Parallel()
					out := sanitize(context(form), r, maxExcerpt)
					assertNoEcho(t, out, secret, form)
					if utf8.RuneCountInString(out) > maxExcerpt {
						t.Errorf("result has %d characters", utf8.RuneCountInString(out))
					}
				})
			}
		}
	}
}

// TestSanitizeKeepsVendorText checks that text without a secret is shown as
// it is, whatever the secrets look like.
func TestSanitizeKeepsVendorText(t *testing.T) {
	t.Parallel()
	secrets := []string{testSecret, testAccessSecret}
	for _, s := range echoSecrets {
		secrets = append(secrets, s)
	}
	r := newRedactor(secrets...)
	cases := map[string]string{
		"oauth2 code and description":  "invalid_client: Client authentication failed",
		"spring":                       "Bad credentials",
		"oracle":                       "No existing keys found for tenant",
		"RFC 6749 invalid_request":     "The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.",
		"JWT":                          "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl expired",
		"form body without the secret": "grant_type=client_credentials&client_id=acme&scope=tsg_id%3A1234567890",
		"ids and escapes":              `request d66abfad-8c3c-40d1-8c1f-91cc0e1931f1 failed: \u0041 %41 &amp;#65; Zm9vYmFy`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got, want := sanitize(in, r, maxExcerpt), html.UnescapeString(in); got != want {
				t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
			}
		})
	}
	// A long text is cut, not hidden, and an echo far past the cut is not
	// looked at. The cut may end a few characters early (see
	// TestSanitizeCut).
	long := strings.Repeat("Client authentication failed. ", 100)
	for _, in := range []string{long, long + b64([]byte(testSecret))} {
		got := sanitize(in, r, maxExcerpt)
		if n := utf8.RuneCountInString(got); !strings.HasPrefix(in, strings.TrimSuffix(got, "...")) || n < maxExcerpt-5 {
			t.Errorf("sanitize(long text) = %q", got)
		}
	}
}

// TestSanitizeCut checks that a cut never leaves the start of a secret in
// view, and that a mark that does not fit the limit is shortened.
func TestSanitizeCut(t *testing.T) {
	t.Parallel()
	r := newRedactor(testSecret)
	cases := map[string]struct {
		in    string
		limit int
		want  string
	}{
		"secret start at the cut is dropped": {
			in: strings.Repeat("x", maxExcerpt-6) + testSecret[:5] + " more words", limit: maxExcerpt,
			want: strings.Repeat("x", maxExcerpt-6) + "...",
		},
		"secret across the cut is redacted first": {
			in: strings.Repeat("x", maxExcerpt-6) + testSecret, limit: maxExcerpt,
			want: strings.Repeat("x", maxExcerpt-6) + "[re...",
		},
		"encoded secret across the cut hides the text": {
			in: strings.Repeat("x", maxExcerpt-6) + " " + b64([]byte(testSecret)), limit: maxExcerpt,
			want: echoMark,
		},
		"mark longer than the limit": {in: b64([]byte(testSecret)), limit: 20, want: redactedMark},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := sanitize(tc.in, r, tc.limit); got != tc.want {
				t.Errorf("sanitize = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFetchEchoesNoEncodedSecret runs Client.Fetch against a vendor that
// answers 400 or 401 with the received client secret echoed in each
// encoding, as a JSON message, in a truncated JSON body and as plain text.
func TestFetchEchoesNoEncodedSecret(t *testing.T) {
	t.Parallel()
	shapes := map[string]func(w http.ResponseWriter, status int, form string){
		"JSON message": func(w http.ResponseWriter, status int, form string) {
			reply(w, status, `{"error":"invalid_client","error_description":`+jsonString("bad secret "+form)+`}`)
		},
		"truncated JSON": func(w http.ResponseWriter, status int, form string) {
			reply(w, status, `{"error":"invalid_client","error_description":"bad secret `+form)
		},
		"plain text": func(w http.ResponseWriter, status int, form string) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "bad secret "+form)
		},
	}
	// The path says how to answer: /<status>/<shape>/<encoding>.
	v := newVendor(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
		status, _ := strconv.Atoi(parts[0])
		shapes[parts[1]](w, status, echoEncodings[parts[2]](r.PostFormValue("client_secret")))
	})
	c := newTestClient(t, ClientOptions{RetryMax: -1})
	for sname, secret := range echoSecrets {
		for ename := range echoEncodings {
			for shape := range shapes {
				for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized} {
					t.Run(fmt.Sprintf("%s/%s/%s/%d", sname, ename, shape, status), func(t *testing.T) {
						t.Parallel()
						p := Params{
							Provider:   OAuth2,
							TokenURL:   fmt.Sprintf("%s/%d/%s/%s", v.URL, status, url.PathEscape(shape), url.PathEscape(ename)),
							DefaultTTL: time.Minute, Values: Values{"client_id": "acme", "client_secret": secret, "token_endpoint_auth_method": AuthClientSecretPost},
						}
						_, err := c.Fetch(fetchCtx(t), p)
						pe := asError(t, err)
						if pe.StatusCode != status {
							t.Fatalf("error %v has status %d", err, pe.StatusCode)
						}
						assertNoEcho(t, err.Error(), secret, echoEncodings[ename](secret))
					})
				}
			}
		}
	}
}

// TestStatusErrorQuotesOnlyBodiesWithoutFields checks that an error body
// whose fields say what went wrong is not quoted, and one without them is.
func TestStatusErrorQuotesOnlyBodiesWithoutFields(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		body   string
		want   string
		quoted bool
	}{
		"error and error_description": {body: `{"error":"invalid_client","error_description":"Client authentication failed","debug":"BODY"}`, want: "invalid_client: Client authentication failed"},
		"error code only":             {body: `{"error":"invalid_request","debug":"BODY"}`, want: "invalid_request"},
		"error as a reason phrase":    {body: `{"status":401,"error":"Unauthorized","debug":"BODY"}`, want: "Unauthorized"},
		"message":                     {body: `{"message":"Bad credentials","debug":"BODY"}`, want: "Bad credentials"},
		"_errors[].message":           {body: `{"_errors":[{"code":"E016","message":"Invalid credentials"}],"debug":"BODY"}`, want: "Invalid credentials"},
		"none of them":                {body: `{"debug":"BODY"}`, want: `{"debug":"BODY"}`, quoted: true},
		"not JSON":                    {body: `BODY: gateway said no`, want: "BODY: gateway said no", quoted: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := testParams(OAuth2, "")
			_, err := protocolOf(OAuth2).ParseResponse(p, &Response{StatusCode: 400, Body: []byte(tc.body)}, testNow)
			msg := asError(t, err).Error()
			if !strings.HasSuffix(msg, ": "+tc.want) || strings.Contains(msg, "BODY") != tc.quoted {
				t.Errorf("error %q; want it to end in %q, quoting the body: %v", msg, tc.want, tc.quoted)
			}
		})
	}
}
