// Package configure puts vault-plugin-secrets-palo into a running Vault and
// configures it from a declarative file. It is the one code that registers
// and mounts the plugin and writes its configs: the palo-configure command
// (cmd/palo-configure, shipped as a release binary and run by
// bootstrap/configure.sh), the dev and demo scripts and the cluster script
// (through that command) and the test harness (internal/vaulttest, through
// Register, Run and Apply) all use it. Idempotent: a second run with the
// same inputs changes nothing and says so.
//
// Against a Vault, Run:
//
//  1. copies the plugin binary into the plugin directory, if
//     Options.PluginDir is given;
//  2. registers it in the plugin catalog with its sha256 and version;
//  3. enables the secrets engine at the mount, or, when the mount runs
//     another version, tunes it to this one and reloads the plugin;
//  4. writes the configs and roles of the declarative file, and one ACL
//     policy per team that may read its own roles' tokens and nothing else.
//
// Before anything is written, the whole file is checked and resolved: its
// own rules here (decl.go), and every config and role written into an
// in-memory instance of the engine itself (engine.go), so that a field the
// engine would refuse stops the run, and a dry run reports nothing it could
// not do.
//
// Secrets never appear in the file: a config names the environment variable
// or file that holds each one (client_secret_env, access_secret_file, ...).
// They go to Vault in the request body and are never printed. Since the
// engine never returns a secret, a config is written only when a field a
// read returns differs, unless Options.RotateSecrets is set. A config whose
// secret the engine keeps itself (one it rotates, or one that signs with a
// key made in Vault) never gets a secret from here once it exists: see
// secretKeeper in vault.go.
package configure
