#!/usr/bin/env bash
# Runs every benchmark and rewrites BENCHMARKS.md (what `make bench` runs).
#
#   1. builds the plugin and the fake vendor (make build fakevendor) and gets
#      Vault (scripts/get-vault.sh);
#   2. the Go benchmarks of the hot path: go test -bench -benchmem of backend/
#      and backend/tokencache/, five passes;
#   3. the end-to-end benchmarks against real Vault servers (bench/vaultbench:
#      cache hits against the minimal plugin and KV, vendor calls, the cold
#      path, memory with 10,000 cached tokens, Raft), about six minutes;
#   4. the scale benchmark (TestScale in bench/vaultbench): one mount with
#      PALO_SCALE_CONFIGS configs and roles (2,000 by default; the in-process
#      BenchmarkMetricsScrapeAtScale of step 2 uses the same number), about
#      four minutes, two of them waiting for two runs of the periodic
#      rotation check;
#   5. the load test with injected faults (TestLoad in e2e/), if it exists;
#   6. renders BENCHMARKS.md (bench/report).
#
# It needs Go and make, and nothing beyond loopback. About fifteen minutes
# on two cores. BENCH_QUICK=1 shortens every run (to try the harness; the
# figures are then too noisy to keep). Exits non-zero if any part fails;
# BENCHMARKS.md is then still written when the figures it needs exist.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

log() { echo "bench: $*" >&2; }

version="${VERSION:-$(cat VERSION)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
loadavg_before="$(cat /proc/loadavg)"
status=0

make -s build fakevendor VERSION="$version"
VAULT_BIN="$(scripts/get-vault.sh | tail -n1)"
export VAULT_BIN PLUGIN_BIN="$root/bin/vault-plugin-secrets-palo" PLUGIN_VERSION="$version" FAKEVENDOR_BIN="$root/bin/fakevendor"
export PALO_SCALE_CONFIGS="${PALO_SCALE_CONFIGS:-2000}"

# Five passes rather than -count=5, so that a burst of load on a shared
# machine hits one run of every benchmark rather than every run of one; the
# report takes the median.
passes=5
gobench=(go test -run='^$' -bench=. -benchmem -count=1 -benchtime=500ms ./backend/ ./backend/tokencache/)
log "Go benchmarks, $passes passes: ${gobench[*]}"
for ((pass = 1; pass <= passes; pass++)); do
  "${gobench[@]}" | tee -a "$work/gobench.txt"
done

log "end-to-end benchmarks against real Vault servers (about six minutes)"
BENCH_RESULTS="$work/results.json" go test -tags e2e -count=1 -timeout 30m -run '^TestBenchmarks$' -v ./bench/vaultbench/

scale_cmd="BENCH_SCALE_RESULTS=<file> PALO_SCALE_CONFIGS=$PALO_SCALE_CONFIGS go test -tags e2e -count=1 -timeout 30m -run '^TestScale\$' ./bench/vaultbench/"
log "scale benchmark, $PALO_SCALE_CONFIGS configs (about four minutes): $scale_cmd"
scale_args=()
if BENCH_SCALE_RESULTS="$work/scale.json" go test -tags e2e -count=1 -timeout 30m -run '^TestScale$' -v ./bench/vaultbench/ && [[ -s "$work/scale.json" ]]; then
  scale_args=(-scale "$work/scale.json")
else
  scale_args=(-scale-note "\`$scale_cmd\` failed; see the output of \`make bench\`.")
  status=1
fi

load_cmd="LOAD_REPORT=<file> go test -tags e2e -count=1 -timeout 20m -run TestLoad ./e2e/"
load_args=()
if grep -qs '^func TestLoad' e2e/*_test.go; then
  log "load test: $load_cmd"
  if LOAD_REPORT="$work/load.json" go test -tags e2e -count=1 -timeout 20m -run TestLoad -v ./e2e/; then
    if [[ -s "$work/load.json" ]]; then
      load_args=(-load "$work/load.json")
    else
      load_args=(-load-note "\`$load_cmd\` passed but wrote no report to LOAD_REPORT.")
      status=1
    fi
  else
    load_args=(-load-note "\`$load_cmd\` failed; see the output of \`make bench\`.")
    status=1
  fi
else
  log "no TestLoad in e2e/ yet: skipping the load test"
  load_args=(-load-note "the load test (\`TestLoad\` in e2e/) does not exist yet; \`make bench\` runs it once it does.")
fi

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ "$commit" != unknown ]] && ! git diff-index --quiet HEAD -- 2>/dev/null; then
  commit="$commit + uncommitted changes"
fi
go run ./bench/report \
  -results "$work/results.json" -gobench "$work/gobench.txt" "${scale_args[@]}" "${load_args[@]}" \
  -out BENCHMARKS.md -commit "$commit" -plugin-version "$version" \
  -gobench-command "${gobench[*]}" -load-command "$load_cmd" \
  -loadavg-before "$loadavg_before" -loadavg-after "$(cat /proc/loadavg)"
log "wrote BENCHMARKS.md"
exit "$status"
