#!/usr/bin/env bash
# Installs the pinned developer tools (gofumpt, golangci-lint) into .tools/bin
# from the Go module proxy, unless the pinned version is already there. The
# release tools are installed the same way when named: cyclonedx-gomod,
# govulncheck, and vulndb (the Go vulnerability database, downloaded as the
# golang.org/x/vulndb module and converted into .tools/vulndb for
# `govulncheck -db file://...`; update VULNDB_VERSION deliberately, like any
# dependency).
# Usage: scripts/tools.sh [gofumpt|golangci-lint|cyclonedx-gomod|govulncheck|vulndb]...
#        (default: gofumpt and golangci-lint)
set -euo pipefail

cd "$(dirname "$0")/.."
GOFUMPT_VERSION=v0.12.0
GOLANGCI_LINT_VERSION=v2.15.0
CYCLONEDX_GOMOD_VERSION=v1.10.0
GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
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

install_vulndb() {
  local stamp="$BIN/.vulndb.version" dir
  if [[ -f "$PWD/.tools/vulndb/index/modules.json" && -f "$stamp" && "$(cat "$stamp")" == "$VULNDB_VERSION" ]]; then
    return 0
  fi
  echo "tools: converting golang.org/x/vulndb $VULNDB_VERSION into .tools/vulndb" >&2
  dir="$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$dir/data/osv" ]] || { echo "tools: golang.org/x/vulndb@$VULNDB_VERSION has no data/osv" >&2; exit 1; }
  go run -C tools/release . vulndb "$dir/data/osv" "$PWD/.tools/vulndb" "$VULNDB_VERSION" >&2
  echo "$VULNDB_VERSION" >"$stamp"
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(gofumpt golangci-lint)
for t in "${tools[@]}"; do
  case "$t" in
    gofumpt) install gofumpt mvdan.cc/gofumpt "$GOFUMPT_VERSION" ;;
    golangci-lint) install golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$GOLANGCI_LINT_VERSION" ;;
    cyclonedx-gomod) install cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod "$CYCLONEDX_GOMOD_VERSION" ;;
    govulncheck) install govulncheck golang.org/x/vuln/cmd/govulncheck "$GOVULNCHECK_VERSION" ;;
    vulndb) install_vulndb ;;
    *) echo "tools: unknown tool $t" >&2; exit 2 ;;
  esac
done
