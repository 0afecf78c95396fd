package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

func TestRoleLifecycle(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	e.mustOK(logical.UpdateOperation, "roles/child", map[string]any{
		"config": "scm", "tsg_id": "1234567891", "ttl": "10m", "min_ttl": "5m", "lease": false,
	})
	read := e.mustOK(logical.ReadOperation, "roles/child", nil)
	e.validate("roles/child", logical.ReadOperation, read)
	want := map[string]any{"config": "scm", "tsg_id": "1234567891", "ttl": int64(600), "min_ttl": int64(300), "lease": false, "scope": ""}
	for k, v := range want {
		if read.Data[k] != v {
			t.Errorf("role %s = %#v, want %#v", k, read.Data[k], v)
		}
	}
	e.mustOK(logical.UpdateOperation, "roles/child", map[string]any{"ttl": "1m"})
	if read := e.mustOK(logical.ReadOperation, "roles/child", nil); read.Data["tsg_id"] != "1234567891" || read.Data["ttl"] != int64(60) {
		t.Errorf("partial role update: %v", read.Data)
	}
	list := e.mustOK(logical.ListOperation, "roles/", nil)
	if keys := list.Data["keys"].([]string); len(keys) != 1 || keys[0] != "child" {
		t.Errorf("list = %v", keys)
	}
	e.mustDelete("roles/child")
}

func TestRoleBadInput(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	e.mustOK(logical.UpdateOperation, "config/saas", e.demoConfig("paloalto_saas_security"))
	cases := map[string]badWrite{
		"missing config":     {map[string]any{}, []string{"config", "required"}},
		"config not found":   {map[string]any{"config": "nope"}, []string{"config", "nope", "does not exist"}},
		"scope on scm":       {map[string]any{"config": "scm", "scope": "x"}, []string{"scope", "paloalto_scm"}},
		"tsg_id on saas":     {map[string]any{"config": "saas", "tsg_id": "1234567890"}, []string{"tsg_id", "paloalto_scm only"}},
		"tsg_id not digits":  {map[string]any{"config": "scm", "tsg_id": "abc"}, []string{"tsg_id", "digits"}},
		"negative ttl":       {map[string]any{"config": "scm", "ttl": "-1m"}, []string{"ttl"}},
		"absurd ttl":         {map[string]any{"config": "scm", "ttl": "100000h"}, []string{"ttl", "range"}},
		"absurd min_ttl":     {map[string]any{"config": "scm", "min_ttl": "1000h"}, []string{"min_ttl", "range"}},
		"unknown field":      {map[string]any{"config": "scm", "max_ttl": "1h"}, []string{"max_ttl", "unknown"}},
		"lease not a bool":   {map[string]any{"config": "scm", "lease": "sometimes"}, []string{"lease"}},
		"ttl not a duration": {map[string]any{"config": "scm", "ttl": "later"}, []string{"ttl"}},
	}
	e.mustRefuse("roles/r", cases)
}

func TestCredsEveryProvider(t *testing.T) {
	t.Parallel()
	extras := map[string][]string{
		"paloalto_saas_security": {"tenant", "jti", "scope"},
		"paloalto_scm":           {"tsg_id", "scope"},
		"oracle_casb":            {"tenant_id"},
		"bright_pattern":         {},
		"oauth2":                 {"scope"},
	}
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			e.mustOK(logical.UpdateOperation, "config/acct", e.demoConfig(p))
			e.mustOK(logical.UpdateOperation, "roles/r", map[string]any{"config": "acct"})
			before := time.Now()
			resp := e.mustOK(logical.ReadOperation, "creds/r", nil)
			e.validate("creds/r", logical.ReadOperation, resp)

			tok, _ := resp.Data["access_token"].(string)
			info, ok := e.vendor.Check(tok)
			if !ok {
				t.Fatalf("token %q is not valid at the vendor", tok)
			}
			if resp.Data["token_type"] == "" {
				t.Error("no token_type")
			}
			for _, f := range extras[p] {
				if v, _ := resp.Data[f].(string); v == "" {
					t.Errorf("missing %s in %v", f, resp.Data)
				}
			}
			expiresAt, err := time.Parse(time.RFC3339, resp.Data["expires_at"].(string))
			if err != nil {
				t.Fatalf("expires_at: %v", err)
			}
			if d := expiresAt.Sub(info.ExpiresAt); d > time.Second || d < -2*time.Second {
				t.Errorf("expires_at %s, vendor says %s", expiresAt, info.ExpiresAt)
			}
			if resp.Secret == nil || resp.Secret.Renewable {
				t.Fatalf("want a non-renewable lease, got %#v", resp.Secret)
			}
			if leaseEnd := before.Add(resp.Secret.TTL); !leaseEnd.Before(info.ExpiresAt) {
				t.Errorf("lease ends %s, not before the token (%s)", leaseEnd, info.ExpiresAt)
			}
			if resp.Secret.TTL < time.Minute {
				t.Errorf("lease %s is needlessly short for a %s token", resp.Secret.TTL, info.ExpiresAt.Sub(info.IssuedAt))
			}
			left := resp.Data["expires_in"].(int64)
			if left <= int64(resp.Secret.TTL/time.Second) {
				t.Errorf("expires_in %d is not above the lease %s", left, resp.Secret.TTL)
			}
		})
	}
}

