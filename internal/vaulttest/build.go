package vaulttest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildTimeout bounds one `go build` of the plugin: 20 to 40 seconds on a
// cold cache on 2 cores, about 2 once the packages are cached.
const buildTimeout = 5 * time.Minute

// versionSymbol is the variable a build stamps the plugin's version into.
const versionSymbol = "github.com/vault-palo/vault-plugin-secrets-palo/backend.Version"

// BuildPlugin builds the plugin from this repository, as `make build` does
// but with version stamped, into dir/vault-plugin-secrets-palo-<version>,
// and returns it as a Plugin for RegisterPlugin: two builds registered as
// two versions of one plugin need two file names. It fails the test if the
// build fails.
func BuildPlugin(t testing.TB, dir, version string) Plugin {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("vaulttest: building the plugin needs the go command on PATH: %v", err)
	}
	command := PluginName + "-" + version
	out := filepath.Join(dir, command)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags", "-X "+versionSymbol+"="+version, "-o", out, ".")
	cmd.Dir = repoRoot()
	// The test's own environment, HOME included, so the build cache is
	// the usual one.
	cmd.Env = os.Environ()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vaulttest: build the plugin %s: %v\n%s", version, err, b)
	}
	return Plugin{Name: PluginName, Binary: out, Version: version, Command: command}
}
