package fakevendor

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testclock"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

func newTestClock() *testclock.Clock {
	return testclock.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
}

// demo returns the demo account of provider.
func demo(t testing.TB, provider string) Account {
	t.Helper()
	a, ok := DemoAccount(provider)
	if !ok {
		t.Fatalf("no demo account for %s", provider)
	}
	return a
}

// newDemoServer serves a Server with a test clock and the demo accounts.
func newDemoServer(t testing.TB, opts ...Option) (*TestServer, *testclock.Clock) {
	t.Helper()
	clk := newTestClock()
	s := New(append([]Option{WithClock(clk.Now)}, opts...)...)
	for _, a := range DemoAccounts() {
		if err := s.AddAccount(a); err != nil {
			t.Fatal(err)
		}
	}
	return Serve(t, s), clk
}

// req describes a token request in a test.
type req struct {
	method      string // POST if empty
	path        string
	contentType string
	body        string
	basicUser   string
	basicPass   string
	basic       bool
	header      map[string]string
}

// result is a response as a test sees it.
type result struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any // nil unless the body is a JSON object
}

func (r result) str(key string) string {
	s, _ := r.json[key].(string)
	return s
}

func do(t testing.TB, ts *TestServer, rq req) result {
	t.Helper()
	res, err := tryDo(ts, rq)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	return res
}

// newRequest is rq as an HTTP request to ts.
func newRequest(ctx context.Context, ts *TestServer, rq req) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, cmp.Or(rq.method, http.MethodPost), ts.URL+rq.path, strings.NewReader(rq.body))
	if err != nil {
		return nil, err
	}
	if rq.contentType != "" {
		r.Header.Set("Content-Type", rq.contentType)
	}
	if rq.basic {
		r.SetBasicAuth(rq.basicUser, rq.basicPass)
	}
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	return r, nil
}

func tryDo(ts *TestServer, rq req) (result, error) {
	r, err := newRequest(context.Background(), ts, rq)
	if err != nil {
		return result{}, err
	}
	resp, err := ts.Client().Do(r)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	res := result{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &res.json)
	return res, nil
}

// issue sends provider's good request, changed by each of change, and
// fails the test unless the answer is a success that carries a token.
func issue(t testing.TB, ts *TestServer, provider string, change ...func(*req)) result {
	t.Helper()
	rq := goodRequest(t, provider)
	for _, c := range change {
		c(&rq)
	}
	res := do(t, ts, rq)
	if res.status != successStatus(provider) || tokenOf(res) == "" {
		t.Fatalf("%s: status %d, body %s; want a token", provider, res.status, res.raw)
	}
	return res
}

// expectFields checks fields of a success body as JSON decodes them
// (numbers as float64); a nil value means the field must be absent.
func expectFields(t testing.TB, res result, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if got, has := res.json[k]; has != (w != nil) || got != w {
			t.Errorf("%s = %#v, want %#v; body %s", k, got, w, res.raw)
		}
	}
}

// expectInfo checks what Check says of the token of res: alive, and minted
// as want says (provider, account, scope, auth method and expiry).
func expectInfo(t testing.TB, ts *TestServer, res result, want TokenInfo) {
	t.Helper()
	info, ok := ts.Check(tokenOf(res))
	if !ok || info.Provider != want.Provider || info.Account != want.Account || info.Scope != want.Scope ||
		info.AuthMethod != want.AuthMethod || !info.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("Check = %+v, %t; want %+v", info, ok, want)
	}
}

// newFaultyServer is newDemoServer with faults f in force.
func newFaultyServer(t testing.TB, f Faults) (*TestServer, *testclock.Clock) {
	t.Helper()
	ts, clk := newDemoServer(t)
	setFaults(t, ts.Server, f)
	return ts, clk
}

// forEachProvider runs test as a parallel subtest for every provider.
func forEachProvider(t *testing.T, test func(t *testing.T, provider string)) {
	t.Helper()
	for _, p := range Providers() {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			test(t, p)
		})
	}
}

