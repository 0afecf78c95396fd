package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testclock"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

// scmDemo is the demo paloalto_scm account.
func scmDemo() fakevendor.Account { return demoAccount(fakevendor.ProviderSCM) }

// rotationEnv is a test env with config "scm" (with iam_url on the fake)
// and role "wf" on it.
func rotationEnv(t *testing.T, extra map[string]any) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	cfg := e.demoConfig("paloalto_scm")
	cfg["iam_url"] = e.vendor.URL
	for k, v := range extra {
		cfg[k] = v
	}
	e.mustOK(logical.UpdateOperation, "config/scm", cfg)
	e.mustOK(logical.UpdateOperation, "roles/wf", map[string]any{"config": "scm"})
	return e
}

// scmDefault is paloalto_scm's default for a field.
func scmDefault(field string) string {
	d, _ := provider.Describe(provider.PaloAltoSCM)
	return d.Default(field)
}

// storedSecret is the client secret config "scm" holds in storage.
func (e *testEnv) storedSecret() string {
	e.t.Helper()
	c, err := readConfigEntry(context.Background(), e.storage, "scm")
	if err != nil || c == nil {
		e.t.Fatalf("reading config scm: %v", err)
	}
	return c.Values["client_secret"]
}

// vendorAccepts reports whether the fake issues a token for secret.
func (e *testEnv) vendorAccepts(secret string) bool {
	e.t.Helper()
	c, err := provider.NewClient(provider.ClientOptions{CACertPEM: string(e.vendor.CACertPEM())})
	if err != nil {
		e.t.Fatal(err)
	}
	a := scmDemo()
	_, err = c.Fetch(context.Background(), provider.Params{
		Provider: provider.PaloAltoSCM, TokenURL: e.vendor.TokenURL("paloalto_scm"), Values: provider.Values{"client_id": a.ClientID, "client_secret": secret, "tsg_id": a.TSGIDs[0]},
	})
	if err != nil && !provider.IsCredentialError(err) {
		e.t.Fatalf("fetch: %v", err)
	}
	return err == nil
}

// resets is how often the fake reset the demo SCM account's secret.
func (e *testEnv) resets() int {
	e.t.Helper()
	for _, a := range e.vendor.IAMAccounts() {
		if a.ClientID == scmDemo().ClientID {
			return a.Resets
		}
	}
	e.t.Fatal("the fake lists no demo SCM service account")
	return 0
}

// loseReset runs a manual rotation of config "scm" whose every reset
// answer the vendor loses: it fails, and the reset's outcome is unknown.
// The fault stays set.
func (e *testEnv) loseReset() {
	e.t.Helper()
	e.setIAMFaults(fakevendor.IAMFaults{LoseResetNext: provider.ResetAttempts})
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err == nil {
		e.t.Fatal("a rotation whose every reset answer was lost succeeded")
	}
}

// mustResume runs a manual rotation of config "scm" that resumes a
// pending reset: it must succeed and store a secret the vendor accepts.
func (e *testEnv) mustResume() {
	e.t.Helper()
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err != nil {
		e.t.Fatalf("the resumed reset: %v", err)
	}
	if !e.vendorAccepts(e.storedSecret()) {
		e.t.Error("the resumed reset did not store a secret the vendor accepts")
	}
}

