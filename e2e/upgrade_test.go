//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// The two versions the upgrade test builds and moves between.
const (
	upgradeOld = "v0.1.0"
	upgradeNew = "v0.2.0"
)

// mountVersion is a mount's plugin version as `vault secrets list -detailed`
// reports it.
type mountVersion struct {
	// Pinned is the version the mount is set to (-plugin-version).
	Pinned string `json:"plugin_version"`
	// Running and RunningSHA256 are those of the plugin serving it now.
	Running       string `json:"running_plugin_version"`
	RunningSHA256 string `json:"running_sha256"`
}

func readMountVersion(t *testing.T, v *vaulttest.Server, mount string) mountVersion {
	t.Helper()
	var mounts map[string]mountVersion
	v.CLIJSON(t, vaulttest.CLIOptions{}, &mounts, "secrets", "list", "-detailed")
	m, ok := mounts[mount+"/"]
	if !ok {
		t.Fatalf("no %s/ mount", mount)
	}
	return m
}

// TestUpgradeAndRollback registers two builds of the plugin as two
// versions, mounts the old one, writes a config and role per vendor, moves
// the mount to the new version with `vault secrets tune -plugin-version`
// and `vault plugin reload -plugin`, and shows the new version running with
// every config and role intact and reads working; then rolls back the same
// way (reloading just the mount through sys/plugins/reload/backend) and
// checks again, including a role the new version wrote.
func TestUpgradeAndRollback(t *testing.T) {
	t.Parallel()
	bins := vaulttest.LoadBinaries(t)
	buildDir := t.TempDir()
	old := vaulttest.BuildPlugin(t, buildDir, upgradeOld)
	newer := vaulttest.BuildPlugin(t, buildDir, upgradeNew)

	fv := vaulttest.StartFakeVendor(t, bins.FakeVendor, vaulttest.FakeVendorOptions{})
	v := vaulttest.StartDev(t, bins.Vault, vaulttest.DevOptions{})
	oldSum := v.RegisterPlugin(t, old)
	newSum := v.RegisterPlugin(t, newer)
	const mount = "palo"
	v.MustCLI(t, "secrets", "enable", "-path="+mount, "-plugin-version="+upgradeOld, vaulttest.PluginName)
	setups := vaulttest.VendorSetups(t, fv, nil)
	for _, s := range setups {
		v.WriteSetup(t, mount, fv, s)
	}
	scm := setups[0]
	for _, s := range setups {
		if s.Provider == fakevendor.ProviderSCM {
			scm = s
		}
	}
	v.MustCLI(t, "write", mount+"/roles/child", "config="+scm.Config, "tsg_id="+scm.Account.TSGIDs[1], "ttl=5m", "min_ttl=1m")

	p := &vaulttest.Palo{Bins: bins, Vault: v, Vendor: fv, Mount: mount, Setups: setups}
	readAll := func(roles ...string) {
		t.Helper()
		for _, s := range setups {
			roles = append(roles, s.Role)
		}
		for _, role := range roles {
			token(t, p, "", p.Path("creds", role))
		}
	}
	requireVersion := func(step string, pinned, running, sum, command string) {
		t.Helper()
		m := readMountVersion(t, v, mount)
		if m.Pinned != pinned || m.Running != running || m.RunningSHA256 != sum {
			t.Fatalf("%s: the mount is pinned to %q and runs %q (sha256 %s); want pinned %q running %q (sha256 %s)",
				step, m.Pinned, m.Running, m.RunningSHA256, pinned, running, sum)
		}
		if command != "" {
			// The process serving the mount is the build of that version.
			v.WaitPluginPid(t, command, 30*time.Second)
		}
	}

	readAll("child")
	requireVersion("before the upgrade", upgradeOld, upgradeOld, oldSum, old.Command)
	want := readMountState(t, v, mount)

	// Upgrade. Tuning alone changes what the mount is pinned to, not what
	// runs; the reload starts the new version.
	v.MustCLI(t, "secrets", "tune", "-plugin-version="+upgradeNew, mount+"/")
	requireVersion("after the tune", upgradeNew, upgradeOld, oldSum, "")
	v.MustCLI(t, "plugin", "reload", "-plugin="+vaulttest.PluginName)
	readAll("child")
	requireVersion("after the upgrade", upgradeNew, upgradeNew, newSum, newer.Command)
	if got := readMountState(t, v, mount); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the upgrade the mount holds:\n%v\nwant:\n%v", got, want)
	}

	// The new version writes a role; the old one must read it after the
	// rollback.
	v.MustCLI(t, "write", mount+"/roles/added", "config="+scm.Config, "ttl=10m")
	want = readMountState(t, v, mount)

	// Rollback: the same two steps. This reloads only the one mount.
	v.MustCLI(t, "secrets", "tune", "-plugin-version="+upgradeOld, mount+"/")
	v.MustCLI(t, "write", "sys/plugins/reload/backend", "mounts="+mount+"/")
	readAll("child", "added")
	requireVersion("after the rollback", upgradeOld, upgradeOld, oldSum, old.Command)
	if got := readMountState(t, v, mount); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the rollback the mount holds:\n%v\nwant:\n%v", got, want)
	}
	if pids, err := v.PluginPids(newer.Command); err != nil || len(pids) != 0 {
		t.Fatalf("after the rollback, processes of %s still run: %v (%v)", newer.Command, pids, err)
	}
}

