//go:build e2e

package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// TestSecretsNeverLeak gives every provider's account a unique canary
// secret, passes it to the vault CLI in each way a user can (argument,
// stdin, @file), and runs everything a user or operator would around it:
// successful and refused writes, reads, lists, creds, cache, path-help,
// updates and deletes. No canary may appear in any CLI output, in the Vault
// server log at trace level (which carries the plugin's own log), in the
// audit log, or in the fake vendor's log.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	canary := "canary-" + rand.Text()
	accounts := fakevendor.DemoAccounts()
	var secrets []string
	for i := range accounts {
		s := canary + "-" + accounts[i].Provider
		if accounts[i].Provider == fakevendor.ProviderOracleCASB {
			accounts[i].AccessSecret = s
		} else {
			accounts[i].ClientSecret = s
		}
		secrets = append(secrets, s)
	}
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{
		Dev:        vaulttest.DevOptions{LogLevel: "trace"},
		FakeVendor: vaulttest.FakeVendorOptions{Accounts: accounts},
		NoSetups:   true,
	})
	v := p.Vault
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	v.MustCLI(t, "audit", "enable", "file", "file_path="+auditLog)

	var outputs []vaulttest.Result
	run := func(o vaulttest.CLIOptions, wantOK bool, args ...string) {
		t.Helper()
		r := v.CLIWith(t, o, args...)
		if r.OK() != wantOK {
			t.Fatalf("want success %t:\n%s", wantOK, r)
		}
		outputs = append(outputs, r)
	}
	jsonOut := vaulttest.CLIOptions{Env: []string{"VAULT_FORMAT=json"}}
	secretDir := t.TempDir()

	for i, s := range vaulttest.VendorSetups(t, p.Vendor, accounts) {
		key := "client_secret"
		if s.Provider == fakevendor.ProviderOracleCASB {
			key = "access_secret"
		}
		secret := s.Fields[key]
		var args []string
		for _, a := range s.ConfigArgs(p.Vendor) {
			if !strings.HasPrefix(a, key+"=") {
				args = append(args, a)
			}
		}
		config := p.Path("config", s.Config)

		// A wrong secret: the vendor refuses it, and so does the write,
		// with the vendor's error and without the secret.
		wrong := "wrong-" + secret
		run(vaulttest.CLIOptions{}, false, append([]string{"write", config, key + "=" + wrong}, args...)...)

		// The right secret, passed in turn as an argument, on stdin and
		// from a file.
		switch i % 3 {
		case 0:
			run(vaulttest.CLIOptions{}, true, append([]string{"write", config, key + "=" + secret}, args...)...)
		case 1:
			run(vaulttest.CLIOptions{Stdin: secret}, true, append([]string{"write", config, key + "=-"}, args...)...)
		default:
			file := filepath.Join(secretDir, s.Config)
			if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			run(vaulttest.CLIOptions{}, true, append([]string{"write", config, key + "=@" + file}, args...)...)
		}
		run(vaulttest.CLIOptions{}, true, "write", p.Path("roles", s.Role), "config="+s.Config)
		run(vaulttest.CLIOptions{}, true, "read", config)
		run(jsonOut, true, "read", config)
		run(jsonOut, true, "read", p.Path("creds", s.Role))
		run(vaulttest.CLIOptions{}, true, "read", p.Path("creds", s.Role))
		// An update without the secret keeps it, and a wrong one is
		// refused again on an existing config.
		run(vaulttest.CLIOptions{}, true, "write", config, "request_timeout=20s")
		run(jsonOut, false, "write", config, key+"="+wrong)
		run(vaulttest.CLIOptions{}, true, "read", "-field=access_token", p.Path("creds", s.Role))
		secrets = append(secrets, wrong)
	}
	run(vaulttest.CLIOptions{}, true, "list", p.Path("config"))
	run(jsonOut, true, "read", p.Path("cache"))
	run(vaulttest.CLIOptions{}, true, "write", "-force", p.Path("cache", "purge"))
	run(vaulttest.CLIOptions{}, true, "path-help", p.Path("config", "scm-prod"))
	run(jsonOut, true, "read", "sys/internal/specs/openapi")
	for _, s := range vaulttest.VendorSetups(t, p.Vendor, accounts) {
		run(vaulttest.CLIOptions{}, true, "read", p.Path("creds", s.Role))
		run(vaulttest.CLIOptions{}, true, "delete", p.Path("roles", s.Role))
		run(vaulttest.CLIOptions{}, true, "delete", p.Path("config", s.Config))
	}

	// The secrets were really used: every account got tokens.
	stats := p.Vendor.Stats(t)
	for _, a := range accounts {
		if stats.ByAccount[a.ID()].Successes == 0 {
			t.Fatalf("the fake vendor issued no token to %v; the test did not exercise its secret", a)
		}
	}

	logs := map[string]string{
		"the Vault server log": v.Log(),
		"the fake vendor log":  p.Vendor.Log(),
	}
	b, err := os.ReadFile(auditLog) //nolint:gosec // the test's own file
	if err != nil {
		t.Fatal(err)
	}
	logs["the audit log"] = string(b)
	// The logs must hold what the test looks through: plugin lines in the
	// server log, and the config writes in the audit log.
	if !strings.Contains(logs["the Vault server log"], "secrets."+vaulttest.PluginName) {
		t.Fatalf("the Vault server log has no line from the plugin; the test would prove nothing")
	}
	if !strings.Contains(logs["the audit log"], `"path":"palo/config/scm-prod"`) {
		t.Fatalf("the audit log has no config write; the test would prove nothing")
	}

	for _, secret := range secrets {
		for _, r := range outputs {
			if strings.Contains(r.Output(), secret) {
				t.Errorf("a secret appears in the output of `vault %s`", strings.Join(vaulttest.RedactArgs(r.Args), " "))
			}
		}
		for name, log := range logs {
			if strings.Contains(log, secret) {
				t.Errorf("a secret appears in %s", name)
			}
		}
	}
	// The canary prefix alone catches a partial leak (a truncated secret).
	for name, log := range logs {
		if strings.Contains(log, canary) {
			t.Errorf("part of a secret appears in %s", name)
		}
	}
	for _, r := range outputs {
		if strings.Contains(r.Output(), canary) {
			t.Errorf("part of a secret appears in the output of `vault %s`", strings.Join(vaulttest.RedactArgs(r.Args), " "))
		}
	}
}
