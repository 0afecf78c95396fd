package backend

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
)

// TestPerformanceStandbyForwardsTokenPaths is a backend on a performance
// standby (Vault Enterprise, or an OpenBao standby serving reads): creds
// reads, the cache listing and purges are answered with ErrReadOnly before
// the handler runs, which makes the server forward them to the active
// node, so no standby mints a token of its own or registers a lease on
// read-only storage. Config and role reads are served locally. The same
// backend on a performance secondary, which issues its own leases, serves
// them all.
func TestPerformanceStandbyForwardsTokenPaths(t *testing.T) {
	t.Parallel()
	forwarded := []struct {
		op   logical.Operation
		path string
	}{
		{logical.ReadOperation, "creds/wf"},
		{logical.ReadOperation, "cache"},
		{logical.UpdateOperation, "cache/purge"},
	}
	for name, tc := range map[string]struct {
		state       consts.ReplicationState
		wantForward bool
	}{
		"performance standby":   {consts.ReplicationPerformanceStandby, true},
		"performance secondary": {consts.ReplicationPerformanceSecondary, false},
		"no replication":        {0, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The config and role are written as the active node would
			// have written them to the shared storage.
			active := newSCMEnv(t)

			sys := newSystemView()
			sys.ReplicationStateVal = tc.state
			node := newTestEnvOn(t, sys)
			node.storage = active.storage
			node.vendor = active.vendor
			active.vendor.ResetStats()

			for _, f := range forwarded {
				resp, err := node.do(f.op, f.path, nil)
				if tc.wantForward {
					if !errors.Is(err, logical.ErrReadOnly) {
						t.Errorf("%s %s: %v %v, want logical.ErrReadOnly", f.op, f.path, resp, err)
					}
					continue
				}
				if err != nil || resp.IsError() {
					t.Errorf("%s %s: %v %v", f.op, f.path, err, resp.Error())
				}
			}
			wantCalls := int64(1)
			if tc.wantForward {
				wantCalls = 0
			}
			if n := active.vendor.Stats().Requests; n != wantCalls {
				t.Errorf("the node made %d vendor calls, want %d", n, wantCalls)
			}
			for _, path := range []string{"config/scm", "roles/wf"} {
				node.mustOK(logical.ReadOperation, path, nil)
			}
		})
	}
}

// TestCachePurgeOfNothingWarns: a purge naming a config or role that does
// not exist says so; one naming an existing object with nothing cached,
// or one that purged something, does not.
func TestCachePurgeOfNothingWarns(t *testing.T) {
	t.Parallel()
	e := newSCMEnv(t)
	cases := map[string]struct {
		data   map[string]any
		purged int
		warn   string
	}{
		"unknown config":           {map[string]any{"config": "scm-prd"}, 0, `config "scm-prd" does not exist`},
		"unknown role":             {map[string]any{"role": "wildfir"}, 0, `role "wildfir" does not exist`},
		"existing, nothing cached": {map[string]any{"config": "scm"}, 0, ""},
		"existing, cached":         {map[string]any{"role": "wf"}, 1, ""},
	}
	for _, name := range []string{"unknown config", "unknown role", "existing, nothing cached", "existing, cached"} {
		tc := cases[name]
		if tc.purged > 0 {
			e.mustOK(logical.ReadOperation, "creds/wf", nil)
		}
		resp := e.mustOK(logical.UpdateOperation, "cache/purge", tc.data)
		e.validate("cache/purge", logical.UpdateOperation, resp)
		warnings := strings.Join(resp.Warnings, "\n")
		if resp.Data["purged"] != tc.purged || (tc.warn == "") != (warnings == "") || !strings.Contains(warnings, tc.warn) {
			t.Errorf("%s: purged %v, warnings %q; want %d and %q", name, resp.Data["purged"], warnings, tc.purged, tc.warn)
		}
	}
}

