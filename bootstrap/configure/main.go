// Command configure puts vault-plugin-secrets-palo into a running Vault and
// configures it from a declarative file; bootstrap/configure.sh runs it.
// Idempotent: a second run with the same inputs changes nothing and says so.
//
// Against the Vault in VAULT_ADDR (with VAULT_TOKEN, or the CLI's token file
// ~/.vault-token) it:
//
//  1. copies the plugin binary into the plugin directory, if --plugin-dir is
//     given;
//  2. registers it in the plugin catalog with its sha256 and version;
//  3. enables the secrets engine at the mount, or, when the mount runs
//     another version, tunes it to this one and reloads the plugin;
//  4. writes the configs and roles of the declarative file (--file), and one
//     ACL policy per team that may read its own roles' tokens and nothing
//     else.
//
// Before anything is written, the whole file is checked and resolved: its
// own rules here (decl.go), and every config and role written into an
// in-memory instance of the engine itself (engine.go), so that a field the
// engine would refuse stops the run, and --dry-run reports nothing it could
// not do.
//
// Secrets never appear in the file: a config names the environment variable
// or file that holds each one (client_secret_env, access_secret_file, ...).
// They go to Vault in the request body and are never printed. Since the
// engine never returns a secret, a config is written only when a field a
// read returns differs, unless --rotate-secrets is given.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// options are the settings of a run: flags, else the environment, else the
// defaults.
type options struct {
	file, pluginBin, pluginDir, pluginCommand, pluginName string
	version, mount, policyPrefix, reloadScope             string
	rotate, dryRun                                        bool
}

const usageHead = `Usage: bootstrap/configure.sh [options]

Registers and mounts vault-plugin-secrets-palo in the Vault at VAULT_ADDR and
writes configs, roles and team policies from a declarative JSON file
(bootstrap/README.md describes it). Options, each also read from the
environment variable shown:
`

func parseOptions(args []string, stdout, stderr io.Writer) (*options, int, bool) {
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	o := &options{}
	fs := flag.NewFlagSet("configure.sh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.file, "file", env("BOOTSTRAP_FILE", ""), "declarative `FILE` (BOOTSTRAP_FILE); without it only the plugin and the mount are set up")
	fs.StringVar(&o.pluginBin, "plugin-bin", env("PLUGIN_BIN", "bin/vault-plugin-secrets-palo"), "plugin binary `PATH` (PLUGIN_BIN)")
	fs.StringVar(&o.pluginDir, "plugin-dir", env("PLUGIN_DIR", ""), "copy the binary into Vault's plugin directory `DIR` first (PLUGIN_DIR)")
	fs.StringVar(&o.pluginCommand, "plugin-command", env("PLUGIN_COMMAND", ""), "file `NAME` of the binary in the plugin directory (PLUGIN_COMMAND; default: the binary's base name)")
	fs.StringVar(&o.pluginName, "plugin-name", env("PLUGIN_NAME", "vault-plugin-secrets-palo"), "catalog `NAME` (PLUGIN_NAME)")
	fs.StringVar(&o.version, "version", env("PLUGIN_VERSION", "v0.1.0"), "`VERSION` stamped in the binary (PLUGIN_VERSION)")
	fs.StringVar(&o.mount, "mount", env("MOUNT_PATH", "palo"), "`PATH` the engine is mounted at (MOUNT_PATH)")
	fs.StringVar(&o.policyPrefix, "policy-prefix", env("POLICY_PREFIX", ""), "team policies are named `PREFIX`<team> (POLICY_PREFIX; default \"<mount>-\")")
	fs.StringVar(&o.reloadScope, "reload-scope", env("RELOAD_SCOPE", ""), "pass `SCOPE` to the plugin reload: global for Vault Enterprise performance standbys and replication (RELOAD_SCOPE)")
	fs.BoolVar(&o.rotate, "rotate-secrets", false, "write every config, so that changed secrets are stored even when no readable field changed")
	fs.BoolVar(&o.dryRun, "dry-run", false, "report what would change; write nothing")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, 0, false
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, 1, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "configure.sh: unknown argument %q\n", fs.Arg(0))
		fs.Usage()
		return nil, 1, false
	}
	o.mount = strings.Trim(o.mount, "/")
	if o.pluginCommand == "" {
		o.pluginCommand = filepath.Base(o.pluginBin)
	}
	if o.policyPrefix == "" {
		o.policyPrefix = strings.ReplaceAll(o.mount, "/", "-") + "-"
	}
	return o, 0, true
}

func main() {
	o, code, ok := parseOptions(os.Args[1:], os.Stdout, os.Stderr)
	if !ok {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "configure.sh: %v\n", err)
		os.Exit(1)
	}
}
