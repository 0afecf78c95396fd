package fakevendor

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestOracleSuccess(t *testing.T) {
	t.Parallel()
	ts, clk := newDemoServer(t)
	clk.Advance(500 * time.Millisecond) // expiresAt is whole seconds
	res := issue(t, ts, ProviderOracleCASB)
	want := clk.Now().Add(time.Hour).Truncate(time.Second)
	// Oracle CASB sends accessToken, not access_token.
	expectFields(t, res, map[string]any{
		"tenantId": "00000000-demo-0000-0000-000000000001", "expiresAt": want.Format("2006-01-02T15:04:05Z"), "access_token": nil,
	})
	if tok := res.str("accessToken"); !strings.HasPrefix(tok, "fake-casb-") {
		t.Errorf("accessToken = %q", tok)
	}
	expectInfo(t, ts, res, TokenInfo{Provider: ProviderOracleCASB, Account: "DEMOACCESSKEY0000001", ExpiresAt: want})
}

func TestOracleTenantIDDefault(t *testing.T) {
	t.Parallel()
	// The vendor document's example credentials.
	documented := Account{Provider: ProviderOracleCASB, AccessKey: "BLHZKSBNTO7DIYRB3DRQ", AccessSecret: "uQHUJdDrb08png%7K2guKbADYKnZKz05xke9LjTlEs"} //nolint:gosec // G101: from the vendor's page
	ts := NewTestServer(t, documented)
	res := do(t, ts, req{
		path: "/api/v1/token", contentType: "application/json; charset=utf-8",
		body: `{"accessKey": "BLHZKSBNTO7DIYRB3DRQ", "accessSecret": "uQHUJdDrb08png%7K2guKbADYKnZKz05xke9LjTlEs"}`,
	})
	if res.status != http.StatusCreated || res.str("tenantId") != "abcdefgh-1234-ijkl-5678-mnopqrstuvwx" {
		t.Errorf("status %d, body %s", res.status, res.raw)
	}
}

// An unknown access key gets the vendor document's failure example: a 200 without a
// token.
func TestOracleUnknownKeyRuntimeResponse(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	res := do(t, ts, req{
		path: "/api/v1/token", contentType: "application/json",
		body: `{"accessKey":"UNKNOWNKEY","accessSecret":"whatever"}`,
	})
	want := `{"runtime-response":{"action-arg":[{"name":"accessKey"}],"message":"No existing keys found for tenant","status":200}}`
	if res.status != http.StatusOK || string(res.raw) != want {
		t.Errorf("status %d, body %s; want 200 %s", res.status, res.raw, want)
	}
	st := ts.Stats()
	if st.Failures != 1 || st.ByAccount["UNKNOWNKEY"].Failures != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestOracleUnknownKeyStatus(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t, WithOracleUnknownKeyStatus(http.StatusNotFound))
	res := do(t, ts, req{
		path: "/api/v1/token", contentType: "application/json",
		body: `{"accessKey":"UNKNOWNKEY","accessSecret":"whatever"}`,
	})
	if res.status != http.StatusNotFound || res.json["status"] != float64(404) || errorCode(res) != "NOT_FOUND" {
		t.Errorf("status %d, body %s", res.status, res.raw)
	}
	if _, ok := res.json["metadata"].(map[string]any); !ok {
		t.Errorf("no metadata object: %s", res.raw)
	}
}

func TestOracleErrors(t *testing.T) {
	t.Parallel()
	body := func(b string) func(r *req) { return func(r *req) { r.body = b } }
	runErrorCases(t, ProviderOracleCASB, map[string]errCase{
		"GET":                {func(r *req) { r.method = http.MethodGet }, 405, "METHOD_NOT_ALLOWED"},
		"form content type":  {func(r *req) { r.contentType = "application/x-www-form-urlencoded" }, 400, "BAD_REQUEST"},
		"no content type":    {func(r *req) { r.contentType = "" }, 400, "BAD_REQUEST"},
		"Basic auth":         {func(r *req) { r.basic, r.basicUser, r.basicPass = true, "DEMOACCESSKEY0000001", "x" }, 400, "BAD_REQUEST"},
		"Bearer header":      {func(r *req) { r.header = map[string]string{"Authorization": "Bearer x"} }, 400, "BAD_REQUEST"},
		"not JSON":           {body("accessKey=DEMOACCESSKEY0000001"), 400, "BAD_REQUEST"},
		"array":              {body(`[{"accessKey":"DEMOACCESSKEY0000001","accessSecret":"demo-oracle-secret-not-real"}]`), 400, "BAD_REQUEST"},
		"unquoted secret":    {body(`{"accessKey":"DEMOACCESSKEY0000001","accessSecret":demo}`), 400, "BAD_REQUEST"},
		"snake case fields":  {body(`{"access_key":"DEMOACCESSKEY0000001","access_secret":"demo-oracle-secret-not-real"}`), 400, "BAD_REQUEST"},
		"extra field":        {body(`{"accessKey":"DEMOACCESSKEY0000001","accessSecret":"demo-oracle-secret-not-real","tenant":"x"}`), 400, "BAD_REQUEST"},
		"missing secret":     {body(`{"accessKey":"DEMOACCESSKEY0000001"}`), 400, "BAD_REQUEST"},
		"empty key":          {body(`{"accessKey":"","accessSecret":"demo-oracle-secret-not-real"}`), 400, "BAD_REQUEST"},
		"number secret":      {body(`{"accessKey":"DEMOACCESSKEY0000001","accessSecret":12}`), 400, "BAD_REQUEST"},
		"trailing data":      {body(`{"accessKey":"DEMOACCESSKEY0000001","accessSecret":"demo-oracle-secret-not-real"} {}`), 400, "BAD_REQUEST"},
		"wrong secret":       {body(`{"accessKey":"DEMOACCESSKEY0000001","accessSecret":"nope"}`), 401, "UNAUTHORIZED"},
		"unknown key":        {body(`{"accessKey":"NOPE","accessSecret":"demo-oracle-secret-not-real"}`), 200, "runtime-response"},
		"accessKey in query": {func(r *req) { r.path += "?accessKey=DEMOACCESSKEY0000001" }, 400, "BAD_REQUEST"},
	})
}
