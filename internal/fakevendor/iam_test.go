package fakevendor

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testclock"
)

// childSA is a service account of a child TSG of the demo SCM account's.
var childSA = Account{
	Provider: ProviderSCM, ClientID: "child-sa@1234567891.iam.panserviceaccount.com",
	ClientSecret: "child-secret-not-real", TSGIDs: []string{"1234567891"},
}

// iamEnv is the demo server plus childSA.
func iamEnv(t *testing.T) (*TestServer, *testclock.Clock) {
	t.Helper()
	ts, clk := newDemoServer(t)
	if err := ts.AddAccount(childSA); err != nil {
		t.Fatal(err)
	}
	return ts, clk
}

// scmTokenFor mints a token for account a scoped to tsg.
func scmTokenFor(t *testing.T, ts *TestServer, a Account, tsg string) string {
	t.Helper()
	res := do(t, ts, scmRequest(a, tsg))
	if res.status != http.StatusOK {
		t.Fatalf("token for %v: %d %s", a, res.status, res.raw)
	}
	return tokenOf(res)
}

func iamCall(t *testing.T, ts *TestServer, method, path, token string) result {
	t.Helper()
	rq := req{method: method, path: path}
	if token != "" {
		rq.header = map[string]string{"Authorization": "Bearer " + token}
	}
	return do(t, ts, rq)
}

// scmErrorCode is the code of the first error of an SCM API error body.
func scmErrorCode(t *testing.T, res result) string {
	t.Helper()
	var body struct {
		Errors []struct {
			Code, Message string
		} `json:"_errors"`
		RequestID string `json:"_request_id"`
	}
	if err := json.Unmarshal(res.raw, &body); err != nil || len(body.Errors) != 1 || body.RequestID == "" || body.Errors[0].Message == "" {
		t.Fatalf("not an SCM API error body: %s", res.raw)
	}
	return body.Errors[0].Code
}

func resetPath(a Account) string { return iamPrefix + "/" + ServiceAccountID(a) + "/operations/reset" }

// iamWithToken is iamEnv with the demo SCM account and a token of its own
// TSG.
func iamWithToken(t *testing.T) (ts *TestServer, parent Account, tok string) {
	t.Helper()
	ts, _ = iamEnv(t)
	parent = demo(t, ProviderSCM)
	return ts, parent, scmTokenFor(t, ts, parent, "1234567890")
}

func TestIAMListGetAndReset(t *testing.T) {
	t.Parallel()
	ts, parent, tok := iamWithToken(t)

	res := iamCall(t, ts, http.MethodGet, iamPrefix, tok)
	var list []ServiceAccount
	if res.status != http.StatusOK || json.Unmarshal(res.raw, &list) != nil || len(list) != 2 {
		t.Fatalf("list: %d %s", res.status, res.raw)
	}
	if list[0].ClientID != childSA.ClientID || list[1].ClientID != parent.ClientID || list[1].Name != "wildfire-sa" ||
		list[1].TSGID != "1234567890" || list[1].ID != ServiceAccountID(parent) {
		t.Errorf("list = %+v", list)
	}
	if strings.Contains(string(res.raw), "secret") {
		t.Errorf("the list shows a secret field: %s", res.raw)
	}
	if res := iamCall(t, ts, http.MethodGet, iamPrefix+"/"+ServiceAccountID(parent), tok); res.status != http.StatusOK || res.str("client_id") != parent.ClientID {
		t.Errorf("get: %d %s", res.status, res.raw)
	}

	res = iamCall(t, ts, http.MethodPost, resetPath(parent), tok)
	if res.status != http.StatusCreated || res.str("id") != ServiceAccountID(parent) || !strings.HasPrefix(res.str("client_secret"), "fake-scm-secret-") {
		t.Fatalf("reset: %d %s", res.status, res.raw)
	}
	// The old secret stops at once; the new one works; the token used for
	// the reset stays valid.
	old := goodRequest(t, ProviderSCM)
	if r := do(t, ts, old); r.status != http.StatusUnauthorized {
		t.Errorf("the old secret after a reset: %d", r.status)
	}
	parent.ClientSecret = res.str("client_secret")
	scmTokenFor(t, ts, parent, "1234567890")
	if _, ok := ts.Check(tok); !ok {
		t.Error("the reset ended a token already issued")
	}
	accts := ts.IAMAccounts()
	if len(accts) != 2 || accts[1].Resets != 1 || accts[0].Resets != 0 || accts[1].LastResetAt.IsZero() {
		t.Errorf("IAMAccounts = %+v", accts)
	}
}

