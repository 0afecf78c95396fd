#!/usr/bin/env bash
# Checks the formatting of the Terraform module (bootstrap/terraform) and of
# the Vault policy and Agent HCL files in docs/recipes, and fails with a
# diff if any file is not in canonical form.
#
# Uses `terraform fmt` or `tofu fmt` when either is installed, else hclfmt
# from github.com/hashicorp/hcl/v2 (the formatter both of them are built
# on), built once from the Go module proxy into .tools/bin. On these files
# the three agree; terraform fmt alone also rewrites a few legacy forms
# (such as quoted type names) that the files here do not use.
#
# Usage: scripts/tf-fmt-check.sh [--hclfmt]   (--hclfmt: use hclfmt even if
# terraform or tofu is installed)
set -euo pipefail

cd "$(dirname "$0")/.."
HCLFMT_MODULE=github.com/hashicorp/hcl/v2/cmd/hclfmt
HCLFMT_VERSION=v2.24.0
BIN="$PWD/.tools/bin"

force_hclfmt=false
[[ "${1:-}" != "--hclfmt" ]] || force_hclfmt=true

mapfile -t files < <(find bootstrap/terraform docs/recipes -type f \( -name '*.tf' -o -name '*.tfvars' -o -name '*.hcl' \) | sort)
[[ ${#files[@]} -gt 0 ]] || {
  echo "tf-fmt-check: no HCL files found" >&2
  exit 1
}

# formatter: prints the canonical form of the file on stdin.
if ! $force_hclfmt && command -v terraform >/dev/null 2>&1; then
  tool="terraform fmt"
  formatter() { terraform fmt -no-color - 2>/dev/null; }
elif ! $force_hclfmt && command -v tofu >/dev/null 2>&1; then
  tool="tofu fmt"
  formatter() { tofu fmt -no-color - 2>/dev/null; }
else
  stamp="$BIN/.hclfmt.version"
  if [[ ! -x "$BIN/hclfmt" || ! -f "$stamp" || "$(cat "$stamp")" != "$HCLFMT_VERSION" ]]; then
    echo "tf-fmt-check: installing hclfmt $HCLFMT_VERSION into .tools/bin (first time only)" >&2
    mkdir -p "$BIN"
    GOBIN="$BIN" GOFLAGS=-mod=mod go install "$HCLFMT_MODULE@$HCLFMT_VERSION"
    echo "$HCLFMT_VERSION" >"$stamp"
  fi
  tool="hclfmt $HCLFMT_VERSION"
  formatter() {
    # hclfmt reads a file, not stdin.
    local in
    in="$(mktemp)"
    cat >"$in"
    "$BIN/hclfmt" "$in"
    rm -f "$in"
  }
fi

bad=0
for f in "${files[@]}"; do
  if ! formatted="$(formatter <"$f")"; then
    echo "tf-fmt-check: $f does not parse ($tool)" >&2
    bad=1
    continue
  fi
  # Compare with a trailing newline on both sides: $(...) drops it.
  if ! diff -u --label "$f" --label "$f (formatted)" <(cat "$f") <(printf '%s\n' "$formatted"); then
    bad=1
  fi
done
if [[ $bad -ne 0 ]]; then
  echo "tf-fmt-check: files above are not formatted ($tool); fix with terraform fmt, tofu fmt or hclfmt -w" >&2
  exit 1
fi
echo "tf-fmt-check: ${#files[@]} files formatted ($tool)"
