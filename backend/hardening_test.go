package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testclock"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

// The scenarios of a security review: ways in which a write, a rotation or
// an unlucky failure could lose a vendor secret, send it to an address a
// writer chose, or put it into an answer.

// waitRunning waits until a rotation of config name runs on b.
func waitRunning(t *testing.T, b *paloBackend, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.RLock()
		running := b.rotations[name] != nil
		b.mu.RUnlock()
		if running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the rotation never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The review's first scenario: the first reset is slow, its answer and the
// next two are lost; while it is in flight the operator writes the old,
// still valid secret again. The write is refused while the rotation runs;
// afterwards, with the outcome unknown, the old secret is verified, refused
// by the vendor, and not stored; once the IAM API answers again, rotate-root
// recovers and reads get tokens of the vendor's current secret.
func TestSecretWrittenDuringARotationIsRefused(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	old := e.storedSecret()
	e.setIAMFaults(fakevendor.IAMFaults{SlowResetNext: 1, AnswerDelay: 2 * time.Second, LoseResetNext: provider.ResetAttempts})
	done := make(chan error, 1)
	go func() {
		_, err := e.b.rotate(context.Background(), e.storage, "scm", "manual")
		done <- err
	}()
	waitRunning(t, e.b, "scm")
	e.mustBadRequest(logical.UpdateOperation, "config/scm", map[string]any{"client_secret": old}, "rotation", "running")
	e.mustBadRequest(logical.DeleteOperation, "config/scm", nil, "rotation", "running")
	if err := <-done; err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("the run: %v, want a failure whose outcome is unknown", err)
	}
	if e.vendorAccepts(old) {
		t.Fatal("the vendor still accepts the old secret; the scenario shows nothing")
	}
	// The outcome is unknown: a hand-written secret is verified, whatever
	// verify_connection says, and the vendor refuses the old one.
	msg := e.mustBadRequest(logical.UpdateOperation, "config/scm", map[string]any{"client_secret": old, "verify_connection": false},
		"rotation begun", "HTTP 401", "Nothing was changed")
	if strings.Contains(msg, old) {
		t.Error("the refusal quotes the secret")
	}
	if rec, _ := readRotationRecord(context.Background(), e.storage, "scm"); rec.Pending == nil {
		t.Fatal("the refused write dropped the pending record")
	}
	e.setIAMFaults(fakevendor.IAMFaults{})
	e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil)
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	tok := e.mustOK(logical.ReadOperation, "creds/wf", nil).Data["access_token"].(string)
	if _, ok := e.vendor.Check(tok); !ok || !e.vendorAccepts(e.storedSecret()) {
		t.Error("after the recovery the token or the stored secret is not the vendor's current one")
	}
}

// While a rotation's outcome is unknown, a written secret that the vendor
// accepts is stored, and the answer says that the pending rotation is
// abandoned.
func TestWorkingSecretWrittenAfterALostAnswerEndsThePendingRotation(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	old := e.storedSecret()
	e.setIAMFaults(fakevendor.IAMFaults{FailResetNext: provider.ResetAttempts}) // 503s: unknown outcome, nothing reset
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err == nil {
		t.Fatal("want a failure")
	}
	resp := e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{"client_secret": old})
	if len(resp.Warnings) == 0 || !strings.Contains(strings.Join(resp.Warnings, " "), "abandoned") {
		t.Errorf("warnings %v do not say the pending rotation was abandoned", resp.Warnings)
	}
	if rec, _ := readRotationRecord(context.Background(), e.storage, "scm"); rec.Pending != nil || rec.LastError != "" {
		t.Errorf("rotation record after the write: %+v", rec)
	}
}

// A service_account_id that names another service account of the same TSG
// is refused with a 400 naming both client ids, before any reset.
func TestRotationRefusesAnotherServiceAccount(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	if err := e.vendor.AddAccount(fakevendor.DemoSCMSibling()); err != nil {
		t.Fatal(err)
	}
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{"service_account_id": fakevendor.DemoSCMSiblingID})
	e.mustBadRequest(logical.UpdateOperation, "config/scm/rotate-root", nil,
		fakevendor.DemoSCMSiblingID, fakevendor.DemoSCMSibling().ClientID, scmDemo().ClientID, "nothing was reset")
	for _, a := range e.vendor.IAMAccounts() {
		if a.Resets != 0 {
			t.Errorf("%s was reset %d times", a.ClientID, a.Resets)
		}
	}
}

