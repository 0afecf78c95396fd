//go:build e2e

package e2e

import (
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// pluginRestartWait bounds how long Vault may take to serve the mount again
// after its plugin process died.
const pluginRestartWait = 60 * time.Second

// TestPluginProcessKilled kills the plugin process (by its pid) while a
// reader is reading creds: Vault starts a new plugin process, every config
// and role is still there, and reads work again. No read ever returns a
// token the fake vendor did not mint.
func TestPluginProcessKilled(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	v := p.Vault
	creds := p.Path("creds", "wildfire")
	token(t, p, "", creds)
	oldPid := v.WaitPluginPid(t, vaulttest.PluginName, 30*time.Second)

	// A reader through the API client, until told to stop. Errors are
	// expected while the plugin restarts; tokens are checked afterwards.
	client := v.Client(t)
	stop := make(chan struct{})
	var (
		mu       sync.Mutex
		tokens   []string
		failures int
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			s, err := client.Logical().Read(creds)
			mu.Lock()
			if err != nil || s == nil {
				failures++
			} else if at, ok := s.Data["access_token"].(string); ok {
				tokens = append(tokens, at)
			}
			mu.Unlock()
		}
	})
	stopReader := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopReader)

	if err := syscall.Kill(oldPid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the plugin (pid %d): %v", oldPid, err)
	}
	vaulttest.Eventually(t, pluginRestartWait, 200*time.Millisecond, "a read after the plugin was killed", func() error {
		r := v.CLI(t, "read", "-field=access_token", creds)
		if !r.OK() {
			return errors.New(r.Stderr)
		}
		return nil
	})
	newPid := v.WaitPluginPid(t, vaulttest.PluginName, 30*time.Second)
	if newPid == oldPid {
		t.Fatalf("the plugin still runs as pid %d", oldPid)
	}
	stopReader()
	t.Logf("the reader made %d good reads and %d failed ones around the kill", len(tokens), failures)
	if len(tokens) == 0 {
		t.Fatal("the reader never read a token")
	}
	for _, tok := range slices.Compact(tokens) {
		if c := p.Vendor.Check(t, tok); !c.Minted {
			t.Fatalf("a read returned a token the fake vendor never minted")
		}
	}

	assertSetupsIntact(t, p, p.Mount)
}

// assertSetupsIntact checks that every config and role of p is listed and
// readable under mount, and that every role reads a valid token.
func assertSetupsIntact(t *testing.T, p *vaulttest.Palo, mount string) {
	t.Helper()
	var configs, roles []string
	for _, s := range p.Setups {
		configs = append(configs, s.Config)
		roles = append(roles, s.Role)
	}
	for what, want := range map[string][]string{"config": configs, "roles": roles} {
		var got []string
		p.Vault.CLIJSON(t, vaulttest.CLIOptions{}, &got, "list", mount+"/"+what)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("list %s/%s = %v, want %v", mount, what, got, want)
		}
	}
	for _, s := range p.Setups {
		cfg := readJSON(t, p.Vault, "", mount+"/config/"+s.Config)
		if got := str(t, cfg.Data, "provider"); got != s.Provider {
			t.Fatalf("config %s: provider %q, want %q", s.Config, got, s.Provider)
		}
		token(t, p, "", mount+"/creds/"+s.Role)
	}
}

