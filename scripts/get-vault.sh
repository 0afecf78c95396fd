#!/usr/bin/env bash
# Provides a `vault` binary (server, CLI and Agent in one) and prints its path
# on the last line of stdout.
#
#   1. VAULT_BIN, if set, is used as is.
#   2. A `vault` on PATH is used if it is at least the pinned version.
#   3. Otherwise scripts/get-tool.sh provides the tools module tools/vault:
#      .tools/bin/vault, linked to a build made once per machine in
#      ~/.cache/vault-plugin-secrets-palo from the Go module proxy and shared
#      by every clone (one copy of a binary of about 360 MB, not two).
#
# What the first build costs is in tools/vault/build.env, which the build
# states before it starts.
#
# Why a pin: Vault's go.mod replaces its own sdk and api modules with in-tree
# copies, so `go install github.com/hashicorp/vault@latest` is refused, and
# the newest releases' in-tree SDK matches no published vault/sdk tag. v1.21.0
# builds against the published sdk v0.20.0 and api v1.22.0 it requires
# (v1.21.4 does not). The pin lives in tools/vault/go.mod.
#
# VAULT_BUILD_DIR=tools/vault/vX.Y.Z (make compat) builds that module's Vault
# instead, into .tools/bin/vault-X.Y.Z, and takes no vault from VAULT_BIN or
# PATH: a compatibility run needs exactly that version.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
get_tool="$root/scripts/get-tool.sh"
if [[ -n "${VAULT_BUILD_DIR:-}" ]]; then
  exec "$get_tool" vault "$VAULT_BUILD_DIR"
fi
if [[ -n "${VAULT_BIN:-}" ]]; then
  exec "$get_tool" vault
fi

if on_path="$(command -v vault 2>/dev/null)" && [[ "$on_path" != "$root/.tools/bin/vault" ]]; then
  pin="$("$get_tool" --pin vault)"
  v="$("$on_path" version 2>/dev/null | sed -n 's/^Vault v\([0-9][0-9.]*\).*/\1/p' | head -n1)"
  if [[ -n "$v" && "$(printf '%s\n%s\n' "$pin" "$v" | sort -V | head -n1)" == "$pin" ]]; then
    echo "get-vault: using $on_path (Vault $v)" >&2
    echo "$on_path"
    exit 0
  fi
  echo "get-vault: ignoring $on_path (Vault ${v:-unknown}; need $pin or newer)" >&2
fi
exec "$get_tool" vault