// The reset's answer is checked too: one that names another client_id is
// not stored, and the reset stays pending.
func TestRotationRefusesAnAnswerForAnotherAccount(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	old := e.storedSecret()
	e.setIAMFaults(fakevendor.IAMFaults{ResetAnswer: fakevendor.ResetAnswerOtherClientID})
	_, err := e.b.rotate(context.Background(), e.storage, "scm", "manual")
	if err == nil || !strings.Contains(err.Error(), "the account this reset began with") || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("error %v, want the other client_id named and the outcome unknown", err)
	}
	if e.storedSecret() != old {
		t.Error("a secret from an answer about another account was stored")
	}
	e.setIAMFaults(fakevendor.IAMFaults{})
	e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil)
	if !e.vendorAccepts(e.storedSecret()) {
		t.Error("the recovery did not store the vendor's current secret")
	}
}

// Any 2xx reset answer that carries a client_secret is a success: one
// reset, its secret stored.
func TestRotationAcceptsAny2xxWithASecret(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusOK, http.StatusCreated, http.StatusAccepted} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			e := rotationEnv(t, nil)
			e.setIAMFaults(fakevendor.IAMFaults{ResetStatus: status})
			e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil)
			if e.resets() != 1 || !e.vendorAccepts(e.storedSecret()) {
				t.Errorf("resets = %d, stored secret works = %t; want 1, true", e.resets(), e.vendorAccepts(e.storedSecret()))
			}
		})
	}
}

// answerRecorder serves the fake vendor and keeps every reset answer's
// body, which holds the new secret.
type answerRecorder struct {
	fv      *fakevendor.Server
	mu      sync.Mutex
	answers []string
}

func (a *answerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/operations/reset") {
		a.fv.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	a.fv.ServeHTTP(rec, r)
	a.mu.Lock()
	a.answers = append(a.answers, rec.Body.String())
	a.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// A reset answered in text form holds the new secret: it is never quoted,
// in the rotate-root answer, the log, or last_rotation_error.
func TestRotationNeverQuotesAResetAnswer(t *testing.T) {
	t.Parallel()
	fv := fakevendor.New()
	a := scmDemo()
	if err := fv.AddAccount(a); err != nil {
		t.Fatal(err)
	}
	if err := fv.SetIAMFaults(fakevendor.IAMFaults{ResetAnswer: fakevendor.ResetAnswerText}); err != nil {
		t.Fatal(err)
	}
	rec := &answerRecorder{fv: fv}
	hs := httptest.NewServer(rec)
	t.Cleanup(hs.Close)
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{
		"provider": "paloalto_scm", "token_url": hs.URL + fakevendor.TokenPath("paloalto_scm"), "iam_url": hs.URL,
		"client_id": a.ClientID, "client_secret": a.ClientSecret, "tsg_id": a.TSGIDs[0],
	})
	out := e.route(logical.UpdateOperation, "config/scm/rotate-root", nil)
	read := e.mustOK(logical.ReadOperation, "config/scm", nil)
	if out.err == nil || read.Data["last_rotation_error"] == "" {
		t.Fatalf("want a failed rotation recorded, got %v", out.text())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.answers) == 0 {
		t.Fatal("no reset answer was recorded")
	}
	for _, answer := range rec.answers {
		secret := strings.TrimSpace(strings.TrimPrefix(answer, "client_secret="))
		if len(secret) < 8 || secret == answer {
			t.Fatalf("unexpected answer form %q", answer)
		}
		for what, text := range map[string]string{"answer": out.text(), "read": fmt.Sprint(read.Data), "log": e.logs.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s quotes the new secret", what)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(read.Data["last_rotation_error"]), "not quoted") {
		t.Errorf("last_rotation_error %q does not say the answer was not quoted", read.Data["last_rotation_error"])
	}
}

// A rotation that stores a new secret ends a credential-failure cooldown:
// the read right after it gets a token instead of the replayed refusal.
func TestRotationEndsTheCredentialCooldown(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, map[string]any{"auth_failure_cooldown": "1h"})
	e.loseReset()
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	for range 2 { // the vendor's refusal, then its replay
		if out := e.route(logical.ReadOperation, "creds/wf", nil); out.err == nil || !strings.Contains(out.err.Error(), "HTTP 401") {
			t.Fatalf("want the vendor's refusal of the stored secret, got %s", out.text())
		}
	}
	e.setIAMFaults(fakevendor.IAMFaults{})
	e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil) // not held back by the cooldown
	e.mustOK(logical.ReadOperation, "creds/wf", nil)
}

