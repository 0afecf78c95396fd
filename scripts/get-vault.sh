#!/usr/bin/env bash
# Provides a `vault` binary (server, CLI and Agent in one) and prints its path
# on the last line of stdout.
#
#   1. VAULT_BIN, if set, is used as is.
#   2. A `vault` on PATH is used if it is at least the pinned version.
#   3. .tools/bin/vault is used if it is (or links to) a build of the pin.
#   4. Otherwise Vault is built from the Go module proxy (scripts/vaultbuild,
#      a small module whose main calls Vault's command.Run) into
#      ~/.cache/vault-plugin-secrets-palo, so that every clone on this
#      machine shares it, and .tools/bin/vault links to it: one copy of a
#      binary of about 360 MB, not two. Where that folder cannot be
#      written, the build goes into .tools/bin itself.
#
# The first build takes about 10 minutes on an idle 2-core machine and much
# longer on a busy one, and needs about 4.7 GB of memory at its peak.
#
# Why a pin: Vault's go.mod replaces its own sdk and api modules with in-tree
# copies, so `go install github.com/hashicorp/vault@latest` is refused, and
# the newest releases' in-tree SDK matches no published vault/sdk tag. v1.21.0
# builds against the published sdk v0.20.0 and api v1.22.0 it requires
# (v1.21.4 does not). The pin lives in scripts/vaultbuild/go.mod.
#
# VAULT_BUILD_DIR=scripts/vaultcompat/vX.Y.Z (make compat) builds that module's
# Vault instead, into .tools/bin/vault-X.Y.Z, and takes no vault from
# VAULT_BIN or PATH: a compatibility run needs exactly that version.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="${VAULT_BUILD_DIR:-$root/scripts/vaultbuild}"
exact=${VAULT_BUILD_DIR:+1}
pin="$(grep -Eo 'github.com/hashicorp/vault v[0-9][^ ]*' "$build_dir/go.mod" | head -n1 | cut -d" " -f2)"
pin="${pin#v}"
[[ -n "$pin" ]] || { echo "get-vault: cannot read the pinned version from $build_dir/go.mod" >&2; exit 1; }

log() { echo "get-vault: $*" >&2; }

version_of() { # prints X.Y.Z of a vault binary, or nothing
  "$1" version 2>/dev/null | sed -n 's/^Vault v\([0-9][0-9.]*\).*/\1/p' | head -n1
}

at_least() { # at_least have want
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

if [[ -z "$exact" && -n "${VAULT_BIN:-}" ]]; then
  [[ -x "$VAULT_BIN" ]] || { log "VAULT_BIN=$VAULT_BIN is not executable"; exit 1; }
  echo "$VAULT_BIN"
  exit 0
fi

if [[ -z "$exact" ]] && on_path="$(command -v vault 2>/dev/null)"; then
  v="$(version_of "$on_path")"
  if [[ -n "$v" ]] && at_least "$v" "$pin"; then
    log "using $on_path (Vault $v)"
    echo "$on_path"
    exit 0
  fi
  log "ignoring $on_path (Vault ${v:-unknown}; need $pin or newer)"
fi

out="$root/.tools/bin/vault${exact:+-$pin}"
stamp="$root/.tools/bin/.vault${exact:+-$pin}.version"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/vault-plugin-secrets-palo"
cached="$cache_dir/vault-$pin"
mkdir -p "$root/.tools/bin"

if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$pin" ]]; then
  echo "$out"
  exit 0
fi

# use BINARY: points .tools/bin/vault at BINARY (a link when it lives
# elsewhere) and prints the path.
use() {
  if [[ "$1" != "$out" ]]; then
    ln -sfn "$1" "$out"
  fi
  echo "$pin" >"$stamp"
  echo "$out"
}

if [[ -x "$cached" && "$(version_of "$cached")" == "$pin" ]]; then
  log "using the Vault $pin built earlier on this machine ($cached)"
  use "$cached"
  exit 0
fi

target="$cached"
if ! mkdir -p "$cache_dir" 2>/dev/null || [[ ! -w "$cache_dir" ]]; then
  log "cannot write $cache_dir: building into .tools/bin instead"
  target="$out"
fi
rm -f "$out" # a stale link or copy
log "building Vault $pin from the Go module proxy into $target (first time only: about"
log "10 minutes on an idle 2-core machine, longer on a busy one, up to 4.7 GB of memory)"
start=$SECONDS
(
  cd "$build_dir"
  log "downloading modules..."
  go mod download
  log "compiling (a dot per 50 packages)..."
  go build -v -trimpath -ldflags "-s -w" -o "$target.tmp.$$" . 2>&1 |
    awk '{ n++; if (n % 50 == 0) { printf "." > "/dev/stderr"; fflush("/dev/stderr") } }
         END { printf " %d packages\n", n > "/dev/stderr" }'
)
[[ -x "$target.tmp.$$" ]] || { log "the build produced no binary"; exit 1; }
got="$(version_of "$target.tmp.$$")"
[[ "$got" == "$pin" ]] || { rm -f "$target.tmp.$$"; log "built binary reports version '$got', expected $pin"; exit 1; }
mv "$target.tmp.$$" "$target"
log "built Vault $pin in $((SECONDS - start))s"
use "$target"