// form encodes key/value pairs in the given order.
func form(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// goodRequest returns a correct token request for the demo account of
// provider.
func goodRequest(t testing.TB, provider string) req {
	t.Helper()
	a := demo(t, provider)
	switch provider {
	case ProviderSaaSSecurity:
		return req{
			path: "/oauth/token", contentType: "application/x-www-form-urlencoded; charset=ISO-8859-1",
			body:  form("grant_type", "client_credentials", "scope", "api_access"),
			basic: true, basicUser: a.ClientID, basicPass: a.ClientSecret,
		}
	case ProviderSCM:
		return scmRequest(a, "1234567890")
	case ProviderOracleCASB:
		b, _ := json.Marshal(map[string]string{"accessKey": a.AccessKey, "accessSecret": a.AccessSecret})
		return req{path: "/api/v1/token", contentType: "application/json", body: string(b)}
	case ProviderBrightPattern:
		return req{
			path: "/configapi/v2/oauth/token", contentType: "application/x-www-form-urlencoded",
			body: form("grant_type", "client_credentials", "client_id", a.ClientID,
				"client_secret", a.ClientSecret, "scope", a.TenantHost),
		}
	case ProviderOAuth2:
		return req{
			path: "/oauth2/token", contentType: "application/x-www-form-urlencoded",
			body:  form("grant_type", "client_credentials", "scope", "read"),
			basic: true, basicUser: a.ClientID, basicPass: a.ClientSecret,
		}
	}
	t.Fatalf("unknown provider %s", provider)
	return req{}
}

// scmRequest returns a paloalto_scm token request of account a for a
// token scoped to tsg.
func scmRequest(a Account, tsg string) req {
	return req{
		path: "/am/oauth2/access_token", contentType: formType,
		body:  form("grant_type", "client_credentials", "scope", "tsg_id:"+tsg),
		basic: true, basicUser: a.ClientID, basicPass: a.ClientSecret,
	}
}

// tokenOf returns the access token in a success body.
func tokenOf(res result) string {
	if t := res.str("access_token"); t != "" {
		return t
	}
	return res.str("accessToken")
}

// successStatus is the success status of provider.
func successStatus(provider string) int {
	if provider == ProviderOracleCASB {
		return http.StatusCreated
	}
	return http.StatusOK
}

// secrets returns every secret of the demo accounts.
func secrets() []string {
	var out []string
	for _, a := range DemoAccounts() {
		out = append(out, a.ClientSecret+a.AccessSecret)
	}
	return out
}

// assertNoSecret fails if any demo secret appears in text.
func assertNoSecret(t testing.TB, what, text string) {
	t.Helper()
	testkit.AssertNoSecret(t, what, text, secrets()...)
}

// errorCode returns the error code of an error body in any vendor shape:
// the RFC 6749 error, Oracle's entity code, or "runtime-response".
func errorCode(res result) string {
	if c := res.str("error"); c != "" {
		return c
	}
	if e, ok := res.json["entity"].(map[string]any); ok {
		c, _ := e["code"].(string)
		return c
	}
	if _, ok := res.json["runtime-response"]; ok {
		return "runtime-response"
	}
	return ""
}

// errCase is a token request made wrong in one way.
type errCase struct {
	mutate func(r *req)
	status int
	code   string // as errorCode returns it
}

// runErrorCases runs each case against a fresh demo server and checks the
// status, the error code, that no token was issued and that no secret is
// echoed.
func runErrorCases(t *testing.T, provider string, cases map[string]errCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newDemoServer(t)
			rq := goodRequest(t, provider)
			tc.mutate(&rq)
			res := do(t, ts, rq)
			if res.status != tc.status {
				t.Errorf("status = %d, want %d; body %s", res.status, tc.status, res.raw)
			}
			if got := errorCode(res); got != tc.code {
				t.Errorf("error code = %q, want %q; body %s", got, tc.code, res.raw)
			}
			if tokenOf(res) != "" {
				t.Errorf("an error response carries a token: %s", res.raw)
			}
			if res.header.Get("Date") == "" {
				t.Error("no Date header")
			}
			assertNoSecret(t, "response body", string(res.raw))
			st := ts.Stats()
			if st.Successes != 0 || st.Failures != 1 || st.ByProvider[provider].Failures != 1 {
				t.Errorf("stats = %+v, want one failure of %s", st.Counts, provider)
			}
		})
	}
}
