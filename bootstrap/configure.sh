#!/usr/bin/env bash
# bootstrap/configure.sh: put vault-plugin-secrets-palo into the Vault at
# VAULT_ADDR and configure it from a declarative file. Idempotent: a second
# run with the same inputs changes nothing and says so.
#
#   bootstrap/configure.sh --plugin-dir /etc/vault/plugins --file palo.json
#   bootstrap/configure.sh --help
#
# The work is done by the Go program in bootstrap/configure (its package
# documentation says what it does, in order); this builds it as
# bin/palo-configure (again only when its sources changed) and runs it with
# the same arguments. bootstrap/README.md describes the file and every
# option.
#
# Needs Go, the toolchain that builds the plugin.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v go >/dev/null 2>&1 ||
  { echo "configure.sh: needs Go (the toolchain that builds the plugin)" >&2; exit 1; }
export PLUGIN_BIN="${PLUGIN_BIN:-$root/bin/vault-plugin-secrets-palo}"

bin="$root/bin/palo-configure"
go -C "$root" build -trimpath -o "$bin" ./bootstrap/configure
exec "$bin" "$@"