// tick runs the periodic function once, as Vault does about every minute
// on the active node.
func (e *testEnv) tick() {
	e.t.Helper()
	if err := e.b.periodic(context.Background(), &logical.Request{Storage: e.storage}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) setIAMFaults(f fakevendor.IAMFaults) {
	e.t.Helper()
	if err := e.vendor.SetIAMFaults(f); err != nil {
		e.t.Fatal(err)
	}
}

func TestRotateRootManual(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	old := e.storedSecret()
	before := e.mustOK(logical.ReadOperation, "creds/wf", nil).Data["access_token"]

	resp := e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil)
	e.validate("config/scm/rotate-root", logical.UpdateOperation, resp)
	if got, want := resp.Data["service_account_id"], fakevendor.ServiceAccountID(scmDemo()); got != want {
		t.Errorf("service_account_id = %v, want %v (found by client_id)", got, want)
	}
	if resp.Data["last_vault_rotation"] == "" || resp.Data["next_vault_rotation"] != "" {
		t.Errorf("rotation times: %v", resp.Data)
	}
	newSecret := e.storedSecret()
	if newSecret == old || !strings.HasPrefix(newSecret, "fake-scm-secret-") {
		t.Fatalf("the stored secret was not replaced by the vendor's new one")
	}
	if e.resets() != 1 {
		t.Errorf("vendor resets = %d, want 1", e.resets())
	}
	if e.vendorAccepts(old) {
		t.Error("the vendor still accepts the old secret")
	}
	// Readers keep the cached token; the next fetch uses the new secret.
	if got := e.mustOK(logical.ReadOperation, "creds/wf", nil).Data["access_token"]; got != before {
		t.Error("the rotation dropped the cached token")
	}
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	if _, ok := e.vendor.Check(e.mustOK(logical.ReadOperation, "creds/wf", nil).Data["access_token"].(string)); !ok {
		t.Error("the token fetched after the rotation is not valid")
	}
	read := e.mustOK(logical.ReadOperation, "config/scm", nil)
	e.validate("config/scm", logical.ReadOperation, read)
	if read.Data["last_vault_rotation"] != resp.Data["last_vault_rotation"] || read.Data["last_rotation_error"] != "" {
		t.Errorf("config read after rotation: %v", read.Data)
	}
	if read.Data["iam_url"] != e.vendor.URL || read.Data["service_account_id"] != "" || read.Data["rotation_period"] != int64(0) {
		t.Errorf("rotation settings read back: %v", read.Data)
	}
	raw, _ := json.Marshal(resp)
	for what, text := range map[string]string{"response": string(raw), "read": fmt.Sprint(read.Data), "logs": e.logs.String()} {
		if strings.Contains(text, newSecret) || strings.Contains(text, old) {
			t.Errorf("the %s holds a secret", what)
		}
	}
	if !strings.Contains(e.logs.String(), "vendor secret rotated") {
		t.Error("no log line says the secret was rotated")
	}
	// A rotation record without pending reset is left; nothing else.
	rec, err := readRotationRecord(context.Background(), e.storage, "scm")
	if err != nil || rec.Pending != nil || rec.Failures != 0 {
		t.Errorf("rotation record after success: %+v, %v", rec, err)
	}
}

func TestRotateRootServiceAccountID(t *testing.T) {
	t.Parallel()
	id := fakevendor.ServiceAccountID(scmDemo())
	e := rotationEnv(t, map[string]any{"service_account_id": id})
	resp := e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil)
	if resp.Data["service_account_id"] != id || resp.Data["service_account_name"] != "wildfire-sa" {
		t.Errorf("response %v", resp.Data)
	}
}

func TestRotateRootRefusedForOtherProviders(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for _, p := range allProviders {
		if p == "paloalto_scm" {
			continue
		}
		e.mustOK(logical.UpdateOperation, "config/"+p, e.demoConfig(p))
		e.mustBadRequest(logical.UpdateOperation, "config/"+p+"/rotate-root", nil, "has no API to reset", "write the new one", p)
		for _, f := range []string{"iam_url", "service_account_id", "rotation_period"} {
			e.mustBadRequest(logical.UpdateOperation, "config/"+p, map[string]any{f: "1h"}, f, "does not apply")
		}
	}
	e.mustBadRequest(logical.UpdateOperation, "config/none/rotate-root", nil, `config "none" does not exist`)
}

func TestRotationSettingsValidation(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	for field, bad := range map[string][]string{
		"rotation_period":    {"59m", "-1h", "100000h"},
		"iam_url":            {"http://api.example.com", "ftp://127.0.0.1", "https://u:p@api.example.com", "not a url"},
		"service_account_id": {" x", "a/b", "x?y", "..", "wildfire-sa", "982111c0-4dd6-47b9-a13b-e2035a96520", "982111c0-4dd6-47b9-a13b-e2035a965208 "},
	} {
		for _, v := range bad {
			e.mustBadRequest(logical.UpdateOperation, "config/scm", map[string]any{field: v}, field)
		}
	}
	// A new iam_url needs the secret in the same write.
	e.mustBadRequest(logical.UpdateOperation, "config/scm", map[string]any{"iam_url": "https://iam.example.com"}, "iam_url", "client_secret")
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{
		"rotation_period": "1h", "iam_url": "https://iam.example.com", "client_secret": e.storedSecret(), "verify_connection": false,
	})
	read := e.mustOK(logical.ReadOperation, "config/scm", nil)
	if read.Data["rotation_period"] != int64(3600) || read.Data["iam_url"] != "https://iam.example.com" {
		t.Errorf("read %v", read.Data)
	}
	// The default iam_url.
	cfg := e.demoConfig("paloalto_scm")
	e.mustOK(logical.UpdateOperation, "config/plain", cfg)
	if got := e.mustOK(logical.ReadOperation, "config/plain", nil).Data["iam_url"]; got != scmDefault("iam_url") {
		t.Errorf("default iam_url = %v", got)
	}
}