func TestCredsLeaseCappedByRoleAndMount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/saas", e.demoConfig("paloalto_saas_security"))
	e.mustOK(logical.UpdateOperation, "roles/short", map[string]any{"config": "saas", "ttl": "90s"})
	e.mustOK(logical.UpdateOperation, "roles/plain", map[string]any{"config": "saas"})
	if got := e.mustOK(logical.ReadOperation, "creds/short", nil).Secret.TTL; got != 90*time.Second {
		t.Errorf("role ttl 90s: lease %s", got)
	}
	// The SaaS token lives 7199 s; the lease is that less the 30 s margin,
	// under the mount's 12 h default.
	got := e.mustOK(logical.ReadOperation, "creds/plain", nil).Secret.TTL
	if got > 7169*time.Second || got < 7160*time.Second {
		t.Errorf("lease %s, want about 7169s", got)
	}
}

func TestCredsUnleasedRole(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	e.mustOK(logical.UpdateOperation, "roles/nl", map[string]any{"config": "scm", "lease": false})
	resp := e.mustOK(logical.ReadOperation, "creds/nl", nil)
	e.validate("creds/nl", logical.ReadOperation, resp)
	if resp.Secret != nil {
		t.Fatalf("lease=false returned a lease: %#v", resp.Secret)
	}
	ttl, period := resp.Data["ttl"].(int64), resp.Data["rotation_period"].(int64)
	if period != 899 || ttl < 800 || ttl >= resp.Data["expires_in"].(int64) {
		t.Errorf("ttl %d, rotation_period %d, expires_in %v", ttl, period, resp.Data["expires_in"])
	}
}

func TestCredsMissingRoleIs400NamingIt(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustBadRequest(logical.ReadOperation, "creds/nope", nil, `role "nope" does not exist`)
}

func TestCredsVendorFailureNamesConfigVendorStatusAndMessage(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cases := map[string]struct {
		provider string
		want     []string
	}{
		"scm invalid_client":      {"paloalto_scm", []string{"401", "invalid_client", "Client authentication failed"}},
		"oracle failure in a 200": {"oracle_casb", []string{"200", "No existing keys found for tenant"}},
		"bright pattern 401":      {"bright_pattern", []string{"401"}},
		"saas 401":                {"paloalto_saas_security", []string{"401"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := e.demoConfig(tc.provider)
			in["verify_connection"] = false
			const wrong = "s3cr3t-that-must-not-leak"
			if tc.provider == "oracle_casb" {
				in["access_key"] = "UNKNOWNKEY"
				in["access_secret"] = wrong
			} else {
				in["client_secret"] = wrong
			}
			cfg := "bad-" + strings.ReplaceAll(name, " ", "-")
			e.mustOK(logical.UpdateOperation, "config/"+cfg, in)
			e.mustOK(logical.UpdateOperation, "roles/"+cfg, map[string]any{"config": cfg})
			resp, err := e.do(logical.ReadOperation, "creds/"+cfg, nil)
			if err == nil {
				t.Fatalf("read succeeded: %v", resp)
			}
			code, _ := logical.RespondErrorCommon(&logical.Request{Operation: logical.ReadOperation}, resp, err)
			if code != http.StatusInternalServerError {
				t.Errorf("status %d, want 500", code)
			}
			msg := err.Error()
			for _, w := range append([]string{fmt.Sprintf("config %q", cfg), tc.provider}, tc.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, wrong) {
				t.Errorf("error leaks the secret: %s", msg)
			}
		})
	}
}