// A second instance of the mount (another node after a failover, or the
// instance after a plugin reload) on the same storage sees the first one's
// claim: it neither rotates nor takes a secret while the first runs. A
// cleanup of the first stops its run promptly and frees the claim, and the
// second then rotates.
func TestRotationClaimHoldsAcrossInstances(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	e.setIAMFaults(fakevendor.IAMFaults{ResetDelay: time.Minute})
	other, _ := newTestBackend(t, nil)
	done := make(chan error, 1)
	go func() {
		_, err := e.b.rotate(context.Background(), e.storage, "scm", "manual")
		done <- err
	}()
	waitRunning(t, e.b, "scm")
	if _, err := other.rotate(context.Background(), e.storage, "scm", "manual"); !errors.Is(err, errRotationRunning) {
		t.Fatalf("second instance: %v, want errRotationRunning", err)
	}
	start := time.Now()
	e.b.clean(context.Background())
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the stopped run reported success")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cleanup did not stop the run")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cleanup took %s", d)
	}
	e.setIAMFaults(fakevendor.IAMFaults{})
	if _, err := other.rotate(context.Background(), e.storage, "scm", "manual"); err != nil {
		t.Fatalf("the second instance after the cleanup: %v", err)
	}
	if !e.vendorAccepts(e.storedSecret()) {
		t.Error("the stored secret is not the vendor's current one")
	}
}

// A write that changes where the credential is sent must carry the secret:
// without it, anyone allowed to update the config could learn the stored
// one. A listener on the new address sees nothing, through the refused
// write and the reads and rotations after it.
func TestDestinationChangeNeedsTheSecret(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	l := testkit.NewRecorder(t)
	pem := string(bytes.TrimSpace(e.vendor.CACertPEM())) + "\n"
	for field, value := range map[string]string{
		"token_url": l.URL + "/token", "iam_url": l.URL, "proxy_url": l.URL, "ca_cert": pem + pem,
	} {
		e.mustBadRequest(logical.UpdateOperation, "config/scm", map[string]any{field: value, "verify_connection": false},
			field, "client_secret", "same write")
	}
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	e.mustOK(logical.ReadOperation, "creds/wf", nil)
	e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil)
	if seen := l.Requests(); len(seen) != 0 {
		t.Errorf("the listener was sent %d requests: %q", len(seen), seen)
	}
	// With the secret in the same write, the change is taken.
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{"iam_url": l.URL, "client_secret": e.storedSecret(), "verify_connection": false})
	if got := e.mustOK(logical.ReadOperation, "config/scm", nil).Data["iam_url"]; got != l.URL {
		t.Errorf("iam_url = %v", got)
	}
}