// putFailingStorage fails Put of the keys with a prefix while armed.
type putFailingStorage struct {
	logical.Storage
	putPrefix atomic.Pointer[string]
}

func (s *putFailingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if p := s.putPrefix.Load(); p != nil && strings.HasPrefix(e.Key, *p) {
		return errStorage
	}
	return s.Storage.Put(ctx, e)
}

func (s *putFailingStorage) failPut(prefix string) { s.putPrefix.Store(&prefix) }
func (s *putFailingStorage) heal()                 { s.putPrefix.Store(nil) }

// TestRotationStepFailures makes each step fail in turn and checks the
// error (config, step, status, vendor message), what the vendor did, which
// secret works, and that the engine recovers by itself where it can.
func TestRotationStepFailures(t *testing.T) {
	t.Parallel()
	type check struct {
		step     string
		contains []string
		resets   int  // vendor resets after the failed run
		oldWorks bool // the stored (old) secret still works
		recovers bool // a second run, with the faults gone, succeeds
	}
	for name, tc := range map[string]struct {
		config  map[string]any
		faults  fakevendor.IAMFaults
		storage string // a key prefix whose Put fails
		check
	}{
		"token: the stored secret is refused": {
			config: map[string]any{"client_secret": "wrong-secret", "verify_connection": false},
			check:  check{step: provider.StepToken, contains: []string{"HTTP 401", "invalid_client", "unchanged"}},
		},
		"find: the IAM API is unreachable": {
			config: map[string]any{"iam_url": "http://127.0.0.1:1", "client_secret": scmDemo().ClientSecret},
			check:  check{step: provider.StepFind, contains: []string{"service account list failed", "network error", "unchanged"}, oldWorks: true},
		},
		"record: storage refuses the pending record": {
			storage: rotationStoragePrefix,
			check:   check{step: stepRecord, contains: []string{"injected storage failure", "not reset"}, oldWorks: true, recovers: true},
		},
		"reset: 403, the role may not manage service accounts": {
			faults: fakevendor.IAMFaults{RefuseReset: true},
			check:  check{step: provider.StepReset, contains: []string{"HTTP 403", "E007", "does not allow managing service accounts", "not reset"}, oldWorks: true, recovers: true},
		},
		"find: 404, an unknown service_account_id": {
			config: map[string]any{"service_account_id": "00000000-0000-4000-8000-000000000000"},
			check:  check{step: provider.StepFind, contains: []string{"HTTP 404", "Service account not found", "unchanged"}, oldWorks: true},
		},
		"reset: 5xx on every attempt": {
			faults: fakevendor.IAMFaults{FailResetNext: provider.ResetAttempts},
			check:  check{step: provider.StepReset, contains: []string{"HTTP 503", "unknown", "saved token"}, oldWorks: true, recovers: true},
		},
		"reset: slower than request_timeout, nothing reset": {
			config: map[string]any{"request_timeout": "1s"},
			faults: fakevendor.IAMFaults{ResetDelay: 3 * time.Second},
			check:  check{step: provider.StepReset, contains: []string{"timed out", "unknown", "saved token"}, oldWorks: true, recovers: true},
		},
		"reset: the answer is lost every time": {
			faults: fakevendor.IAMFaults{LoseResetNext: provider.ResetAttempts},
			check:  check{step: provider.StepReset, contains: []string{"network error", "unknown", "saved token"}, resets: provider.ResetAttempts, recovers: true},
		},
		"store: storage refuses the new secret": {
			storage: configStoragePrefix,
			check:   check{step: stepStore, contains: []string{"injected storage failure", "repeats it"}, resets: 1, recovers: true},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := rotationEnv(t, nil)
			if tc.config != nil {
				e.mustOK(logical.UpdateOperation, "config/scm", tc.config)
			}
			e.setIAMFaults(tc.faults)
			old := e.storedSecret()
			s := &putFailingStorage{Storage: e.storage}
			if tc.storage != "" {
				s.failPut(tc.storage)
			}
			_, err := e.b.rotate(context.Background(), s, "scm", "manual")
			var re *rotationError
			if !errors.As(err, &re) || re.step != tc.step {
				t.Fatalf("error %v, want a failure at step %q", err, tc.step)
			}
			msg := err.Error()
			for _, w := range append(tc.contains, `config "scm"`, fmt.Sprintf("step %q", tc.step)) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if e.storedSecret() != old {
				t.Error("a failed run changed the stored secret")
			}
			if got := e.resets(); got != tc.resets {
				t.Errorf("vendor resets = %d, want %d", got, tc.resets)
			}
			if tc.step != provider.StepToken && e.vendorAccepts(old) != tc.oldWorks {
				t.Errorf("old secret works = %t, want %t", !tc.oldWorks, tc.oldWorks)
			}
			s.heal()
			if tc.storage == "" {
				read := e.mustOK(logical.ReadOperation, "config/scm", nil)
				if read.Data["last_rotation_error"] != msg || read.Data["last_rotation_error_at"] == "" {
					t.Errorf("config read does not show the failure: %v", read.Data)
				}
			}
			if !strings.Contains(e.logs.String(), "vendor secret rotation failed") {
				t.Error("no WARN line for the failure")
			}
			if !tc.recovers {
				return
			}
			e.setIAMFaults(fakevendor.IAMFaults{})
			if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err != nil {
				t.Fatalf("the next run did not recover: %v", err)
			}
			if e.storedSecret() == old || !e.vendorAccepts(e.storedSecret()) {
				t.Error("after recovery the stored secret is not the vendor's current one")
			}
			rec, err := readRotationRecord(context.Background(), e.storage, "scm")
			if err != nil || rec.Pending != nil || rec.LastError != "" {
				t.Errorf("rotation record after recovery: %+v, %v", rec, err)
			}
			if strings.Contains(e.logs.String(), e.storedSecret()) {
				t.Error("a log line holds the new secret")
			}
		})
	}
}

