#!/usr/bin/env bash
# Runs the whole end-to-end suite against every Vault version in
# tools/vault/v*/ (each built once from the Go module proxy into the
# cache by scripts/get-vault.sh, about 18 minutes per version on 2 cores):
# make e2e with VAULT_BIN set to that Vault. The default Vault
# (tools/vault) is the one make test uses.
# Usage: scripts/compat.sh [vX.Y.Z...]   (default: every version there)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
versions=("$@")
if [[ ${#versions[@]} -eq 0 ]]; then
  for d in tools/vault/v*/; do versions+=("$(basename "$d")"); done
fi
for v in "${versions[@]}"; do
  [[ -f "tools/vault/$v/go.mod" ]] || { echo "compat: no tools/vault/$v" >&2; exit 2; }
  vault_bin="$(VAULT_BUILD_DIR="$root/tools/vault/$v" scripts/get-vault.sh | tail -n1)"
  echo "compat: the e2e suite against $("$vault_bin" version) at $(git rev-parse --short HEAD)"
  VAULT_BIN="$vault_bin" make --no-print-directory e2e
  echo "compat: Vault $v passed on $(date -u +%F)"
done
