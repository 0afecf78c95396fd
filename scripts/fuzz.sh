#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a budget of executions each
# (default 10000x; -fuzztime also takes a duration, such as 1m, for longer
# runs by hand). The checked-in seed corpora also run as plain tests in
# `go test ./...`.
#
# The default is a count, not a duration: with a duration, Go's fuzzing
# coordinator (go1.26) can report a bare "context deadline exceeded" failure
# when the time runs out while a worker is busy, with no failing input
# (golang/go#75804). A count has no deadline; a loaded machine only makes it
# slower, and -timeout bounds that.
# Usage: scripts/fuzz.sh [budget]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10000x}"
found=0
while IFS= read -r file; do
  dir="./$(dirname "$file")"
  while IFS= read -r name; do
    found=$((found + 1))
    echo "fuzz: $dir $name ($fuzztime)"
    go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -timeout=5m "$dir"
  done < <(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$file")
done < <(git ls-files '*_test.go'; git ls-files --others --exclude-standard '*_test.go')
if [[ $found -eq 0 ]]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz: $found targets passed"
