#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time each (default 5s).
# The checked-in seed corpora also run as plain tests in `go test ./...`.
# Usage: scripts/fuzz.sh [duration]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-5s}"
found=0
while IFS= read -r file; do
  dir="./$(dirname "$file")"
  while IFS= read -r name; do
    found=$((found + 1))
    echo "fuzz: $dir $name ($fuzztime)"
    go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$dir"
  done < <(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$file")
done < <(git ls-files '*_test.go'; git ls-files --others --exclude-standard '*_test.go')
if [[ $found -eq 0 ]]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz: $found targets passed"
