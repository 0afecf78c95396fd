//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// TestPluginRegistration registers the plugin as an operator does (sha256
// and version), and checks that the catalog and the mount show that
// version and checksum, and that a wrong checksum or version is refused.
func TestPluginRegistration(t *testing.T) {
	t.Parallel()
	bins := vaulttest.LoadBinaries(t)
	v := vaulttest.StartDev(t, bins.Vault, vaulttest.DevOptions{})
	sum := v.RegisterPlugin(t, bins.PaloPlugin())
	want, err := vaulttest.SHA256File(bins.Plugin)
	if err != nil {
		t.Fatal(err)
	}
	if sum != want {
		t.Fatalf("registered sha256 %s, binary's is %s", sum, want)
	}

	var info struct {
		SHA256  string `json:"sha256"`
		Version string `json:"version"`
		Command string `json:"command"`
		Builtin bool   `json:"builtin"`
	}
	v.CLIJSON(t, vaulttest.CLIOptions{}, &info, "plugin", "info", "-version="+bins.PluginVersion, "secret", vaulttest.PluginName)
	if info.SHA256 != sum || info.Version != bins.PluginVersion || info.Command != vaulttest.PluginName || info.Builtin {
		t.Fatalf("catalog entry %+v, want sha256 %s, version %s and command %s, not builtin", info, sum, bins.PluginVersion, vaulttest.PluginName)
	}

	list := v.MustCLI(t, "plugin", "list", "-detailed", "secret")
	if !lineWith(list, vaulttest.PluginName, bins.PluginVersion) {
		t.Fatalf("`vault plugin list -detailed secret` shows no %s %s line:\n%s", vaulttest.PluginName, bins.PluginVersion, list)
	}

	v.MustCLI(t, "secrets", "enable", "-path=palo", vaulttest.PluginName)
	var mounts map[string]struct {
		Type                  string `json:"type"`
		RunningPluginVersion  string `json:"running_plugin_version"`
		RunningSha256         string `json:"running_sha256"`
		PluginVersionOverride string `json:"plugin_version"`
	}
	v.CLIJSON(t, vaulttest.CLIOptions{}, &mounts, "secrets", "list", "-detailed")
	m, ok := mounts["palo/"]
	if !ok {
		t.Fatalf("no palo/ mount in %v", mounts)
	}
	if m.Type != vaulttest.PluginName || m.RunningPluginVersion != bins.PluginVersion || m.RunningSha256 != sum {
		t.Fatalf("palo/ mount %+v, want type %s running version %s and sha256 %s", m, vaulttest.PluginName, bins.PluginVersion, sum)
	}
	table := v.MustCLI(t, "secrets", "list", "-detailed")
	if !lineWith(table, "palo/", bins.PluginVersion) {
		t.Fatalf("`vault secrets list -detailed` shows no version on the palo/ line:\n%s", table)
	}

	// Refusals: a version the binary does not report, and a checksum that
	// is not the binary's.
	r := v.CLI(t, "plugin", "register", "-sha256="+sum, "-command="+vaulttest.PluginName, "-version=v9.9.9", "secret", vaulttest.PluginName)
	if r.OK() || !strings.Contains(r.Stderr, "version mismatch") {
		t.Fatalf("registering the %s binary as v9.9.9 must fail with a version mismatch:\n%s", bins.PluginVersion, r)
	}
	p := bins.PaloPlugin()
	p.Name, p.Command, p.Version = "palo-wrong-sum", "palo-wrong-sum", ""
	v.RegisterPlugin(t, p)
	bad := strings.Repeat("0", 64)
	v.MustCLI(t, "plugin", "register", "-sha256="+bad, "-command="+p.Command, "secret", p.Name)
	if r := v.CLI(t, "secrets", "enable", "-path=wrong-sum", p.Name); r.OK() || !strings.Contains(r.Stderr, "checksums did not match") {
		t.Fatalf("a plugin with a wrong sha256 must not mount (checksums did not match):\n%s", r)
	}
}

// lineWith reports whether one line of out contains every word.
func lineWith(out string, words ...string) bool {
	for line := range strings.SplitSeq(out, "\n") {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			return true
		}
	}
	return false
}