// TestDisableAndReenable disables the mount while a lease of it is
// outstanding (revoking it cannot fail: there is nothing to revoke at the
// vendor), and enables it again: the new mount is empty, and usable.
func TestDisableAndReenable(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	v := p.Vault
	s, _ := token(t, p, "", p.Path("creds", "wildfire"))

	v.MustCLI(t, "secrets", "disable", p.Mount)
	if _, ok := mounts(t, v)[p.Mount+"/"]; ok {
		t.Fatalf("%s/ is still mounted after secrets disable", p.Mount)
	}
	mustFail(t, v, "", http.StatusBadRequest, "lease", "lookup", s.LeaseID)
	mustFail(t, v, "", http.StatusNotFound, "read", p.Path("creds", "wildfire"))
	if c := p.Vendor.Check(t, str(t, s.Data, "access_token")); !c.Valid {
		t.Fatalf("the vendor token of the revoked lease is no longer valid: %+v", c)
	}

	v.MustCLI(t, "secrets", "enable", "-path="+p.Mount, vaulttest.PluginName)
	for _, what := range []string{"config", "roles"} {
		r := v.CLI(t, "list", p.Path(what))
		if r.OK() || !strings.Contains(r.Stderr, "No value found") {
			t.Fatalf("the re-enabled mount still lists %s:\n%s", what, r)
		}
	}
	r := v.CLI(t, "read", p.Path("creds", "wildfire"))
	if r.OK() || !strings.Contains(r.Stderr, "wildfire") {
		t.Fatalf("the re-enabled mount still has the wildfire role:\n%s", r)
	}
	for _, s := range p.Setups {
		v.WriteSetup(t, p.Mount, p.Vendor, s)
	}
	assertSetupsIntact(t, p, p.Mount)
}

// TestSecretsMove moves the mount with `vault secrets move`: configs and
// roles come along unchanged and work at the new path, the old path is
// gone, the old mount's lease is revoked (as Vault documents for a move),
// and the new mount's leases are revocable by prefix.
func TestSecretsMove(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	v := p.Vault
	s, _ := token(t, p, "", p.Path("creds", "wildfire"))
	before := map[string]map[string]any{}
	for _, su := range p.Setups {
		before[su.Config] = readJSON(t, v, "", p.Path("config", su.Config)).Data
		before[su.Role] = readJSON(t, v, "", p.Path("roles", su.Role)).Data
	}

	const dest = "vendors/palo"
	out := v.MustCLI(t, "secrets", "move", p.Mount, dest)
	if !strings.Contains(out, "Success") {
		t.Fatalf("unexpected output of secrets move: %s", out)
	}
	m := mounts(t, v)
	if _, ok := m[p.Mount+"/"]; ok || m[dest+"/"].Type != vaulttest.PluginName {
		t.Fatalf("after the move, mounts are %v; want %s/ gone and %s/ of type %s", m, p.Mount, dest, vaulttest.PluginName)
	}
	mustFail(t, v, "", http.StatusNotFound, "read", p.Path("creds", "wildfire"))
	// As documented for `vault secrets move`, the old mount's leases are
	// revoked; revoking cannot touch the vendor token, which stays valid.
	mustFail(t, v, "", http.StatusBadRequest, "lease", "lookup", s.LeaseID)
	mustFail(t, v, "", http.StatusBadRequest, "lease", "lookup", dest+strings.TrimPrefix(s.LeaseID, p.Mount))
	if c := p.Vendor.Check(t, str(t, s.Data, "access_token")); !c.Valid {
		t.Fatalf("the vendor token of the revoked lease is no longer valid: %+v", c)
	}
	for _, su := range p.Setups {
		if got := readJSON(t, v, "", dest+"/config/"+su.Config).Data; !reflect.DeepEqual(got, before[su.Config]) {
			t.Fatalf("config %s after the move: %v, before: %v", su.Config, got, before[su.Config])
		}
		if got := readJSON(t, v, "", dest+"/roles/"+su.Role).Data; !reflect.DeepEqual(got, before[su.Role]) {
			t.Fatalf("role %s after the move: %v, before: %v", su.Role, got, before[su.Role])
		}
	}
	assertSetupsIntact(t, p, dest)

	// The new mount's leases are its own, and revocable by prefix.
	var leases []string
	v.CLIJSON(t, vaulttest.CLIOptions{}, &leases, "list", "sys/leases/lookup/"+dest+"/creds/wildfire")
	if len(leases) != 1 {
		t.Fatalf("leases under %s/creds/wildfire: %v, want the one read after the move", dest, leases)
	}
	v.MustCLI(t, "lease", "revoke", "-prefix", dest+"/creds/wildfire")
	mustFail(t, v, "", http.StatusNotFound, "list", "sys/leases/lookup/"+dest+"/creds/wildfire")
}