// rejectedConfig writes a bright_pattern config whose secret the vendor
// refuses, with a 10-minute credential-failure cooldown, and a role on it.
func (e *testEnv) rejectedConfig(config, role string) {
	e.t.Helper()
	in := e.demoConfig("bright_pattern")
	in["client_secret"] = "wrong-secret"
	in["verify_connection"] = false
	in["auth_failure_cooldown"] = "10m"
	e.mustOK(logical.UpdateOperation, "config/"+config, in)
	e.mustOK(logical.UpdateOperation, "roles/"+role, map[string]any{"config": config})
}

// rejectedReads reads creds/role n times, each of which must fail.
func (e *testEnv) rejectedReads(role string, n int) {
	e.t.Helper()
	for range n {
		if _, err := e.do(logical.ReadOperation, "creds/"+role, nil); err == nil {
			e.t.Fatal("read with a wrong secret succeeded")
		}
	}
}

func TestCredsCredentialFailureFailsFastUntilConfigWrite(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.rejectedConfig("bp", "bp")
	e.rejectedReads("bp", 5)
	if n := e.vendor.Stats().Requests; n != 1 {
		t.Errorf("vendor saw %d logins for 5 reads; want 1 (a Bright Pattern user can be locked out)", n)
	}
	e.mustOK(logical.UpdateOperation, "config/bp", map[string]any{"client_secret": e.demoConfig("bright_pattern")["client_secret"]})
	e.mustOK(logical.ReadOperation, "creds/bp", nil)
}

func TestCredsSharedTokenOneVendorCall(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	e.mustOK(logical.UpdateOperation, "roles/a", map[string]any{"config": "scm"})
	e.mustOK(logical.UpdateOperation, "roles/b", map[string]any{"config": "scm", "tsg_id": "1234567890"})
	e.mustOK(logical.UpdateOperation, "roles/child", map[string]any{"config": "scm", "tsg_id": "1234567891"})
	e.vendor.ResetStats()

	var wg sync.WaitGroup
	tokens := make([]string, 40)
	for i := range tokens {
		wg.Go(func() {
			role := []string{"a", "b"}[i%2]
			resp, err := e.do(logical.ReadOperation, "creds/"+role, nil)
			if err != nil {
				t.Errorf("read: %v", err)
				return
			}
			tokens[i] = resp.Data["access_token"].(string)
		})
	}
	wg.Wait()
	for _, tok := range tokens {
		if tok != tokens[0] {
			t.Fatal("roles resolving to the same config and TSG got different tokens")
		}
	}
	if n := e.vendor.Stats().Requests; n != 1 {
		t.Errorf("40 concurrent reads made %d vendor calls, want 1", n)
	}
	child := e.mustOK(logical.ReadOperation, "creds/child", nil)
	if child.Data["access_token"] == tokens[0] || child.Data["tsg_id"] != "1234567891" {
		t.Errorf("child TSG shares the parent token or reports the wrong TSG: %v", child.Data["tsg_id"])
	}
}

func TestCacheEndpoints(t *testing.T) {
	t.Parallel()
	e := newSCMEnv(t)
	tok := e.mustOK(logical.ReadOperation, "creds/wf", nil).Data["access_token"].(string)
	e.mustOK(logical.ReadOperation, "creds/wf", nil)

	resp := e.mustOK(logical.ReadOperation, "cache", nil)
	e.validate("cache", logical.ReadOperation, resp)
	row, _ := resp.Data["scm tsg_id:1234567890"].(map[string]any)
	if len(resp.Data) != 1 || row["config"] != "scm" || row["scope"] != "tsg_id:1234567890" || row["hits"] != uint64(1) ||
		row["vendor_calls"] != uint64(1) || row["http_requests"] != uint64(1) {
		t.Fatalf("cache rows = %v", resp.Data)
	}
	schema.ValidateResponseData(t, &framework.Response{Fields: cacheEntryFields()}, row, true)
	raw, _ := json.Marshal(resp.Data)
	if strings.Contains(string(raw), tok) {
		t.Error("the cache listing shows the token")
	}

	e.mustBadRequest(logical.UpdateOperation, "cache/purge", map[string]any{"config": "scm", "role": "wf"}, "at most one")
	purged := e.mustOK(logical.UpdateOperation, "cache/purge", map[string]any{"role": "wf"})
	e.validate("cache/purge", logical.UpdateOperation, purged)
	if purged.Data["purged"] != 1 {
		t.Errorf("purged = %v", purged.Data["purged"])
	}
	if again := e.mustOK(logical.ReadOperation, "creds/wf", nil).Data["access_token"]; again == tok {
		t.Error("read after purge returned the purged token")
	}
}