// TestUnmetMinTTLIsBoundedAndTold: a role whose min_ttl is longer than the
// config's tokens live is told so when written (once a token's lifetime is
// known), and its reads share the cached token on the normal schedule,
// each with a warning that the cache listing repeats.
func TestUnmetMinTTLIsBoundedAndTold(t *testing.T) {
	t.Parallel()
	e := newSCMEnv(t)
	e.mustOK(logical.ReadOperation, "creds/wf", nil) // a 15-minute token is cached

	w := e.mustOK(logical.UpdateOperation, "roles/greedy", map[string]any{"config": "scm", "min_ttl": "2h"})
	if got := strings.Join(w.Warnings, "\n"); !strings.Contains(got, "min_ttl 2h0m0s cannot be met") || !strings.Contains(got, "live 14m59s") {
		t.Errorf("role write warnings: %q", got)
	}
	e.vendor.ResetStats()
	var last *logical.Response
	for range 20 {
		last = e.mustOK(logical.ReadOperation, "creds/greedy", nil)
	}
	if n := e.vendor.Stats().Requests; n > 1 {
		t.Errorf("20 reads with an unmeetable min_ttl made %d vendor calls, want at most 1", n)
	}
	want := []string{"min_ttl 2h0m0s", `role "greedy"`, `config "scm"`, "at least half their lifetime"}
	got := strings.Join(last.Warnings, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("read warnings %q do not say %q", got, w)
		}
	}
	rows := e.mustOK(logical.ReadOperation, "cache", nil).Data
	row, _ := rows["scm tsg_id:1234567890"].(map[string]any)
	if ws, _ := row["warnings"].([]string); len(ws) != 1 || ws[0] != last.Warnings[0] {
		t.Errorf("cache row warnings %v, want the read's", row["warnings"])
	}

	w = e.mustOK(logical.UpdateOperation, "roles/short", map[string]any{"config": "scm", "min_ttl": "5m", "ttl": "1m"})
	if got := strings.Join(w.Warnings, "\n"); !strings.Contains(got, "min_ttl 5m0s is longer than ttl 1m0s") {
		t.Errorf("role write warnings: %q", got)
	}
	if w := e.mustOK(logical.UpdateOperation, "roles/fine", map[string]any{"config": "scm", "min_ttl": "5m"}); w != nil {
		t.Errorf("a meetable min_ttl warned: %q", w.Warnings)
	}
}

// TestUnleasedReadCarriesLastVaultRotation: lease=false data carries the
// token's issue time for Vault Secrets Operator, next to ttl and
// rotation_period; a leased read does not.
func TestUnleasedReadCarriesLastVaultRotation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	e.mustOK(logical.UpdateOperation, "roles/nl", map[string]any{"config": "scm", "lease": false})
	e.mustOK(logical.UpdateOperation, "roles/leased", map[string]any{"config": "scm"})
	resp := e.mustOK(logical.ReadOperation, "creds/nl", nil)
	e.validate("creds/nl", logical.ReadOperation, resp)
	info, ok := e.vendor.Check(resp.Data["access_token"].(string))
	if !ok {
		t.Fatal("the token is not valid at the vendor")
	}
	rotated, err := time.Parse(time.RFC3339, resp.Data["last_vault_rotation"].(string))
	if err != nil {
		t.Fatalf("last_vault_rotation: %v", err)
	}
	if d := rotated.Sub(info.IssuedAt); d < -time.Second || d > time.Second {
		t.Errorf("last_vault_rotation %s, the vendor issued the token at %s", rotated, info.IssuedAt)
	}
	expires, _ := time.Parse(time.RFC3339, resp.Data["expires_at"].(string))
	if period := resp.Data["rotation_period"].(int64); expires.Sub(rotated) != time.Duration(period)*time.Second {
		t.Errorf("last_vault_rotation %s + rotation_period %ds is not expires_at %s", rotated, period, expires)
	}
	if _, has := e.mustOK(logical.ReadOperation, "creds/leased", nil).Data["last_vault_rotation"]; has {
		t.Error("a leased read carries last_vault_rotation")
	}
}

// TestConcurrentPartialConfigWritesKeepEveryField writes one field each
// from several writers at once, each verifying its config with the vendor
// first: every field must survive.
func TestConcurrentPartialConfigWritesKeepEveryField(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	updates := map[string]any{
		"request_timeout":       "11s",
		"default_token_ttl":     "12m",
		"auth_failure_cooldown": "13s",
		"tsg_id":                "1234567891",
	}
	got := e.writeEachAtOnce("config/scm", updates)
	want := map[string]any{"request_timeout": int64(11), "default_token_ttl": int64(720), "auth_failure_cooldown": int64(13), "tsg_id": "1234567891"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v after concurrent writes, want %#v", k, got[k], v)
		}
	}
}

// TestConcurrentPartialRoleWritesKeepEveryField is the same for a role.
func TestConcurrentPartialRoleWritesKeepEveryField(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	e.mustOK(logical.UpdateOperation, "roles/r", map[string]any{"config": "scm"})
	updates := map[string]any{"ttl": "11m", "min_ttl": "3m", "tsg_id": "1234567891", "lease": false}
	got := e.writeEachAtOnce("roles/r", updates)
	want := map[string]any{"ttl": int64(660), "min_ttl": int64(180), "tsg_id": "1234567891", "lease": false}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v after concurrent writes, want %#v", k, got[k], v)
		}
	}
}

// writeEachAtOnce writes each field of updates to path from a goroutine of
// its own, all at once, and returns what a read of path gives afterwards.
func (e *testEnv) writeEachAtOnce(path string, updates map[string]any) map[string]any {
	e.t.Helper()
	done := make(chan error, len(updates))
	for field, v := range updates {
		go func() {
			resp, err := e.do(logical.UpdateOperation, path, map[string]any{field: v})
			if err == nil && resp.IsError() {
				err = resp.Error()
			}
			done <- err
		}()
	}
	for range updates {
		if err := <-done; err != nil {
			e.t.Fatalf("write %s: %v", path, err)
		}
	}
	return e.mustOK(logical.ReadOperation, path, nil).Data
}