func TestIAMRefusals(t *testing.T) {
	t.Parallel()
	ts, clk := iamEnv(t)
	parent := demo(t, ProviderSCM)
	parentTok := scmTokenFor(t, ts, parent, "1234567890")
	childTok := scmTokenFor(t, ts, childSA, "1234567891")
	saasTok := tokenOf(do(t, ts, goodRequest(t, ProviderSaaSSecurity)))
	for name, tc := range map[string]struct {
		method, path, token string
		status              int
		code                string
	}{
		"no token":                          {http.MethodGet, iamPrefix, "", 401, "E016"},
		"a token it did not issue":          {http.MethodGet, iamPrefix, "made-up", 401, "E016"},
		"another vendor's token":            {http.MethodGet, iamPrefix, saasTok, 401, "E016"},
		"a child TSG resetting its parent":  {http.MethodPost, resetPath(parent), childTok, 403, "E007"},
		"an unknown id":                     {http.MethodPost, iamPrefix + "/00000000-0000-4000-8000-000000000000/operations/reset", parentTok, 404, "E005"},
		"reset with GET":                    {http.MethodGet, resetPath(parent), parentTok, 405, "E003"},
		"list with POST":                    {http.MethodPost, iamPrefix, parentTok, 405, "E003"},
		"an unknown operation":              {http.MethodPost, iamPrefix + "/" + ServiceAccountID(parent) + "/operations/delete", parentTok, 404, "E005"},
		"a prefix that is not the resource": {http.MethodGet, iamPrefix + "x", parentTok, 404, "E005"},
	} {
		res := iamCall(t, ts, tc.method, tc.path, tc.token)
		if res.status != tc.status || scmErrorCode(t, res) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", name, res.status, res.raw, tc.status, tc.code)
		}
	}
	// The child's token lists only the child.
	var list []ServiceAccount
	if res := iamCall(t, ts, http.MethodGet, iamPrefix, childTok); json.Unmarshal(res.raw, &list) != nil || len(list) != 1 || list[0].ClientID != childSA.ClientID {
		t.Errorf("the child's list: %s", res.raw)
	}
	// An expired token.
	clk.Advance(DefaultLifetime(ProviderSCM) + time.Second)
	if res := iamCall(t, ts, http.MethodGet, iamPrefix, parentTok); res.status != 401 {
		t.Errorf("an expired token: %d", res.status)
	}
	if accts := ts.IAMAccounts(); accts[0].Resets+accts[1].Resets != 0 {
		t.Errorf("a refused request reset a secret: %+v", accts)
	}
}

// iamWithFaults is iamWithToken with faults set.
func iamWithFaults(t *testing.T, f IAMFaults) (ts *TestServer, parent Account, tok string) {
	t.Helper()
	ts, parent, tok = iamWithToken(t)
	if err := ts.SetIAMFaults(f); err != nil {
		t.Fatal(err)
	}
	return ts, parent, tok
}

// postReset resets a's secret with tok and returns the status, 0 if no
// answer came.
func postReset(ctx context.Context, ts *TestServer, a Account, tok string) (int, error) {
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+resetPath(a), nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := ts.Client().Do(r)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func TestIAMFaults(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		faults   IAMFaults
		status   int // 0: no answer
		resets   int
		oldWorks bool
	}{
		"refused":                      {IAMFaults{RefuseReset: true}, 403, 0, true},
		"5xx":                          {IAMFaults{FailResetNext: 1, FailStatus: 502}, 502, 0, true},
		"answer lost":                  {IAMFaults{LoseResetNext: 1}, 0, 1, false},
		"slow reset, client gives up":  {IAMFaults{ResetDelay: 5 * time.Second}, 0, 0, true},
		"slow answer, client gives up": {IAMFaults{AnswerDelay: 5 * time.Second}, 0, 1, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, parent, tok := iamWithFaults(t, tc.faults)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			status, err := postReset(ctx, ts, parent, tok)
			if status != tc.status {
				t.Errorf("status %d (%v), want %d", status, err, tc.status)
			}
			time.Sleep(50 * time.Millisecond) // the handler finishes after the client gave up
			if got := ts.IAMAccounts()[1].Resets; got != tc.resets {
				t.Errorf("resets = %d, want %d", got, tc.resets)
			}
			if got := do(t, ts, goodRequest(t, ProviderSCM)).status == http.StatusOK; got != tc.oldWorks {
				t.Errorf("the old secret works: %t, want %t", got, tc.oldWorks)
			}
		})
	}
}