// TestSecretsNeverAppear drives every path, successes and failures, with
// logs at trace level, and scans every response and log line for the
// secrets.
func TestSecretsNeverAppear(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var seen []string
	record := func(resp *logical.Response, err error) {
		if resp != nil {
			raw, _ := json.Marshal(resp)
			seen = append(seen, string(raw), fmt.Sprintf("%#v", resp.Data))
		}
		if err != nil {
			seen = append(seen, err.Error())
		}
	}
	for _, p := range allProviders {
		name := strings.ReplaceAll(p, "_", "-")
		record(e.do(logical.UpdateOperation, "config/"+name, e.demoConfig(p)))
		record(e.do(logical.UpdateOperation, "roles/"+name, map[string]any{"config": name}))
		record(e.do(logical.ReadOperation, "config/"+name, nil))
		record(e.do(logical.ReadOperation, "creds/"+name, nil))
		record(e.do(logical.HelpOperation, "config/"+name, nil))
	}
	record(e.do(logical.ListOperation, "config/", nil))
	record(e.do(logical.ReadOperation, "cache", nil))
	// Failures: the vendor down, a wrong secret, bad input.
	if err := e.vendor.SetFaults(fakevendor.Faults{Outage: fakevendor.OutageHTML}); err != nil {
		t.Fatal(err)
	}
	record(e.do(logical.UpdateOperation, "config/outage", e.demoConfig("paloalto_scm")))
	if err := e.vendor.SetFaults(fakevendor.Faults{}); err != nil {
		t.Fatal(err)
	}
	bad := e.demoConfig("paloalto_scm")
	bad["client_secret"] = "demo-saas-secret-not-real" // another account's secret, refused here
	record(e.do(logical.UpdateOperation, "config/wrong", bad))
	record(e.do(logical.UpdateOperation, "config/paloalto-scm", map[string]any{"tsg_id": "not-digits", "client_secret": e.demoConfig("paloalto_scm")["client_secret"]}))
	// The metrics, after all of the above.
	_, metricsText := e.scrape()
	if !strings.Contains(metricsText, `config="paloalto-scm"`) {
		t.Fatal("the metrics report nothing of the configs; the scan would not be looking at them")
	}
	seen = append(seen, metricsText)

	// Rotation: successes, a refused and a lost reset, a failed store, a
	// refusal for another provider, and the reads around them. The secrets
	// the vendor hands out are added to the scan.
	secrets := demoSecrets()
	rotated := func() {
		c, err := readConfigEntry(context.Background(), e.storage, "paloalto-scm")
		if err != nil || c == nil {
			t.Fatalf("reading the config: %v", err)
		}
		secrets = append(secrets, c.Values["client_secret"])
	}
	record(e.do(logical.UpdateOperation, "config/paloalto-scm", map[string]any{"iam_url": e.vendor.URL, "client_secret": e.demoConfig("paloalto_scm")["client_secret"]}))
	record(e.do(logical.UpdateOperation, "config/paloalto-scm/rotate-root", nil))
	rotated()
	for _, f := range []fakevendor.IAMFaults{{RefuseReset: true}, {LoseResetNext: 1}, {LoseResetNext: provider.ResetAttempts}, {}} {
		if err := e.vendor.SetIAMFaults(f); err != nil {
			t.Fatal(err)
		}
		record(e.do(logical.UpdateOperation, "config/paloalto-scm/rotate-root", nil))
		record(e.do(logical.ReadOperation, "config/paloalto-scm", nil))
		record(e.do(logical.ReadOperation, "creds/paloalto-scm", nil))
		rotated()
	}
	fs := &putFailingStorage{Storage: e.storage}
	fs.failPut(configStoragePrefix)
	_, err := e.b.rotate(context.Background(), fs, "paloalto-scm", "manual")
	record(nil, err)
	record(e.do(logical.UpdateOperation, "config/paloalto-scm/rotate-root", nil))
	rotated()
	record(e.do(logical.UpdateOperation, "config/oauth2/rotate-root", nil))
	if n := e.resets(); n < 5 {
		t.Fatalf("the vendor reset the secret %d times; the rotation scan shows little", n)
	}

	all := strings.Join(seen, "\n") + "\n" + e.logs.String()
	if !strings.Contains(all, "fake-scm-") {
		t.Fatal("the scan saw no tokens at all; it is not looking at the responses")
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q appears in a response, error or log line", s[:6]+"...")
		}
	}
}