// Twenty concurrent partial writes to one config that need no vendor call
// all succeed, and none loses another's field.
func TestConcurrentWritesWithoutVerificationAreNeverRefused(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cfg := e.demoConfig("oauth2")
	cfg["verify_connection"] = false
	e.mustOK(logical.UpdateOperation, "config/race", cfg)
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := range 20 {
		wg.Go(func() {
			data := map[string]any{"request_timeout": fmt.Sprintf("%ds", 10+i)}
			if i%2 == 0 {
				data = map[string]any{"scope": fmt.Sprintf("s%d", i), "verify_connection": false}
			}
			if out := e.route(logical.UpdateOperation, "config/race", data); out.err != nil || out.resp.IsError() {
				errs <- out.text()
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Errorf("a concurrent write was refused: %s", msg)
	}
}

// Roles of one oauth2 config that override audience or resource but not
// scope request different tokens: each gets its own, never another role's.
func TestRolesOverridingAudienceOrResourceGetTheirOwnTokens(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/o", e.demoConfig("oauth2"))
	e.mustOK(logical.UpdateOperation, "roles/a", map[string]any{"config": "o", "audience": "https://api-a.example"})
	e.mustOK(logical.UpdateOperation, "roles/b", map[string]any{"config": "o", "audience": "https://api-b.example"})
	e.mustOK(logical.UpdateOperation, "roles/r", map[string]any{"config": "o", "resource": "https://res-r.example"})
	e.mustOK(logical.UpdateOperation, "roles/a2", map[string]any{"config": "o", "audience": "https://api-a.example"})

	read := func(role string) (string, fakevendor.TokenInfo) {
		tok := e.mustOK(logical.ReadOperation, "creds/"+role, nil).Data["access_token"].(string)
		info, ok := e.vendor.Check(tok)
		if !ok {
			t.Fatalf("creds/%s: the vendor does not know the token", role)
		}
		return tok, info
	}
	tokA, infoA := read("a")
	tokB, infoB := read("b")
	_, infoR := read("r")
	tokA2, _ := read("a2")
	if !slices.Equal(infoA.Audience, []string{"https://api-a.example"}) || !slices.Equal(infoB.Audience, []string{"https://api-b.example"}) {
		t.Errorf("audiences: creds/a %v, creds/b %v (same token: %t)", infoA.Audience, infoB.Audience, tokA == tokB)
	}
	if !slices.Equal(infoR.Resources, []string{"https://res-r.example"}) {
		t.Errorf("creds/r got a token for resources %v, audience %v", infoR.Resources, infoR.Audience)
	}
	if tokA2 != tokA {
		t.Error("two roles requesting the same token did not share it")
	}
}

// A rotation switches this node's fetches to the new credential only: a
// role's overrides (a child TSG) still apply to its tokens.
func TestRoleOverridesSurviveARotation(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	const child = "1234567891"
	e.mustOK(logical.UpdateOperation, "roles/child", map[string]any{"config": "scm", "tsg_id": child})
	e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil)
	tok := e.mustOK(logical.ReadOperation, "creds/child", nil).Data["access_token"].(string)
	if info, ok := e.vendor.Check(tok); !ok || info.Scope != "tsg_id:"+child {
		t.Errorf("creds/child after a rotation returned a token with scope %q; want tsg_id:%s", info.Scope, child)
	}
}

// While a reset whose answer was lost is pending, a write that changes
// client_id without the secret is refused naming the field, and the
// resumed reset is checked against the account it began with: it stores
// the vendor's new secret.
func TestLoginChangeDuringAPendingResetIsRefused(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	e.loseReset()
	e.setIAMFaults(fakevendor.IAMFaults{})
	for _, change := range []map[string]any{
		{"client_id": "intruder@1234567890.iam.panserviceaccount.com", "verify_connection": false},
		{"service_account_id": "2f56a901-4b71-45dc-a8d6-6b77eb41934d"},
	} {
		out := e.route(logical.UpdateOperation, "config/scm", change)
		for field := range change {
			if field == "verify_connection" {
				continue
			}
			if out.status != http.StatusBadRequest || !strings.Contains(out.text(), field) || !strings.Contains(out.text(), "outcome is unknown") {
				t.Errorf("writing %s while a reset is pending: %d %s; want a 400 naming it", field, out.status, out.text())
			}
		}
	}
	e.mustResume()
}

// A pending reset records the account it began with: a record whose
// config names another client_id (written by an earlier version, which
// checked no login change) still resumes against the account it began
// with.
func TestResumedResetIsCheckedAgainstTheAccountItBeganWith(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	e.loseReset()
	e.setIAMFaults(fakevendor.IAMFaults{})
	entry, err := readConfigEntry(context.Background(), e.storage, "scm")
	if err != nil {
		t.Fatal(err)
	}
	entry.Values[provider.ClientID.Name] = "intruder@1234567890.iam.panserviceaccount.com"
	if err := putJSON(context.Background(), e.storage, configStoragePrefix+"scm", entry); err != nil {
		t.Fatal(err)
	}
	e.b.forgetConfig("scm")
	before := e.resets()
	// The run stores the new secret after one reset; its verification
	// then fails, since the config names another client_id.
	_, err = e.b.rotate(context.Background(), e.storage, "scm", "manual")
	if n := e.resets() - before; n != 1 || err == nil || !strings.Contains(err.Error(), `step "verify"`) {
		t.Fatalf("the resumed reset: %v after %d resets; want the secret stored after one and its verification refused", err, n)
	}
	if !e.vendorAccepts(e.storedSecret()) {
		t.Error("the resumed reset did not store the vendor's secret")
	}
}

// After repeated failed runs, the periodic check still repeats a reset
// whose answer was lost while its saved token is valid, however long the
// failure backoff has grown.
func TestFailureBackoffEndsBeforeTheSavedTokenExpires(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	clk := testclock.New(time.Now())
	e.b.now = clk.Now
	e.setIAMFaults(fakevendor.IAMFaults{RefuseReset: true})
	for range 4 {
		if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err == nil {
			t.Fatal("want a refused reset")
		}
	}
	e.loseReset()
	e.setIAMFaults(fakevendor.IAMFaults{})
	rec, err := readRotationRecord(context.Background(), e.storage, "scm")
	if err != nil || rec.Pending == nil || rec.Failures != 5 {
		t.Fatalf("record after the lost answer: %+v, %v; want a pending reset after 5 failures", rec, err)
	}
	validUntil := rec.Pending.ValidUntil
	for clk.Now().Before(validUntil) && !e.vendorAccepts(e.storedSecret()) {
		clk.Advance(time.Minute)
		e.tick()
	}
	if !e.vendorAccepts(e.storedSecret()) {
		rec, _ := readRotationRecord(context.Background(), e.storage, "scm")
		t.Errorf("the periodic check did not repeat the lost reset while its token was valid (last error: %s)", rec.LastError)
	}
}

// A pending reset belongs to the secret stored when it began, whatever
// the clocks of the nodes say: a node whose clock is behind the one that
// wrote the secret still repeats a lost reset with its saved token.
func TestPendingResetSurvivesAClockBehindTheLastWrite(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	behind := time.Now().Add(-time.Minute)
	e.b.now = func() time.Time { return behind }
	e.loseReset()
	e.setIAMFaults(fakevendor.IAMFaults{})
	e.mustResume()
}

// A token endpoint that answers 200 with a form-encoded body carrying the
// token: the body is never quoted, in the verification's refusal, a
// creds error or the log.
func TestFormEncodedSuccessBodyIsNeverQuoted(t *testing.T) {
	t.Parallel()
	const token = "gho_LiveAccessToken0123456789abcdef"
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = w.Write([]byte("access_token=" + token + "&scope=&token_type=bearer"))
	}))
	t.Cleanup(hs.Close)
	e := newTestEnv(t)
	cfg := map[string]any{
		"provider": "oauth2", "token_url": hs.URL + "/login/oauth/access_token",
		"client_id": "client-1", "client_secret": "client-secret-0123456789",
	}
	verify := e.route(logical.UpdateOperation, "config/gh", cfg)
	cfg["verify_connection"] = false
	e.mustOK(logical.UpdateOperation, "config/gh", cfg)
	e.mustOK(logical.UpdateOperation, "roles/gh", map[string]any{"config": "gh"})
	read := e.route(logical.ReadOperation, "creds/gh", nil)
	for what, text := range map[string]string{"verify_connection refusal": verify.text(), "creds error": read.text()} {
		if !strings.Contains(text, "not quoted") {
			t.Errorf("the %s does not describe the unusable body: %s", what, text)
		}
	}
	for what, text := range map[string]string{"verify_connection refusal": verify.text(), "creds error": read.text(), "log": e.logs.String()} {
		if strings.Contains(text, token) {
			t.Errorf("the %s quotes the access token", what)
		}
	}
}