// A lost answer followed by a repeat that gets through is one successful
// run: the second reset's secret is stored.
func TestRotationRepeatsAResetWhoseAnswerWasLost(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	e.setIAMFaults(fakevendor.IAMFaults{LoseResetNext: 1})
	e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil)
	if e.resets() != 2 || !e.vendorAccepts(e.storedSecret()) {
		t.Errorf("resets = %d, stored secret works = %t; want 2, true", e.resets(), e.vendorAccepts(e.storedSecret()))
	}
}

// When the answer is lost and the saved token has expired, the engine
// cannot reset again: the error says precisely what happened and what to
// do, and a hand-written secret ends it.
func TestRotationLostAnswerAfterTheSavedTokenExpired(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	e.loseReset()
	e.setIAMFaults(fakevendor.IAMFaults{})
	later := time.Now().Add(time.Hour)
	e.b.now = func() time.Time { return later }
	_, err := e.b.rotate(context.Background(), e.storage, "scm", "manual")
	var re *rotationError
	if !errors.As(err, &re) || re.step != stepRecover {
		t.Fatalf("error %v, want a failure at step recover", err)
	}
	for _, w := range []string{"answer was lost", "expired", "HTTP 401", "write it to config/scm with client_secret"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestRotationVerifyFailure(t *testing.T) {
	t.Parallel()
	fv := fakevendor.New()
	if err := fv.AddAccount(scmDemo()); err != nil {
		t.Fatal(err)
	}
	// After the reset, the token endpoint refuses everything.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fv.ServeHTTP(w, r)
		if strings.HasSuffix(r.URL.Path, "/operations/reset") {
			_ = fv.SetFaults(fakevendor.Faults{Outage: fakevendor.OutageError, FailStatus: http.StatusUnauthorized})
		}
	}))
	t.Cleanup(hs.Close)
	e := newTestEnv(t)
	a := scmDemo()
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{
		"provider": "paloalto_scm", "token_url": hs.URL + fakevendor.TokenPath("paloalto_scm"), "iam_url": hs.URL,
		"client_id": a.ClientID, "client_secret": a.ClientSecret, "tsg_id": a.TSGIDs[0],
	})
	_, err := e.b.rotate(context.Background(), e.storage, "scm", "manual")
	var re *rotationError
	if !errors.As(err, &re) || re.step != stepVerify || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "new secret is stored") {
		t.Fatalf("error %v, want a failure at step verify naming the 401", err)
	}
	if e.storedSecret() == a.ClientSecret {
		t.Error("the new secret was not stored before verification")
	}
}