func TestIAMOldSecretGrace(t *testing.T) {
	t.Parallel()
	ts, clk := iamEnv(t)
	parent := demo(t, ProviderSCM)
	if err := ts.SetIAMFaults(IAMFaults{OldSecretGrace: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if res := iamCall(t, ts, http.MethodPost, resetPath(parent), scmTokenFor(t, ts, parent, "1234567890")); res.status != http.StatusCreated {
		t.Fatalf("reset: %d", res.status)
	}
	if r := do(t, ts, goodRequest(t, ProviderSCM)); r.status != http.StatusOK {
		t.Errorf("the old secret inside its grace period: %d", r.status)
	}
	clk.Advance(10 * time.Second)
	if r := do(t, ts, goodRequest(t, ProviderSCM)); r.status != http.StatusUnauthorized {
		t.Errorf("the old secret after its grace period: %d", r.status)
	}
}

func TestIAMAdminAPI(t *testing.T) {
	t.Parallel()
	ts, _ := iamEnv(t)
	put := admin(t, ts, http.MethodPut, "/_fake/iam/faults",
		`{"refuse_reset":true,"fail_reset_next":2,"reset_delay":"1.5s","answer_delay":"2s","old_secret_grace":"3s","lose_reset_next":1,`+
			`"slow_reset_next":1,"reset_status":200,"reset_answer":"other_client_id"}`)
	want := IAMFaults{
		RefuseReset: true, FailResetNext: 2, ResetDelay: 1500 * time.Millisecond, AnswerDelay: 2 * time.Second, OldSecretGrace: 3 * time.Second,
		LoseResetNext: 1, SlowResetNext: 1, ResetStatus: 200, ResetAnswer: ResetAnswerOtherClientID,
	}
	if put.status != http.StatusOK || ts.IAMFaults() != want {
		t.Errorf("PUT: %d %s; faults %+v", put.status, put.raw, ts.IAMFaults())
	}
	for bad, field := range map[string]string{
		`{"fail_reset_next":-1}`: "fail_reset_next", `{"reset_delay":"soon"}`: "reset_delay", `{"fail_status":200}`: "fail_status",
		`{"nope":1}`: "nope", `{"slow_reset_next":-2}`: "slow_reset_next", `{"reset_status":204}`: "reset_status",
		`{"reset_answer":"xml"}`: "reset_answer",
	} {
		if r := admin(t, ts, http.MethodPut, "/_fake/iam/faults", bad); r.status != http.StatusBadRequest ||
			!strings.Contains(r.str("error"), field) {
			t.Errorf("PUT %s: %d %s", bad, r.status, r.raw)
		}
	}
	accts := admin(t, ts, http.MethodGet, "/_fake/iam/accounts", "")
	if accts.status != http.StatusOK || !strings.Contains(string(accts.raw), childSA.ClientID) {
		t.Errorf("GET accounts: %d %s", accts.status, accts.raw)
	}
	assertNoSecret(t, "the IAM accounts", string(accts.raw))
	if strings.Contains(string(accts.raw), childSA.ClientSecret) {
		t.Error("the IAM accounts show a secret")
	}
}

func TestIAMResetAnswers(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		faults      IAMFaults
		status      int
		contentType string
		secretOf    func(res result) string // the new secret the answer carries, "" if none
		clientID    string                  // the client id the answer names, if JSON
	}{
		"documented": {IAMFaults{}, 201, "application/json", func(r result) string { return r.str("client_secret") }, "wildfire-sa@1234567890.iam.panserviceaccount.com"},
		"200":        {IAMFaults{ResetStatus: 200}, 200, "application/json", func(r result) string { return r.str("client_secret") }, "wildfire-sa@1234567890.iam.panserviceaccount.com"},
		"202 text": {IAMFaults{ResetStatus: 202, ResetAnswer: ResetAnswerText}, 202, "text/plain", func(r result) string {
			s, _ := strings.CutPrefix(strings.TrimSpace(string(r.raw)), "client_secret=")
			return s
		}, ""},
		"no secret":       {IAMFaults{ResetAnswer: ResetAnswerNoSecret}, 201, "application/json", func(r result) string { return r.str("client_secret") }, "wildfire-sa@1234567890.iam.panserviceaccount.com"},
		"other client id": {IAMFaults{ResetAnswer: ResetAnswerOtherClientID}, 201, "application/json", func(r result) string { return r.str("client_secret") }, "not-wildfire-sa@1234567890.iam.panserviceaccount.com"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, parent, tok := iamWithFaults(t, tc.faults)
			res := iamCall(t, ts, http.MethodPost, resetPath(parent), tok)
			if res.status != tc.status || !strings.HasPrefix(res.header.Get("Content-Type"), tc.contentType) {
				t.Fatalf("%d %q %s", res.status, res.header.Get("Content-Type"), res.raw)
			}
			if tc.clientID != "" && (res.str("client_id") != tc.clientID || res.str("id") != ServiceAccountID(parent)) {
				t.Errorf("the answer names %s", res.raw)
			}
			// A real reset in every case: the old secret stops, and the
			// secret in the answer (if any) works.
			if r := do(t, ts, goodRequest(t, ProviderSCM)); r.status != http.StatusUnauthorized {
				t.Errorf("the old secret after the reset: %d", r.status)
			}
			if ts.IAMAccounts()[1].Resets != 1 {
				t.Errorf("IAMAccounts = %+v", ts.IAMAccounts())
			}
			secret := tc.secretOf(res)
			if (secret == "") != (tc.faults.ResetAnswer == ResetAnswerNoSecret) {
				t.Fatalf("secret %q in %s", secret, res.raw)
			}
			if secret != "" {
				parent.ClientSecret = secret
				scmTokenFor(t, ts, parent, "1234567890")
			}
		})
	}
}

