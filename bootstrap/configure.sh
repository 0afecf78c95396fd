#!/usr/bin/env bash
# bootstrap/configure.sh: put vault-plugin-secrets-palo into the Vault at
# VAULT_ADDR and configure it from a declarative file. Idempotent: a second
# run with the same inputs changes nothing and says so.
#
#   bootstrap/configure.sh --plugin-dir /etc/vault/plugins --file palo.json
#   bootstrap/configure.sh --help
#
# The work is done by the palo-configure program (its source is
# bootstrap/configure), which this runs with the same arguments. It uses,
# in order: CONFIGURE_BIN; a palo-configure next to this script (as a release
# is unpacked); inside a checkout with Go, bin/palo-configure built from the
# source by scripts/build.sh (seconds once Go's build cache is warm); else
# palo-configure on PATH. bootstrap/README.md describes the file, every option and how to
# install the release binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${CONFIGURE_BIN:-}"
if [[ -z "$bin" && -x "$here/palo-configure" ]]; then
  bin="$here/palo-configure"
elif [[ -z "$bin" && -f "$root/go.mod" && -d "$root/bootstrap/configure" ]] && command -v go >/dev/null 2>&1; then
  # Built beside its place and renamed, so that a run alongside never
  # executes half a binary.
  bin="$root/bin/palo-configure"
  "$root/scripts/build.sh" "$bin.$$" "" ./bootstrap/configure/cmd/palo-configure
  mv -f "$bin.$$" "$bin"
elif [[ -z "$bin" ]]; then
  bin="$(command -v palo-configure)" || {
    echo "configure.sh: no palo-configure: install it from a release (bootstrap/README.md), set CONFIGURE_BIN, or run this in a checkout with Go" >&2
    exit 1
  }
fi
# In a checkout, the plugin is the one `make build` builds.
if [[ -f "$root/go.mod" ]]; then
  export PLUGIN_BIN="${PLUGIN_BIN:-$root/bin/vault-plugin-secrets-palo}"
fi
exec "$bin" "$@"