func TestRotationOneAtATime(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	e.setIAMFaults(fakevendor.IAMFaults{ResetDelay: 2 * time.Second})
	done := make(chan error, 1)
	go func() {
		_, err := e.b.rotate(context.Background(), e.storage, "scm", "manual")
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.b.mu.RLock()
		running := e.b.rotations["scm"] != nil
		e.b.mu.RUnlock()
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first rotation never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.mustBadRequest(logical.UpdateOperation, "config/scm/rotate-root", nil, "already running")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e.resets() != 1 {
		t.Errorf("resets = %d, want 1", e.resets())
	}
}

// TestRotationReadersNeverNotice runs 50 readers while the secret is
// rotated: short-lived tokens make them fetch throughout, the reset is slow
// and the old secret stops at once. No read fails.
func TestRotationReadersNeverNotice(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	if err := e.vendor.SetLifetime(fakevendor.ProviderSCM, 4*time.Second); err != nil {
		t.Fatal(err)
	}
	e.setIAMFaults(fakevendor.IAMFaults{AnswerDelay: 1500 * time.Millisecond})
	e.mustOK(logical.UpdateOperation, "roles/wf", map[string]any{"min_ttl": "3s"})
	e.mustOK(logical.ReadOperation, "creds/wf", nil)

	readers := testkit.StartReaders(50, 20*time.Millisecond, func() error { return e.readErr("creds/wf") })
	time.Sleep(300 * time.Millisecond)
	for range 2 {
		if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err != nil {
			t.Errorf("rotation: %v", err)
		}
	}
	time.Sleep(2 * time.Second)
	readers.Stop(t, "the rotations")
	if e.resets() != 2 {
		t.Errorf("resets = %d, want 2", e.resets())
	}
}

// A reader's fetch is refused because a first rotation changed the secret;
// that rotation has ended, so the reader tries again at once with the
// secret it stored, and a second rotation resets that one at the vendor
// while the retry is in flight. The reader waits for the second run and
// gets a token with its secret, instead of failing (and starting a
// credential-failure replay for every reader of the config).
func TestFetchFollowsBackToBackRotations(t *testing.T) {
	t.Parallel()
	a := scmDemo()
	type attempt struct {
		secret string
		accept chan bool
	}
	attempts := make(chan attempt)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pw, _ := r.BasicAuth()
		at := attempt{secret: pw, accept: make(chan bool)}
		attempts <- at
		w.Header().Set("Content-Type", "application/json")
		if !<-at.accept {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"Client authentication failed"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":899,"scope":"tsg_id:` + a.TSGIDs[0] + `"}`))
	}))
	t.Cleanup(hs.Close)
	client, err := provider.NewClient(provider.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &liveConfig{name: "scm", client: client}
	params := provider.Params{
		Provider: provider.PaloAltoSCM, TokenURL: hs.URL + fakevendor.TokenPath("paloalto_scm"),
		Values: provider.Values{"client_id": a.ClientID, "client_secret": "s0", "tsg_id": a.TSGIDs[0]},
	}
	next := func(want string) attempt {
		t.Helper()
		select {
		case at := <-attempts:
			if at.secret != want {
				t.Fatalf("the reader sent secret %q, want %q", at.secret, want)
			}
			return at
		case <-time.After(10 * time.Second):
			t.Fatalf("no token request with secret %q", want)
		}
		return attempt{}
	}
	fetched := make(chan error, 1)
	go func() {
		_, err := cfg.fetch(context.Background(), params)
		fetched <- err
	}()

	first := next("s0")
	r1 := provider.Values{"client_secret": "s1"}
	cfg.rotated.Store(&r1) // the first run stored s1 and ended
	first.accept <- false

	retry := next("s1")
	run2 := &rotationRun{stored: make(chan struct{})}
	cfg.run.Store(run2) // the second run reset s1 at the vendor
	retry.accept <- false
	select {
	case at := <-attempts:
		t.Fatalf("the reader tried secret %q before the second run stored its secret", at.secret)
	case err := <-fetched:
		t.Fatalf("the reader gave up during the second run: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	r2 := provider.Values{"client_secret": "s2"}
	cfg.rotated.Store(&r2)
	close(run2.stored)
	next("s2").accept <- true
	if err := <-fetched; err != nil {
		t.Fatalf("fetch: %v", err)
	}

	// Without a rotation, a refusal is the answer, after one request.
	cfg.run.Store(nil)
	go func() {
		_, err := cfg.fetch(context.Background(), params)
		fetched <- err
	}()
	next("s2").accept <- false
	if err := <-fetched; !provider.IsCredentialError(err) {
		t.Fatalf("fetch: %v, want the credential failure", err)
	}
}

// TestRotationSchedule drives the periodic function with a fake clock past
// next_vault_rotation, through failures and their backoff, and through a
// hand-written secret that restarts the schedule.
func TestRotationSchedule(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	clk := testclock.New(time.Now().UTC().Truncate(time.Second))
	e.b.now = clk.Now
	cfg := e.demoConfig("paloalto_scm")
	cfg["iam_url"] = e.vendor.URL
	cfg["rotation_period"] = "2h"
	e.mustOK(logical.UpdateOperation, "config/scm", cfg)
	t0 := clk.Now()
	field := func(k string) string {
		t.Helper()
		return e.mustOK(logical.ReadOperation, "config/scm", nil).Data[k].(string)
	}
	if got := field("next_vault_rotation"); got != formatTime(t0.Add(2*time.Hour)) {
		t.Fatalf("next_vault_rotation = %s, want %s", got, formatTime(t0.Add(2*time.Hour)))
	}
	clk.Advance(time.Hour)
	e.tick()
	if e.resets() != 0 {
		t.Fatal("rotated before next_vault_rotation")
	}
	clk.Advance(time.Hour + time.Second)
	e.tick()
	if e.resets() != 1 || field("last_vault_rotation") != formatTime(clk.Now()) {
		t.Fatalf("resets = %d, last_vault_rotation = %s; want 1, %s", e.resets(), field("last_vault_rotation"), formatTime(clk.Now()))
	}
	if got := field("next_vault_rotation"); got != formatTime(clk.Now().Add(2*time.Hour)) {
		t.Errorf("next_vault_rotation after rotating = %s", got)
	}

	// A failing scheduled rotation backs off, visibly.
	e.setIAMFaults(fakevendor.IAMFaults{RefuseReset: true})
	clk.Advance(2*time.Hour + time.Second)
	e.tick()
	failedAt := clk.Now()
	if !strings.Contains(field("last_rotation_error"), "HTTP 403") || field("last_rotation_error_at") != formatTime(failedAt) {
		t.Fatalf("no failure recorded: %q at %q", field("last_rotation_error"), field("last_rotation_error_at"))
	}
	if got := field("next_vault_rotation"); got != formatTime(failedAt.Add(failurePolicy.WaitMin)) {
		t.Errorf("next_vault_rotation after one failure = %s, want %s", got, formatTime(failedAt.Add(failurePolicy.WaitMin)))
	}
	clk.Advance(30 * time.Second)
	e.tick()
	if field("last_rotation_error_at") != formatTime(failedAt) {
		t.Error("retried inside the backoff")
	}
	clk.Advance(31 * time.Second)
	e.tick()
	if got := field("next_vault_rotation"); got != formatTime(clk.Now().Add(2*failurePolicy.WaitMin)) {
		t.Errorf("after a second failure next_vault_rotation = %s, want the backoff doubled", got)
	}
	for _, w := range []string{"[WARN]", "scheduled rotation will be retried", "trigger=scheduled"} {
		if !strings.Contains(e.logs.String(), w) {
			t.Errorf("the log has no %q", w)
		}
	}

	// A hand-written secret clears the failure and restarts the schedule.
	e.setIAMFaults(fakevendor.IAMFaults{})
	clk.Advance(time.Minute)
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{"client_secret": e.storedSecret()})
	if field("last_rotation_error") != "" || field("next_vault_rotation") != formatTime(clk.Now().Add(2*time.Hour)) {
		t.Errorf("after a written secret: error %q, next %s", field("last_rotation_error"), field("next_vault_rotation"))
	}
	// An update that names no secret keeps the schedule.
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{"request_timeout": "20s"})
	if field("next_vault_rotation") != formatTime(clk.Now().Add(2*time.Hour)) {
		t.Error("an update without client_secret moved the schedule")
	}
}