// TestPluginReload reloads the plugin with `vault plugin reload`: a new
// plugin process serves the mount with its configs and roles, and since the
// token cache lives in memory only, the next read fetches a new token.
func TestPluginReload(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	v := p.Vault
	_, before := token(t, p, "", p.Path("creds", "wildfire"))
	oldPid := v.WaitPluginPid(t, vaulttest.PluginName, 30*time.Second)
	_, again := token(t, p, "", p.Path("creds", "wildfire"))
	if again != before {
		t.Fatalf("a second read before the reload fetched a new token; the cache should have served the first")
	}
	calls := p.Vendor.Stats(t).Requests

	out := v.MustCLI(t, "plugin", "reload", "-plugin="+vaulttest.PluginName)
	if !strings.Contains(out, "Success") {
		t.Fatalf("unexpected reload output: %s", out)
	}
	_, after := token(t, p, "", p.Path("creds", "wildfire"))
	newPid := v.WaitPluginPid(t, vaulttest.PluginName, 30*time.Second)
	if newPid == oldPid {
		t.Fatalf("the plugin still runs as pid %d after the reload", oldPid)
	}
	if after == before {
		t.Fatal("the read after the reload returned the token cached before it")
	}
	if got := p.Vendor.Stats(t).Requests; got != calls+1 {
		t.Fatalf("vendor token requests went from %d to %d over one read after the reload, want one more", calls, got)
	}
	for _, s := range p.Setups {
		readJSON(t, v, "", p.Path("config", s.Config))
		readJSON(t, v, "", p.Path("roles", s.Role))
	}
}

// TestMountTuning checks that the mount's default_lease_ttl and
// max_lease_ttl, and a role's ttl, bound the lease, and that without them
// the lease ends before the token. The engine keeps the mount's TTLs for a
// second (so cached reads make no round trip to Vault): a tune takes effect
// on the reads that start a second after it. A lease=false role's ttl gets
// the same bounds, less a second.
func TestMountTuning(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	v := p.Vault
	creds := p.Path("creds", "wildfire")

	s, _ := token(t, p, "", creds)
	lifetime := int64(fakevendor.DefaultLifetime(fakevendor.ProviderSCM) / time.Second)
	if exp := num(t, s.Data, "expires_in"); int64(s.LeaseDuration) >= exp || exp > lifetime {
		t.Fatalf("untuned: lease_duration %d, expires_in %d; want lease < expires_in <= %d", s.LeaseDuration, exp, lifetime)
	}
	// tuneBound is how late a tune may take effect (the engine's
	// mountTTLMaxAge).
	const tuneBound = time.Second

	steps := []struct {
		name string
		args []string // a command that changes the bounds
		want int      // the lease afterwards, in seconds
	}{
		{"mount default", []string{"secrets", "tune", "-default-lease-ttl=2m", "-max-lease-ttl=5m", p.Mount}, 120},
		{"role ttl above the mount default", []string{"write", p.Path("roles", "wildfire"), "config=scm-prod", "ttl=4m"}, 240},
		{"role ttl capped by the mount max", []string{"secrets", "tune", "-max-lease-ttl=3m", p.Mount}, 180},
		{"role ttl below both", []string{"write", p.Path("roles", "wildfire"), "config=scm-prod", "ttl=45s"}, 45},
		{"mount max below the role ttl", []string{"secrets", "tune", "-default-lease-ttl=20s", "-max-lease-ttl=30s", p.Mount}, 30},
	}
	for _, step := range steps {
		v.MustCLI(t, step.args...)
		if step.args[0] == "secrets" {
			time.Sleep(tuneBound) // the bound under test: no fake clock reaches into Vault
		}
		s, _ := token(t, p, "", creds)
		if s.LeaseDuration != step.want || s.Renewable {
			t.Fatalf("%s: lease_duration %d renewable %t, want %d and not renewable", step.name, s.LeaseDuration, s.Renewable, step.want)
		}
	}

	// lease=false: ttl is what the lease would have been, less a second,
	// under the mount default 20s and max 30s.
	for role, want := range map[string]int64{"ttl=0": 19, "ttl=4m": 29} {
		v.MustCLI(t, "write", p.Path("roles", "unleased"), "config=scm-prod", "lease=false", role)
		s := readJSON(t, v, "", p.Path("creds", "unleased"))
		if got := num(t, s.Data, "ttl"); got != want || s.LeaseDuration != 0 {
			t.Errorf("lease=false with %s: ttl %d, lease_duration %d; want ttl %d and no lease", role, got, s.LeaseDuration, want)
		}
	}
}