func TestLeaseTTL(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := func(lifetime, left time.Duration) tokenAt { return tokenAt{now.Add(left - lifetime), now.Add(left)} }
	cases := map[string]struct {
		tok     tokenAt
		limit   time.Duration
		want    time.Duration
		wantErr bool
	}{
		"15 min token, fresh":      {tok: tok(900*time.Second, 899*time.Second), want: 869 * time.Second},
		"2 h token":                {tok: tok(7199*time.Second, 7199*time.Second), want: 7169 * time.Second},
		"1 min token: margin 6s":   {tok: tok(time.Minute, time.Minute), want: 54 * time.Second},
		"20 s token: margin 2s":    {tok: tok(20*time.Second, 20*time.Second), want: 18 * time.Second},
		"limit caps":               {tok: tok(time.Hour, time.Hour), limit: time.Minute, want: time.Minute},
		"limit above the token":    {tok: tok(time.Hour, time.Hour), limit: 2 * time.Hour, want: time.Hour - 30*time.Second},
		"24 h token, 32 d default": {tok: tok(24*time.Hour, 24*time.Hour), limit: 768 * time.Hour, want: 24*time.Hour - 30*time.Second},
		"whole seconds":            {tok: tok(time.Hour, time.Hour-1500*time.Millisecond), want: time.Hour - 32*time.Second},
		"1 s token is refused":     {tok: tok(time.Second, time.Second), wantErr: true},
		"expired token is refused": {tok: tok(time.Hour, -time.Second), wantErr: true},
		"last second is refused":   {tok: tok(time.Hour, 30*time.Second), wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := leaseTTL(tc.tok.token(), now, tc.limit)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("lease %s, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("lease = %s, %v; want %s", got, err, tc.want)
			}
			if !now.Add(got).Before(tc.tok.expires) {
				t.Errorf("lease outlives the token")
			}
		})
	}
}

// tokenAt is a token's issue and expiry times, for lease table tests.
type tokenAt struct{ issued, expires time.Time }

func (ta tokenAt) token() provider.Token {
	return provider.Token{AccessToken: "t", IssuedAt: ta.issued, ExpiresAt: ta.expires}
}

func TestCredsMissingLifetimeUsesDefaultTokenTTLWithWarning(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	if err := e.vendor.SetFaults(fakevendor.Faults{ExpiresIn: fakevendor.ExpiresInOmit}); err != nil {
		t.Fatal(err)
	}
	in := e.demoConfig("bright_pattern")
	in["default_token_ttl"] = "5m"
	w := e.mustOK(logical.UpdateOperation, "config/bp", in)
	if w == nil || len(w.Warnings) == 0 || !strings.Contains(w.Warnings[0], "no lifetime") {
		t.Errorf("config write warnings: %v", w)
	}
	e.mustOK(logical.UpdateOperation, "roles/bp", map[string]any{"config": "bp"})
	resp := e.mustOK(logical.ReadOperation, "creds/bp", nil)
	if !strings.Contains(strings.Join(resp.Warnings, " "), "default_token_ttl") {
		t.Errorf("creds warnings: %v", resp.Warnings)
	}
	if left := resp.Data["expires_in"].(int64); left > 300 || left < 290 {
		t.Errorf("expires_in %d, want about 300 (default_token_ttl)", left)
	}
	if resp.Secret.TTL >= 300*time.Second {
		t.Errorf("lease %s does not end before the assumed expiry", resp.Secret.TTL)
	}
}

func TestCredsShortLivedTokensAreLeasedWithAProportionalMargin(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	if err := e.vendor.SetLifetime("oauth2", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	e.mustOK(logical.UpdateOperation, "config/o", e.demoConfig("oauth2"))
	e.mustOK(logical.UpdateOperation, "roles/o", map[string]any{"config": "o"})
	e.vendor.ResetStats()
	first := e.mustOK(logical.ReadOperation, "creds/o", nil)
	// 20 s token: margin 2 s, so the lease is about 17-18 s.
	if ttl := first.Secret.TTL; ttl < 15*time.Second || ttl > 18*time.Second {
		t.Errorf("lease %s for a 20s token", ttl)
	}
	second := e.mustOK(logical.ReadOperation, "creds/o", nil)
	if second.Data["access_token"] != first.Data["access_token"] || e.vendor.Stats().Requests != 1 {
		t.Errorf("a fresh 20s token was not shared: %d vendor calls", e.vendor.Stats().Requests)
	}

	if err := e.vendor.SetLifetime("oauth2", time.Second); err != nil {
		t.Fatal(err)
	}
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	_, err := e.do(logical.ReadOperation, "creds/o", nil)
	if err == nil || !strings.Contains(err.Error(), "life left") {
		t.Errorf("a 1s token: want a clear error, got %v", err)
	}
}