// On a node that may not write (a performance standby or secondary), the
// periodic function does nothing.
func TestRotationScheduleOnlyWhereWritesAreSafe(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, map[string]any{"rotation_period": "1h"})
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	sys := newSystemView()
	sys.ReplicationStateVal = consts.ReplicationPerformanceStandby
	standby := newTestEnvOn(t, sys)
	standby.b.now = later
	if err := standby.b.periodic(context.Background(), &logical.Request{Storage: e.storage}); err != nil {
		t.Fatal(err)
	}
	if e.resets() != 0 {
		t.Error("a performance standby rotated")
	}
	e.b.now = later
	e.tick()
	if e.resets() != 1 {
		t.Error("the active node did not rotate a due config")
	}
}

// After a failure between reset and store, the periodic check finds the
// pending record and, once the failure backoff has passed, repeats the
// reset with the saved token.
func TestRotationPeriodicRecoversAPendingReset(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	clk := testclock.New(time.Now())
	e.b.now = clk.Now
	s := &putFailingStorage{Storage: e.storage}
	s.failPut(configStoragePrefix)
	if _, err := e.b.rotate(context.Background(), s, "scm", "manual"); err == nil {
		t.Fatal("want a store failure")
	}
	if e.vendorAccepts(e.storedSecret()) {
		t.Fatal("the vendor still accepts the stored secret; the test shows nothing")
	}
	e.tick()
	if e.resets() != 1 {
		t.Fatal("the periodic check repeated the reset inside the failure backoff")
	}
	clk.Advance(failurePolicy.WaitMin)
	e.tick()
	if !e.vendorAccepts(e.storedSecret()) || e.resets() != 2 {
		t.Errorf("after the periodic check: stored secret works = %t, resets = %d", e.vendorAccepts(e.storedSecret()), e.resets())
	}
}

