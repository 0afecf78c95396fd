#!/usr/bin/env bash
# Installs the Debian packages the tests and scripts use (curl, the shell
# linter, gpg for the release signature check, and a C compiler for the cgo
# build of Ory Hydra's SQLite store) when they are missing. Needs root or
# sudo the first time on a fresh machine; does nothing when everything is
# there.

set -euo pipefail

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
[[ ${#need[@]} -eq 0 ]] && exit 0

echo "deps: installing ${need[*]} with apt-get" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root or sudo to install ${need[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
