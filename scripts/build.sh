#!/usr/bin/env bash
# Builds a binary of this project the one way this project builds them:
# static (CGO_ENABLED=0, so it runs on glibc and musl alike), -trimpath (no
# build paths inside, so the same commit gives the same bytes in any
# directory), and the version stamped into backend.Version (the plugin
# reports it; palo-configure takes it as the plugin version it installs).
# make build, make release and the reproducibility check all call this. The
# Go toolchain is the one go.mod pins (downloaded from the Go module proxy
# when it is not the local one): its standard library is compiled into the
# binary, so it is a dependency like any other.
# Usage: [VERSION=vX.Y.Z] scripts/build.sh OUT [GOOS/GOARCH [PACKAGE]]
#   VERSION   default: the VERSION file
#   GOOS/GOARCH  default (or ""): this machine
#   PACKAGE   default: . (the plugin); ./bootstrap/configure/cmd/palo-configure
set -euo pipefail

out=${1:?usage: [VERSION=vX.Y.Z] scripts/build.sh OUT [GOOS/GOARCH [PACKAGE]]}
cd "$(dirname "$0")/.."
target=${2:-$(go env GOOS)/$(go env GOARCH)}
package=${3:-.}
version=${VERSION:-$(cat VERSION)}
GOTOOLCHAIN="$(sed -n 's/^toolchain //p' go.mod)"
export GOTOOLCHAIN
module="$(go list -m)"
CGO_ENABLED=0 GOOS="${target%/*}" GOARCH="${target#*/}" \
  go build -trimpath -ldflags "-X $module/backend.Version=$version" -o "$out" "$package"
