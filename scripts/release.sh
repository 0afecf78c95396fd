#!/usr/bin/env bash
# Writes a release into dist/ (or $DIST):
#   vault-plugin-secrets-palo_<version>_<os>_<arch>[.exe]   the plugin, five static binaries
#   palo-configure_<version>_<os>_<arch>[.exe]              the program that installs and
#                                                          configures it (bootstrap/README.md),
#                                                          five static binaries
#   SHA256SUMS                                             the ten binaries' sha256, nothing else
#   SHA256SUMS.sig                                         detached OpenPGP signature, when
#                                                          RELEASE_GPG_KEY names a key in the
#                                                          caller's keyring (GNUPGHOME)
#   <binary>.sbom.json                                     CycloneDX SBOM read from each binary
#   RELEASE_NOTES.md                                       the version's CHANGELOG section
#   vault-plugin-secrets-palo_<version>_oci/               OCI image layout, linux/amd64+arm64,
#                                                          for OpenBao's declarative plugins
# A version the CHANGELOG (or $CHANGELOG) has no section for is refused before
# anything is built.
# Usage: scripts/release.sh vX.Y.Z
set -euo pipefail

version=${1:?usage: scripts/release.sh vX.Y.Z}
root="$(cd "$(dirname "$0")/.." && pwd)"
dist=${DIST:-$root/dist}
changelog=${CHANGELOG:-$root/CHANGELOG.md}
plugin=vault-plugin-secrets-palo
# Each program's name and package.
programs=("$plugin=." "palo-configure=./bootstrap/configure/cmd/palo-configure")
targets=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64)
log() { echo "release: $*" >&2; }

cd "$root"
scripts/tools.sh cyclonedx-gomod
tool="$root/.tools/bin/release"
go build -C tools/release -o "$tool" .

notes="$("$tool" notes -changelog "$changelog" -version "$version")"
if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then
  log "warning: the work tree has uncommitted changes; these binaries match no commit"
fi

rm -rf "$dist"
mkdir -p "$dist"
bins=() linux=()
for p in "${programs[@]}"; do
  for t in "${targets[@]}"; do
    name="${p%%=*}_${version}_${t%/*}_${t#*/}"
    [[ "$t" == windows/* ]] && name+=.exe
    log "building $name"
    VERSION="$version" scripts/build.sh "$dist/$name" "$t" "${p#*=}"
    bins+=("$name")
    [[ "$t" == linux/* ]] && linux+=("$dist/$name")
  done
done
"$tool" static "${linux[@]}"

(cd "$dist" && sha256sum -- "${bins[@]}" >SHA256SUMS)
for b in "${bins[@]}"; do
  "$root/.tools/bin/cyclonedx-gomod" bin -json -output "$dist/$b.sbom.json" -version "$version" "$dist/$b" 2>/dev/null
done
printf '%s\n' "$notes" >"$dist/RELEASE_NOTES.md"
"$tool" image -dist "$dist" -version "$version"

if [[ -n "${RELEASE_GPG_KEY:-}" ]]; then
  log "signing SHA256SUMS with $RELEASE_GPG_KEY"
  gpg --batch --yes --local-user "$RELEASE_GPG_KEY" --detach-sign --output "$dist/SHA256SUMS.sig" "$dist/SHA256SUMS"
fi
log "wrote $dist"
