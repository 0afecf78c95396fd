#!/usr/bin/env bash
# Provides a program the tests run, built from the Go module proxy, and
# prints its path on the last line of stdout.
#
#   scripts/get-tool.sh NAME [DIR]     e.g. hydra, promtool, vault
#   scripts/get-tool.sh --pin NAME [DIR]   prints the pinned version only
#
# DIR (default tools/NAME) is a tools module: its go.mod declares the program
# with a `tool` directive and pins it (go.sum committed), and an optional
# build.env holds the tool's build settings, one KEY=value a line:
#   TAGS=a,b            go build -tags
#   FIRST_BUILD=...     what the first build costs, said before it starts
#   anything else       the environment of go build (CGO_ENABLED=1, ...)
#
#   1. NAME_BIN (HYDRA_BIN, PROMTOOL_BIN, ...), if set, is used as is.
#   2. .tools/bin/NAME is used if it is (or links to) a build of the pin.
#   3. Otherwise the program is built once per machine into
#      ~/.cache/vault-plugin-secrets-palo/NAME-<version>, shared by every
#      clone, and .tools/bin/NAME links to it. A build found there is used
#      if `go version -m` shows it was built from the pinned module version.
#      Where that folder cannot be written, the build goes into .tools/bin.
#
# A DIR given on the command line pins one version of several (make compat):
# its link is .tools/bin/NAME-<version>, and NAME_BIN is not consulted.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
pin_only=
if [[ "${1:-}" == --pin ]]; then
  pin_only=1
  shift
fi
name="${1:?usage: scripts/get-tool.sh [--pin] NAME [DIR]}"
dir="${2:-$root/tools/$name}"
exact=${2:+1}

log() { echo "get-tool $name: $*" >&2; }

[[ -f "$dir/go.mod" ]] || { log "no tools module at $dir"; exit 1; }
tool="$(sed -n 's/^tool[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$dir/go.mod" | head -n1)"
[[ -n "$tool" ]] || { log "$dir/go.mod has no tool directive"; exit 1; }
# The module that provides the tool: the longest required module path that
# is the tool's package path or a prefix of it.
read -r module version < <(awk -v tool="$tool" '
  { m = "" }
  $1 == "require" && $2 == "(" { block = 1; next }
  block && $1 == ")" { block = 0; next }
  $1 == "require" { m = $2; v = $3 }
  block { m = $1; v = $2 }
  m != "" && (tool == m || index(tool, m "/") == 1) && length(m) > length(best) { best = m; ver = v }
  END { if (best != "") print best, ver }' "$dir/go.mod") || true
[[ -n "${version:-}" ]] || { log "cannot find the module of $tool in the requirements of $dir/go.mod"; exit 1; }
pin="${version#v}"
if [[ -n "$pin_only" ]]; then
  echo "$pin"
  exit 0
fi

override="$(tr 'a-z-' 'A-Z_' <<<"$name")_BIN"
if [[ -z "$exact" && -n "${!override:-}" ]]; then
  [[ -x "${!override}" ]] || { log "$override=${!override} is not executable"; exit 1; }
  echo "${!override}"
  exit 0
fi

out="$root/.tools/bin/$name${exact:+-$pin}"
stamp="$root/.tools/bin/.$name${exact:+-$pin}.version"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/vault-plugin-secrets-palo"
cached="$cache_dir/$name-$pin"
mkdir -p "$root/.tools/bin"

if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$pin" ]]; then
  echo "$out"
  exit 0
fi

# built_from_pin BINARY: whether BINARY's build information names the pinned
# module version.
built_from_pin() {
  go version -m "$1" 2>/dev/null | awk -v m="$module" -v v="$version" '
    ($1 == "mod" || $1 == "dep") && $2 == m && $3 == v { found = 1 } END { exit !found }'
}

# use BINARY: points .tools/bin/NAME at BINARY (a link when it lives
# elsewhere) and prints the path.
use() {
  if [[ "$1" != "$out" ]]; then
    ln -sfn "$1" "$out"
  fi
  echo "$pin" >"$stamp"
  echo "$out"
}

if [[ -x "$cached" ]] && built_from_pin "$cached"; then
  log "using the build of $module $version made earlier on this machine ($cached)"
  use "$cached"
  exit 0
fi

tags='' cost='' build_env=()
if [[ -f "$dir/build.env" ]]; then
  while IFS= read -r line; do
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    case "${line%%=*}" in
      TAGS) tags="${line#*=}" ;;
      FIRST_BUILD) cost="${line#*=}" ;;
      *) build_env+=("$line") ;;
    esac
  done <"$dir/build.env"
fi

target="$cached"
if ! mkdir -p "$cache_dir" 2>/dev/null || [[ ! -w "$cache_dir" ]]; then
  log "cannot write $cache_dir: building into .tools/bin instead"
  target="$out"
fi
rm -f "$out" # a stale link or copy
log "building $tool $version from the Go module proxy into $target"
log "(first time on this machine only${cost:+: $cost})"
start=$SECONDS
build_log="$(mktemp)"
trap 'rm -f "$build_log" "$target.tmp.$$"' EXIT
log "downloading modules..."
log "then compiling${tags:+ with -tags $tags}${build_env[*]:+ and ${build_env[*]}} (a dot per 50 packages)..."
if ! (cd "$dir" && go mod download &&
  env ${build_env[@]+"${build_env[@]}"} go build -v -trimpath -ldflags "-s -w" ${tags:+-tags "$tags"} \
    -o "$target.tmp.$$" "$tool" 2>&1 | tee "$build_log" |
  awk '{ n++; if (n % 50 == 0) { printf "." > "/dev/stderr"; fflush("/dev/stderr") } }
       END { printf " %d packages\n", n > "/dev/stderr" }'); then
  log "the build failed; the end of its output:"
  tail -n 40 "$build_log" >&2
  exit 1
fi
built_from_pin "$target.tmp.$$" || { log "the built binary does not show $module $version in its build information"; exit 1; }
mv "$target.tmp.$$" "$target"
log "built $name $pin in $((SECONDS - start))s ($(($(stat -c %s "$target") / 1000000)) MB)"
use "$target"