// TestUpgradeReadsOlderStorageEntries is a unit-level check of the storage
// contract: configs and roles as stored without schema_version (0, before
// versioning) and with schema_version 1 are read and used, and so are
// entries from a newer schema carrying a field this version does not know
// (what a rollback meets). Updating an old entry stores it at the current
// schema version and keeps its secret. The entries are written to storage
// byte for byte, so a change to the stored format breaks this test.
func TestUpgradeReadsOlderStorageEntries(t *testing.T) {
	t.Parallel()
	vendor := fakevendor.NewTLSTestServer(t, fakevendor.DemoAccounts()...)
	scm, _ := fakevendor.DemoAccount(fakevendor.ProviderSCM)
	storage := &logical.InmemStorage{}
	b, err := backend.Factory(context.Background(), &logical.BackendConfig{
		Logger:      hclog.NewNullLogger(),
		System:      &logical.StaticSystemView{DefaultLeaseTTLVal: time.Hour, MaxLeaseTTLVal: 24 * time.Hour},
		StorageView: storage,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Cleanup(context.Background()) })

	// A config as stored, without its schema_version; the cases add one.
	config := map[string]any{
		"provider":              fakevendor.ProviderSCM,
		"token_url":             vendor.URL + fakevendor.TokenPath(fakevendor.ProviderSCM),
		"client_id":             scm.ClientID,
		"client_secret":         scm.ClientSecret,
		"tsg_id":                scm.TSGIDs[0],
		"ca_cert":               string(vendor.TLS.CACertPEM),
		"request_timeout":       int64(30 * time.Second),
		"default_token_ttl":     int64(15 * time.Minute),
		"auth_failure_cooldown": int64(30 * time.Second),
		"verify_connection":     true,
	}
	role := map[string]any{"ttl": int64(10 * time.Minute), "min_ttl": int64(0)}
	cases := map[string]map[string]any{
		"unversioned": nil,
		"v1":          {"schema_version": 1},
		"future":      {"schema_version": 2, "a_field_from_a_newer_schema": "x"},
	}

	do := func(op logical.Operation, path string, data map[string]any) *logical.Response {
		t.Helper()
		resp, err := b.HandleRequest(context.Background(), &logical.Request{
			Operation: op, Path: path, Data: data, Storage: storage, MountPoint: "palo/",
		})
		// A write answers nothing (204) or warnings; a read, data.
		if err != nil || resp.IsError() || (resp == nil && op == logical.ReadOperation) {
			t.Fatalf("%s %s: %v (response %#v)", op, path, err, resp)
		}
		return resp
	}
	// put stores the union of parts as the JSON entry key.
	put := func(key string, parts ...map[string]any) {
		t.Helper()
		entry := map[string]any{}
		for _, part := range parts {
			maps.Copy(entry, part)
		}
		raw, err := json.Marshal(entry)
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.Put(context.Background(), &logical.StorageEntry{Key: key, Value: raw}); err != nil {
			t.Fatal(err)
		}
	}

	for name, extra := range cases {
		put("config/"+name, config, extra)
		put("roles/"+name, role, extra, map[string]any{"config": name})
	}
	for name := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := do(logical.ReadOperation, "config/"+name, nil)
			if cfg.Data["provider"] != fakevendor.ProviderSCM || cfg.Data["client_id"] != scm.ClientID || cfg.Data["tsg_id"] != scm.TSGIDs[0] {
				t.Fatalf("config/%s reads as %v", name, cfg.Data)
			}
			if _, leaked := cfg.Data["client_secret"]; leaked {
				t.Fatalf("config/%s returned its client_secret", name)
			}
			r := do(logical.ReadOperation, "roles/"+name, nil)
			if r.Data["config"] != name {
				t.Fatalf("roles/%s reads as %v", name, r.Data)
			}
			creds := do(logical.ReadOperation, "creds/"+name, nil)
			at, _ := creds.Data["access_token"].(string)
			if info, valid := vendor.Check(at); !valid || info.Account != scm.ClientID {
				t.Fatalf("creds/%s returned a token the fake vendor does not hold valid for %s: %+v", name, scm.ClientID, info)
			}
			if creds.Secret == nil || creds.Secret.TTL <= 0 || creds.Secret.TTL > 10*time.Minute {
				t.Fatalf("creds/%s: lease %v, want at most the role's ttl of 10m", name, creds.Secret)
			}
		})
	}

	// Updating the unversioned config stores it at the current schema
	// version, keeping the secret it did not name.
	do(logical.UpdateOperation, "config/unversioned", map[string]any{"request_timeout": 20})
	raw, err := storage.Get(context.Background(), "config/unversioned")
	if err != nil || raw == nil {
		t.Fatalf("config/unversioned after the update: %v", err)
	}
	var stored map[string]any
	if err := json.Unmarshal(raw.Value, &stored); err != nil {
		t.Fatal(err)
	}
	if stored["schema_version"] != float64(1) || stored["client_secret"] != scm.ClientSecret || stored["request_timeout"] != float64(20*time.Second) {
		t.Fatalf("config/unversioned after an update holds schema_version %v and request_timeout %v; client_secret kept: %t",
			stored["schema_version"], stored["request_timeout"], stored["client_secret"] == scm.ClientSecret)
	}
	if !strings.HasPrefix(do(logical.ReadOperation, "creds/unversioned", nil).Data["access_token"].(string), "fake-scm-") {
		t.Fatal("creds/unversioned after the update returned no SCM token")
	}
}
