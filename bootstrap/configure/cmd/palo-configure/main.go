// Command palo-configure puts vault-plugin-secrets-palo into the Vault at
// VAULT_ADDR and configures it from a declarative file: the package
// bootstrap/configure does the work, in the order its documentation gives.
// It ships as a static release binary beside the plugin, so an operator
// needs no Go toolchain; bootstrap/configure.sh runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/vault/api"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend"
	"github.com/vault-palo/vault-plugin-secrets-palo/bootstrap/configure"
)

const usageHead = `Usage: palo-configure [options]   (or bootstrap/configure.sh [options])

Registers and mounts vault-plugin-secrets-palo in the Vault at VAULT_ADDR and
writes configs, roles and team policies from a declarative JSON file
(bootstrap/README.md describes it). Options, each also read from the
environment variable shown:
`

// parseOptions reads the flags, else the environment, else the defaults.
// It returns false with the exit code when the program should stop (help
// printed, or a bad argument).
func parseOptions(args []string, stdout, stderr io.Writer) (configure.Options, int, bool) {
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	var o configure.Options
	fs := flag.NewFlagSet("palo-configure", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.File, "file", env("BOOTSTRAP_FILE", ""), "declarative `FILE` (BOOTSTRAP_FILE); without it only the plugin and the mount are set up")
	fs.StringVar(&o.PluginBin, "plugin-bin", env("PLUGIN_BIN", "bin/vault-plugin-secrets-palo"), "plugin binary `PATH` (PLUGIN_BIN)")
	fs.StringVar(&o.PluginDir, "plugin-dir", env("PLUGIN_DIR", ""), "copy the binary into Vault's plugin directory `DIR` first (PLUGIN_DIR)")
	fs.StringVar(&o.PluginCommand, "plugin-command", env("PLUGIN_COMMAND", ""), "file `NAME` of the binary in the plugin directory (PLUGIN_COMMAND; default: the binary's base name)")
	fs.StringVar(&o.PluginName, "plugin-name", env("PLUGIN_NAME", configure.DefaultPluginName), "catalog `NAME` (PLUGIN_NAME)")
	fs.StringVar(&o.Version, "version", env("PLUGIN_VERSION", backend.Version), "`VERSION` stamped in the plugin binary (PLUGIN_VERSION; default: this program's own version)")
	fs.StringVar(&o.Mount, "mount", env("MOUNT_PATH", "palo"), "`PATH` the engine is mounted at (MOUNT_PATH)")
	fs.StringVar(&o.PolicyPrefix, "policy-prefix", env("POLICY_PREFIX", ""), "team policies are named `PREFIX`<team> (POLICY_PREFIX; default \"<mount>-\")")
	fs.StringVar(&o.ReloadScope, "reload-scope", env("RELOAD_SCOPE", ""), "pass `SCOPE` to the plugin reload: global for Vault Enterprise performance standbys and replication (RELOAD_SCOPE)")
	fs.BoolVar(&o.RotateSecrets, "rotate-secrets", false, "write every config, so that changed secrets are stored even when no readable field changed (never the secret of a config the engine rotates)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "report what would change; write nothing")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return o, 0, false
		}
	}
	if err := fs.Parse(args); err != nil {
		return o, 1, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "palo-configure: unknown argument %q\n", fs.Arg(0))
		fs.Usage()
		return o, 1, false
	}
	if strings.Trim(o.Mount, "/") == "" {
		fmt.Fprintln(stderr, "palo-configure: --mount must not be empty")
		return o, 1, false
	}
	return o, 0, true
}

// client is a Vault client from the environment, as the vault CLI sets one
// up: VAULT_ADDR, VAULT_CACERT, VAULT_NAMESPACE, ..., and VAULT_TOKEN or the
// token in ~/.vault-token.
func client() (*api.Client, error) {
	if os.Getenv("VAULT_ADDR") == "" {
		return nil, errors.New("VAULT_ADDR is not set: point it at your Vault (and set VAULT_TOKEN or log in)")
	}
	c, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("cannot set up a Vault client: %w", err)
	}
	if c.Token() == "" {
		if home, err := os.UserHomeDir(); err == nil {
			if b, err := os.ReadFile(filepath.Join(home, ".vault-token")); err == nil { //nolint:gosec // G304: the vault CLI's token file
				c.SetToken(strings.TrimSpace(string(b)))
			}
		}
	}
	return c, nil
}

func main() {
	o, code, ok := parseOptions(os.Args[1:], os.Stdout, os.Stderr)
	if !ok {
		os.Exit(code)
	}
	c, err := client()
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = configure.Run(ctx, c, o, os.Stdout, os.Stderr)
		stop()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "palo-configure: %v\n", err)
		os.Exit(1)
	}
}
