#!/usr/bin/env bash
# What make test checks of the release (CI runs it), of the plugin and of
# palo-configure alike:
#   1. bin/vault-plugin-secrets-palo and bin/palo-configure (make build) are
#      statically linked;
#   2. the same source (the work tree's files, as git sees them) built in two
#      directories gives byte-identical linux/amd64 binaries;
#   3. scripts/release.sh refuses a version the CHANGELOG has no section for;
#   4. a release of $VERSION, with the CHANGELOG's Unreleased section moved under
#      that version the way docs/releasing.md does it (in a copy), signed with a
#      throwaway key in a temporary GNUPGHOME: SHA256SUMS covers exactly the
#      ten binaries and `sha256sum -c` passes, `gpg --verify` passes, each
#      SBOM lists every module in its binary's build information with the same
#      version, RELEASE_NOTES.md is the Unreleased section, and the OCI image
#      goes through a loopback registry and back with the binaries' sha256.
# Usage: VERSION=vX.Y.Z scripts/release-check.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
: "${VERSION:?VERSION is not set}"
plugin=vault-plugin-secrets-palo
cd "$root"
tmp="$(mktemp -d)"
# The throwaway key's gpg-agent is stopped with its GNUPGHOME.
trap 'GNUPGHOME="$tmp/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$tmp"' EXIT
tool="$root/.tools/bin/release"
go build -C tools/release -o "$tool" .
step() { echo "release-check: $*"; }
fail() { echo "release-check: FAIL: $*" >&2; exit 1; }

step "1. bin/$plugin and bin/palo-configure are statically linked"
"$tool" static "bin/$plugin" bin/palo-configure

step "2. the same source built in two directories gives the same linux/amd64 binaries"
for d in a b; do
  mkdir "$tmp/src-$d"
  git ls-files -z --cached --others --exclude-standard | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null |
    tar -xf - -C "$tmp/src-$d"
done
for p in .=$plugin ./bootstrap/configure/cmd/palo-configure=palo-configure; do
  for d in a b; do
    VERSION="$VERSION" "$tmp/src-$d/scripts/build.sh" "$tmp/bin-$d" linux/amd64 "${p%%=*}"
  done
  sum_a="$(sha256sum <"$tmp/bin-a")" sum_b="$(sha256sum <"$tmp/bin-b")"
  [[ "$sum_a" == "$sum_b" ]] || fail "the two builds of ${p#*=} differ: ${sum_a%% *} and ${sum_b%% *}"
  step "   ${p#*=}: both ${sum_a%% *}"
done

step "3. a version without a CHANGELOG section is refused before anything is built"
if out="$(DIST="$tmp/refused" scripts/release.sh v99.0.0 2>&1)"; then
  fail "scripts/release.sh v99.0.0 succeeded"
fi
[[ "$out" == *"no section for v99.0.0"* ]] || fail "unexpected refusal: $out"
[[ ! -e "$tmp/refused" ]] || fail "the refused release wrote $tmp/refused"

step "4. release $VERSION into a temporary dist/"
changelog="$tmp/CHANGELOG.md"
sed "s/^## \[Unreleased\]\$/## [Unreleased]\n\n## [${VERSION#v}] - $(date -u +%F)/" CHANGELOG.md >"$changelog"
export GNUPGHOME="$tmp/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-generate-key 'release-check <release-check@example.invalid>' ed25519 sign 1d 2>/dev/null
key="$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')"
dist="$tmp/dist"
DIST="$dist" CHANGELOG="$changelog" RELEASE_GPG_KEY="$key" scripts/release.sh "$VERSION"

bins=()
for p in "$plugin" palo-configure; do
  bins+=("${p}_${VERSION}_linux_amd64" "${p}_${VERSION}_linux_arm64" "${p}_${VERSION}_darwin_amd64"
    "${p}_${VERSION}_darwin_arm64" "${p}_${VERSION}_windows_amd64.exe")
done
diff <(printf '%s\n' "${bins[@]}" | sort) <(awk '{ print $2 }' "$dist/SHA256SUMS" | sort) ||
  fail "SHA256SUMS does not list exactly the ten binaries"
(cd "$dist" && sha256sum --quiet -c SHA256SUMS) || fail "sha256sum -c SHA256SUMS"
gpg --batch --quiet --verify "$dist/SHA256SUMS.sig" "$dist/SHA256SUMS" 2>/dev/null || fail "gpg --verify SHA256SUMS.sig"
step "   SHA256SUMS: ten binaries, sha256sum -c and gpg --verify pass (release.sh checked the linux ones static)"

for b in "${bins[@]}"; do
  "$tool" sbom "$dist/$b" "$dist/$b.sbom.json"
done

unreleased="$(awk '/^## /{ if (p) exit; p = ($0 == "## [Unreleased]"); next } p' CHANGELOG.md | sed -e '/./,$!d')"
diff <(echo "$unreleased") "$dist/RELEASE_NOTES.md" ||
  fail "RELEASE_NOTES.md is not the CHANGELOG's Unreleased section"
step "   RELEASE_NOTES.md is the Unreleased section"

"$tool" image-check -dist "$dist" -version "$VERSION"
step "all release checks pass"
