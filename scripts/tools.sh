#!/usr/bin/env bash
# Installs the pinned developer tools (gofumpt, golangci-lint) into .tools/bin
# from the Go module proxy, unless the pinned version is already there.
# Usage: scripts/tools.sh [gofumpt|golangci-lint]...   (default: both)
set -euo pipefail

cd "$(dirname "$0")/.."
GOFUMPT_VERSION=v0.12.0
GOLANGCI_LINT_VERSION=v2.15.0
BIN="$PWD/.tools/bin"
mkdir -p "$BIN"

install() { # name module version
  local name=$1 module=$2 version=$3 stamp="$BIN/.$1.version"
  if [[ -x "$BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
    return 0
  fi
  echo "tools: installing $name $version into .tools/bin (first time only)" >&2
  GOBIN="$BIN" go install "$module@$version"
  echo "$version" >"$stamp"
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(gofumpt golangci-lint)
for t in "${tools[@]}"; do
  case "$t" in
    gofumpt) install gofumpt mvdan.cc/gofumpt "$GOFUMPT_VERSION" ;;
    golangci-lint) install golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$GOLANGCI_LINT_VERSION" ;;
    *) echo "tools: unknown tool $t" >&2; exit 2 ;;
  esac
done