// heldVendor is the fake vendor behind a server that answers one kind of
// token request itself, slowly: the first whose secret hold accepts waits
// until release is closed (inFlight is closed when it arrives) and gets a
// token; every other request goes to the fake. e's config "scm" uses it.
type heldVendor struct {
	fv                *fakevendor.Server
	account           fakevendor.Account
	url               string
	inFlight, release chan struct{}
	e                 *testEnv
}

func newHeldVendor(t *testing.T, hold func(secret string) bool) *heldVendor {
	t.Helper()
	h := &heldVendor{fv: fakevendor.New(), account: scmDemo(), inFlight: make(chan struct{}), release: make(chan struct{})}
	if err := h.fv.AddAccount(h.account); err != nil {
		t.Fatal(err)
	}
	var held atomic.Bool
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); ok && hold(pw) && held.CompareAndSwap(false, true) {
			close(h.inFlight)
			<-h.release
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"held-token","token_type":"Bearer","expires_in":899,"scope":"tsg_id:` + h.account.TSGIDs[0] + `"}`))
			return
		}
		h.fv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	h.url = hs.URL
	h.e = newTestEnv(t)
	h.e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{
		"provider": "paloalto_scm", "token_url": hs.URL + fakevendor.TokenPath("paloalto_scm"), "iam_url": hs.URL,
		"client_id": h.account.ClientID, "client_secret": h.account.ClientSecret, "tsg_id": h.account.TSGIDs[0],
	})
	return h
}

func (h *heldVendor) setIAMFaults(t *testing.T, f fakevendor.IAMFaults) {
	t.Helper()
	if err := h.fv.SetIAMFaults(f); err != nil {
		t.Fatal(err)
	}
}

// accepts reports whether the vendor issues a token for secret.
func (h *heldVendor) accepts(t *testing.T, secret string) error {
	t.Helper()
	c, err := provider.NewClient(provider.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Fetch(context.Background(), provider.Params{
		Provider: provider.PaloAltoSCM, TokenURL: h.url + fakevendor.TokenPath("paloalto_scm"),
		Values: provider.Values{"client_id": h.account.ClientID, "client_secret": secret, "tsg_id": h.account.TSGIDs[0]},
	})
	return err
}

// A reset's answer was lost; the operator resets the secret at the vendor
// by hand and writes it. While the write verifies it (without the
// config's lock), a resumed reset changes the vendor's secret again and
// stores the new one. The write then verifies again, since the stored
// config changed, and is refused: the rotated secret stays.
func TestVerifiedWriteRacingAResumedResetKeepsTheRotatedSecret(t *testing.T) {
	t.Parallel()
	const manual = "hand-reset-secret-0123456789"
	// The vendor accepts the hand-reset secret, slowly, until the resumed
	// reset replaces it.
	var resetAgain atomic.Bool
	h := newHeldVendor(t, func(secret string) bool { return secret == manual && !resetAgain.Load() })
	e := h.e
	h.setIAMFaults(t, fakevendor.IAMFaults{LoseResetNext: provider.ResetAttempts})
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err == nil {
		t.Fatal("want a lost answer")
	}
	h.setIAMFaults(t, fakevendor.IAMFaults{})
	written := make(chan outcome, 1)
	go func() {
		written <- e.route(logical.UpdateOperation, "config/scm", map[string]any{"client_secret": manual})
	}()
	<-h.inFlight
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "scheduled"); err != nil {
		t.Fatalf("the resumed reset: %v", err)
	}
	resetAgain.Store(true)
	rotated := e.storedSecret()
	close(h.release)
	out := <-written
	if out.status != http.StatusBadRequest || !strings.Contains(out.text(), "changed while this write verified it") {
		t.Errorf("the write: %d %s; want a 400 saying the config changed while it verified", out.status, out.text())
	}
	if got := e.storedSecret(); got != rotated || h.accepts(t, got) != nil {
		t.Errorf("the write (%d %s) replaced the rotated secret, the vendor's only valid one", out.status, out.text())
	}
}

// A write carrying the current secret and another change verifies without
// the lock. Meanwhile a rotation records a pending reset, resets the
// secret at the vendor and loses the answer: only the rotation record
// changes. The write verifies again, now against the pending reset, and is
// refused; the record and its saved token stay, and the resumed reset
// recovers.
func TestPendingRecordedWhileAWriteVerifiesIsVerifiedAgainst(t *testing.T) {
	t.Parallel()
	// The write's verification (the first request with the secret once
	// armed) is answered, slowly, as the vendor would have before the
	// reset.
	var armed atomic.Bool
	h := newHeldVendor(t, func(secret string) bool { return armed.Load() && secret == scmDemo().ClientSecret })
	e := h.e
	armed.Store(true)
	written := make(chan outcome, 1)
	go func() {
		written <- e.route(logical.UpdateOperation, "config/scm", map[string]any{"client_secret": h.account.ClientSecret, "default_token_ttl": 600})
	}()
	<-h.inFlight
	h.setIAMFaults(t, fakevendor.IAMFaults{LoseResetNext: provider.ResetAttempts})
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "scheduled"); err == nil {
		t.Fatal("want a lost answer")
	}
	h.setIAMFaults(t, fakevendor.IAMFaults{})
	close(h.release)
	out := <-written
	if out.status != http.StatusBadRequest || !strings.Contains(out.text(), "stored only once the vendor accepts it") {
		t.Errorf("the write: %d %s; want a 400 saying the written secret must be accepted while a reset is pending", out.status, out.text())
	}
	if rec, err := readRotationRecord(context.Background(), e.storage, "scm"); err != nil || rec.Pending == nil {
		t.Fatalf("the pending reset was dropped: %+v %v", rec, err)
	}
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err != nil {
		t.Fatalf("the resumed reset: %v", err)
	}
	if err := h.accepts(t, e.storedSecret()); err != nil {
		t.Errorf("the vendor refuses the stored secret after the resumed reset: %v", err)
	}
}
