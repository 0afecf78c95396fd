package backend

// Tests that demonstrate findings of a security review. Each fails today
// and passes once the finding is fixed.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testclock"
)

// Two roles of one oauth2 config that override audience (or resource) but
// not scope get tokens from one cache entry: a reader of creds/b is handed
// the token the server minted for role a's audience. The cache key
// (cacheKey in role.go) is config, fingerprint and RequestedScope only.
func TestReviewRoleAudienceOverrideIsPartOfTheCacheKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/o", e.demoConfig("oauth2"))
	e.mustOK(logical.UpdateOperation, "roles/a", map[string]any{"config": "o", "audience": "https://api-a.example"})
	e.mustOK(logical.UpdateOperation, "roles/b", map[string]any{"config": "o", "audience": "https://api-b.example"})
	e.mustOK(logical.UpdateOperation, "roles/r", map[string]any{"config": "o", "resource": "https://res-r.example"})

	tokA := e.mustOK(logical.ReadOperation, "creds/a", nil).Data["access_token"].(string)
	tokB := e.mustOK(logical.ReadOperation, "creds/b", nil).Data["access_token"].(string)
	tokR := e.mustOK(logical.ReadOperation, "creds/r", nil).Data["access_token"].(string)
	if info, ok := e.vendor.Check(tokB); !ok || !slices.Equal(info.Audience, []string{"https://api-b.example"}) {
		t.Errorf("creds/b returned a token for audience %v (same token as creds/a: %t); want [https://api-b.example]", info.Audience, tokA == tokB)
	}
	if info, ok := e.vendor.Check(tokR); !ok || !slices.Equal(info.Resources, []string{"https://res-r.example"}) {
		t.Errorf("creds/r returned a token for resources %v audience %v; want resource https://res-r.example", info.Resources, info.Audience)
	}
}

// While a reset whose answer was lost is pending, a writer with update on
// config/scm (no secret) changes client_id with verify_connection=false.
// Only a written secret is held to verification while a reset is pending
// (writeConfig: pending is looked up only when secretGiven), so the write
// is stored. The resumed reset (scmSecretReset.Finish) then resets the
// pending service account again with the saved token, and discards every
// answer because it names the account's client_id rather than the
// config's new one: each repeat resets the secret at the vendor and
// throws the new one away. Once the saved token has expired, putting
// client_id back does not help: no working secret is left.
func TestReviewClientIDChangeDuringAPendingResetLosesTheSecret(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	orig := scmDemo().ClientID
	e.loseReset()
	e.setIAMFaults(fakevendor.IAMFaults{})
	resetsBefore := e.resets()

	out := e.route(logical.UpdateOperation, "config/scm", map[string]any{
		"client_id": "intruder@1234567890.iam.panserviceaccount.com", "verify_connection": false,
	})
	if out.err == nil && !out.resp.IsError() {
		t.Log("the client_id change was stored while a reset was pending")
	}
	_, err := e.b.rotate(context.Background(), e.storage, "scm", "manual")
	t.Logf("resumed rotation: %v", err)
	if n := e.resets() - resetsBefore; n > 0 && !e.vendorAccepts(e.storedSecret()) {
		t.Errorf("the resumed rotation reset the service account %d more time(s) and stored none of the new secrets", n)
	}
	// The saved token expires; the operator puts client_id back.
	later := time.Now().Add(time.Hour)
	e.b.now = func() time.Time { return later }
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{"client_id": orig, "verify_connection": false})
	_, err = e.b.rotate(context.Background(), e.storage, "scm", "manual")
	if !e.vendorAccepts(e.storedSecret()) {
		t.Errorf("the engine holds no working secret any more (last run: %v)", err)
	}
}

// A reset whose answer is lost is repeated by "the periodic check (within
// a minute on the active node)" (README, "No lost secret"; the run's own
// error says so too). But periodic (rotation.go) skips any config whose
// record counts failures until the failure backoff has passed, and the
// backoff doubles with every failed run since the last success: after
// four earlier failures (say the IAM role could not reset, then was
// fixed), the fifth run's lost answer is next retried 16 minutes later,
// after the saved 15-minute token has expired. Nothing can reset again:
// the secret is lost although the IAM API answered again one minute
// after the loss.
func TestReviewFailureBackoffOutlivesTheSavedToken(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	clk := testclock.New(time.Now())
	e.b.now = clk.Now
	tick := func() {
		if err := e.b.periodic(context.Background(), &logical.Request{Storage: e.storage}); err != nil {
			t.Fatal(err)
		}
	}
	// Four failed runs: the vendor refuses the reset (403), nothing changes.
	e.setIAMFaults(fakevendor.IAMFaults{RefuseReset: true})
	for range 4 {
		if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err == nil {
			t.Fatal("want a refused reset")
		}
	}
	// The IAM role is fixed; the next run's answer is lost.
	e.loseReset()
	e.setIAMFaults(fakevendor.IAMFaults{})
	// The active node runs the periodic check every minute for 20 minutes.
	for range 20 {
		clk.Advance(time.Minute)
		tick()
	}
	if !e.vendorAccepts(e.storedSecret()) {
		rec, _ := readRotationRecord(context.Background(), e.storage, "scm")
		t.Errorf("the periodic check did not repeat the lost reset while its token was valid; the secret is lost (last error: %s)", rec.LastError)
	}
}