func TestIAMSiblingInSameTSG(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	sibling := DemoSCMSibling()
	if err := ts.AddAccount(sibling); err != nil {
		t.Fatal(err)
	}
	parent := demo(t, ProviderSCM)
	if sibling.TSGIDs[0] != parent.TSGIDs[0] || sibling.ClientID == parent.ClientID || ServiceAccountID(sibling) != DemoSCMSiblingID {
		t.Fatalf("sibling %+v", sibling)
	}
	tok := scmTokenFor(t, ts, parent, parent.TSGIDs[0])
	if res := iamCall(t, ts, http.MethodGet, iamPrefix+"/"+DemoSCMSiblingID, tok); res.status != 200 || res.str("client_id") != sibling.ClientID {
		t.Errorf("get: %d %s", res.status, res.raw)
	}
	// The demo account's token resets the sibling's secret, not its own.
	if res := iamCall(t, ts, http.MethodPost, iamPrefix+"/"+DemoSCMSiblingID+"/operations/reset", tok); res.status != 201 || res.str("client_id") != sibling.ClientID {
		t.Fatalf("reset: %d %s", res.status, res.raw)
	}
	scmTokenFor(t, ts, parent, parent.TSGIDs[0])
	if r := do(t, ts, scmRequest(sibling, sibling.TSGIDs[0])); r.status != http.StatusUnauthorized {
		t.Errorf("the sibling's old secret: %d", r.status)
	}
}

// The scenario of a rotation whose first reset is slow and whose answers
// are lost three times, set up through the admin API.
func TestIAMSlowThenLostThenAnswers(t *testing.T) {
	t.Parallel()
	ts, parent, tok := iamWithToken(t)
	const delay = 200 * time.Millisecond
	if r := admin(t, ts, http.MethodPut, "/_fake/iam/faults",
		`{"slow_reset_next":1,"answer_delay":"200ms","lose_reset_next":3}`); r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.raw)
	}
	for i := 1; i <= 4; i++ {
		start := time.Now()
		status, err := postReset(context.Background(), ts, parent, tok)
		took := time.Since(start)
		wantStatus := 0
		if i == 4 {
			wantStatus = http.StatusCreated
		}
		if status != wantStatus || (took >= delay) != (i == 1) {
			t.Errorf("reset %d: status %d (%v) after %s", i, status, err, took)
		}
		if got := ts.IAMAccounts()[1].Resets; got != i {
			t.Errorf("reset %d: %d resets", i, got)
		}
	}
	if f := ts.IAMFaults(); f != (IAMFaults{}) {
		t.Errorf("faults left: %+v", f)
	}
}
