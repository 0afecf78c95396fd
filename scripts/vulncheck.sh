#!/usr/bin/env bash
# Scans the plugin module with govulncheck against the pinned local copy of the
# Go vulnerability database (no network beyond the Go module proxy). A
# vulnerability the plugin's code calls fails the scan. Then it shows the scan
# can fail: tools/release/testdata/vulnerable calls a vulnerable
# golang.org/x/text function and must be flagged with GO-2021-0113. The scan
# uses the Go toolchain go.mod pins, the one releases are built with, since
# the standard library it checks is the one compiled into the binaries.
# Usage: scripts/vulncheck.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/tools.sh govulncheck vulndb
GOTOOLCHAIN="$(sed -n 's/^toolchain //p' go.mod)"
export GOTOOLCHAIN
db="file://$root/.tools/vulndb"
govulncheck="$root/.tools/bin/govulncheck"

echo "vulncheck: scanning the plugin module against $(cat .tools/bin/.vulndb.version) of golang.org/x/vulndb"
"$govulncheck" -db "$db" ./...

out="$(cd tools/release/testdata/vulnerable && "$govulncheck" -db "$db" ./... 2>&1)" && rc=0 || rc=$?
if [[ $rc -ne 3 || "$out" != *GO-2021-0113* ]]; then
  echo "$out"
  echo "vulncheck: the scan of a module calling a known vulnerable function exited $rc without GO-2021-0113; the scan cannot be trusted" >&2
  exit 1
fi
echo "vulncheck: the known vulnerable call in tools/release/testdata/vulnerable is flagged (GO-2021-0113, exit 3), as it must be"