// A token endpoint that answers 200 with a form-encoded body (as GitHub
// and some older OAuth2 servers do by default) is "not a JSON object", and
// successBodySummary (provider/vendorerror.go) quotes text that does not
// start with '{', '[' or '"' as an excerpt: the live access token lands in
// the creds error, the Warn log line "token fetch failed" and the
// verify_connection refusal. The redactor knows only the config's own
// secrets, not the token in the body.
func TestReviewFormEncodedSuccessBodyIsNeverQuoted(t *testing.T) {
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
	for what, text := range map[string]string{"verify_connection refusal": verify.text(), "creds error": read.text(), "log": e.logs.String()} {
		if strings.Contains(text, token) {
			t.Errorf("the %s quotes the access token", what)
		}
	}
}

// Whether a pending reset is live is decided by comparing wall-clock
// times written by possibly different nodes: livePending (rotation.go)
// treats a record as a leftover when the config's SecretSetAt is after the
// pending's StartedAt. When the clock that begins the rotation is behind
// the clock that last wrote the secret (a failover to a node whose clock
// is a minute behind, or an NTP step back), a reset whose answer is lost
// is never repeated: the saved token is ignored, the next run begins anew
// with the reset secret and fails, and a hand-written old secret is not
// held to verification. The secret is lost at once, with no "recover"
// message.
func TestReviewPendingResetSurvivesAClockBehindTheLastWrite(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil) // SecretSetAt: now, by this node's clock
	behind := time.Now().Add(-time.Minute)
	e.b.now = func() time.Time { return behind } // the node that rotates next
	e.loseReset()
	e.setIAMFaults(fakevendor.IAMFaults{})
	_, err := e.b.rotate(context.Background(), e.storage, "scm", "manual")
	if !e.vendorAccepts(e.storedSecret()) {
		t.Errorf("the lost reset was not repeated with its saved token (run: %v)", err)
	}
}

// A reset's answer was lost; the operator resets the secret at the vendor
// by hand and writes it. The write verifies it without the config's lock
// (writeConfig), and meanwhile the periodic check resumes the pending
// reset with its saved token: the vendor's secret is reset again, and the
// run stores the new one and ends. The write's second attempt then merges
// its secret onto the rotated config and, since the fingerprint of what it
// stores equals the one it verified, stores it without verifying again:
// the rotated secret, the vendor's only valid one, is overwritten by one
// the vendor no longer accepts. Nothing said so: the write succeeded.
func TestReviewVerifiedWriteRacingAResumedResetLosesTheSecret(t *testing.T) {
	t.Parallel()
	const manual = "hand-reset-secret-0123456789"
	fv := fakevendor.New()
	a := scmDemo()
	if err := fv.AddAccount(a); err != nil {
		t.Fatal(err)
	}
	inFlight, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	// The vendor as it was when the operator reset by hand: it accepts
	// the hand-reset secret, slowly.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); ok && pw == manual {
			once.Do(func() { close(inFlight) })
			<-release
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"hand-token","token_type":"Bearer","expires_in":899,"scope":"tsg_id:` + a.TSGIDs[0] + `"}`))
			return
		}
		fv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{
		"provider": "paloalto_scm", "token_url": hs.URL + fakevendor.TokenPath("paloalto_scm"), "iam_url": hs.URL,
		"client_id": a.ClientID, "client_secret": a.ClientSecret, "tsg_id": a.TSGIDs[0],
	})
	if err := fv.SetIAMFaults(fakevendor.IAMFaults{LoseResetNext: provider.ResetAttempts}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err == nil {
		t.Fatal("want a lost answer")
	}
	if err := fv.SetIAMFaults(fakevendor.IAMFaults{}); err != nil {
		t.Fatal(err)
	}
	written := make(chan outcome, 1)
	go func() {
		written <- e.route(logical.UpdateOperation, "config/scm", map[string]any{"client_secret": manual})
	}()
	<-inFlight
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "scheduled"); err != nil {
		t.Fatalf("the resumed reset: %v", err)
	}
	rotated := e.storedSecret()
	close(release)
	out := <-written
	t.Logf("the write: %s", out.text())
	if got := e.storedSecret(); got != rotated && (out.err == nil && !out.resp.IsError()) {
		t.Errorf("the write replaced the rotated secret, the vendor's only valid one, without verifying again (stored %q)", got)
	}
}

// After a rotation, this node's fetches use liveConfig.current, which
// copies every value the rotation stored (useRotated keeps the whole
// stored Values, not just the new credential) over the token request's
// values, role overrides included. A role that overrides tsg_id (a child
// TSG) then gets tokens of the config's own TSG, cached under the role's
// scope, until the config is next written or invalidated.
func TestReviewRoleOverrideSurvivesARotation(t *testing.T) {
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
