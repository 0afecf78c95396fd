package vaulttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vault-palo/vault-plugin-secrets-palo/bootstrap/configure"
)

// Binaries are the programs under test.
type Binaries struct {
	// Vault is the vault binary (server, CLI and Agent).
	Vault string
	// Plugin is the plugin binary, built with its version stamped.
	Plugin string
	// PluginVersion is the version stamped into Plugin.
	PluginVersion string
	// FakeVendor is the fake vendor command.
	FakeVendor string
	// Configure is the palo-configure command, which scripts/cluster.sh
	// runs (StartCluster fails the test when it is missing).
	Configure string
}

// PluginName is the name the plugin is registered under.
const PluginName = configure.DefaultPluginName

// LoadBinaries reads the binaries from the environment that `make e2e`
// sets: VAULT_BIN, PLUGIN_BIN, PLUGIN_VERSION, FAKEVENDOR_BIN and
// CONFIGURE_BIN. Where one is unset it falls back to what make builds in
// the repository (.tools/bin/vault, bin/vault-plugin-secrets-palo,
// bin/fakevendor, bin/palo-configure, and the version in the VERSION file).
// It fails the test, naming the fix, if a binary is missing: an end-to-end
// test that silently skipped would prove nothing.
func LoadBinaries(t testing.TB) Binaries {
	t.Helper()
	root := repoRoot()
	version := os.Getenv("PLUGIN_VERSION")
	if version == "" {
		b, err := os.ReadFile(filepath.Join(root, "VERSION")) //nolint:gosec // G304: the repository's own file
		if err != nil {
			t.Fatalf("vaulttest: PLUGIN_VERSION is not set and the VERSION file cannot be read: %v", err)
		}
		version = strings.TrimSpace(string(b))
	}
	b := Binaries{
		Vault:         envOr("VAULT_BIN", filepath.Join(root, ".tools", "bin", "vault")),
		Plugin:        envOr("PLUGIN_BIN", filepath.Join(root, "bin", PluginName)),
		PluginVersion: version,
		FakeVendor:    envOr("FAKEVENDOR_BIN", filepath.Join(root, "bin", "fakevendor")),
		Configure:     envOr("CONFIGURE_BIN", filepath.Join(root, "bin", "palo-configure")),
	}
	for name, path := range map[string]string{"VAULT_BIN": b.Vault, "PLUGIN_BIN": b.Plugin, "FAKEVENDOR_BIN": b.FakeVendor} {
		if !executable(path) {
			t.Fatalf("vaulttest: %s: no executable at %s; run the end-to-end tests with `make e2e`, "+
				"which builds the binaries and sets VAULT_BIN, PLUGIN_BIN, PLUGIN_VERSION and FAKEVENDOR_BIN", name, path)
		}
	}
	return b
}

// LoadHydra returns the hydra binary: HYDRA_BIN (which `make e2e` sets from
// scripts/get-tool.sh hydra), else .tools/bin/hydra if that script built it
// before. Without either it fails the test under make, where a skip would
// prove nothing, and skips it elsewhere, naming the fix.
func LoadHydra(t testing.TB) string {
	t.Helper()
	bin := envOr("HYDRA_BIN", filepath.Join(repoRoot(), ".tools", "bin", "hydra"))
	if !executable(bin) {
		if os.Getenv("HYDRA_BIN") == "" && os.Getenv("MAKELEVEL") == "" {
			t.Skip("vaulttest: no hydra binary: set HYDRA_BIN=\"$(scripts/get-tool.sh hydra)\" or run `make e2e`")
		}
		t.Fatalf("vaulttest: HYDRA_BIN: no executable at %s; `scripts/get-tool.sh hydra` builds one", bin)
	}
	return bin
}

// executable reports whether path is a file that may be run.
func executable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// repoRoot is the nearest directory at or above the working directory (a
// test runs in its package's directory) that holds a go.mod, or "." if none
// does.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "."
}