// Another node that rotated: Invalidate makes this node load the new secret.
func TestRotationInvalidatePicksUpTheNewSecret(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	e.mustOK(logical.ReadOperation, "creds/wf", nil)
	other, _ := newTestBackend(t, nil)
	if _, err := other.rotate(context.Background(), e.storage, "scm", "manual"); err != nil {
		t.Fatal(err)
	}
	e.b.invalidate(context.Background(), "config/scm")
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	e.mustOK(logical.ReadOperation, "creds/wf", nil)
}

// A repeated reset that the vendor refuses says nothing about the earlier
// one whose answer was lost: the pending record stays, and a later run
// with the vendor willing again makes the secret known.
func TestRotationRefusedRepeatKeepsThePendingReset(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	e.loseReset()
	e.setIAMFaults(fakevendor.IAMFaults{RefuseReset: true})
	_, err := e.b.rotate(context.Background(), e.storage, "scm", "manual")
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "is unknown") {
		t.Fatalf("error %v, want the 403 and that the earlier reset's outcome is unknown", err)
	}
	if rec, _ := readRotationRecord(context.Background(), e.storage, "scm"); rec == nil || rec.Pending == nil {
		t.Fatal("the refused repeat dropped the pending record")
	}
	e.setIAMFaults(fakevendor.IAMFaults{})
	if _, err := e.b.rotate(context.Background(), e.storage, "scm", "manual"); err != nil || !e.vendorAccepts(e.storedSecret()) {
		t.Fatalf("the run after the refusal did not recover: %v", err)
	}
}

// A pending reset stored by an earlier version ({started_at,
// service_account_id, token, token_expires_at}) is read as a pending
// rotation that the SCM reset resumes with the same token.
func TestRotationRecordReadsTheEarlierPendingForm(t *testing.T) {
	t.Parallel()
	var rec rotationRecord
	raw := `{"pending":{"started_at":"2026-12-01T10:00:00Z","service_account_id":"2f56a901-4b71-45dc-a8d6-6b77eb41934d",` +
		`"token":"saved-bearer-token","token_expires_at":"2026-12-01T10:15:00Z"},"failures":1}`
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatal(err)
	}
	p := rec.Pending
	if p == nil || p.State["token"] != "saved-bearer-token" || p.State["service_account_id"] != "2f56a901-4b71-45dc-a8d6-6b77eb41934d" ||
		!p.ValidUntil.Equal(time.Date(2026, 12, 1, 10, 15, 0, 0, time.UTC)) || rec.Failures != 1 {
		t.Errorf("read %+v (pending %+v)", rec, p)
	}
}
