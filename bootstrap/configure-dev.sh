#!/usr/bin/env bash
# `make configure`: runs configure.sh again against the dev Vault and fake
# vendor that `make dev` (scripts/dev.sh) left running, with the state it
# keeps in .dev/: the Vault address and token (env), the plugin directory
# (plugins/), the fake vendor's URL and CA (fakevendor.url, ca.pem) and the
# declarative file of the demo's configs and roles (palo.json, whose secrets
# are in secrets/). `make dev` wrote that file into Vault already, so this
# run reports every object unchanged; extra arguments go to configure.sh,
# e.g. --dry-run or --rotate-secrets.
#
# PALO_DEV_STATE names another state folder than .dev/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${PALO_DEV_STATE:-$root/.dev}"

if [[ ! -f "$state/env" || ! -f "$state/fakevendor.url" || ! -f "$state/palo.json" ]]; then
  echo "configure-dev.sh: no dev Vault state in $state: start one with \`make dev\`" >&2
  exit 1
fi
# The dev Vault's VAULT_ADDR and VAULT_TOKEN.
# shellcheck source=/dev/null
source "$state/env"
export VAULT_ADDR VAULT_TOKEN
FAKEVENDOR_URL="$(cat "$state/fakevendor.url")"
export FAKEVENDOR_URL FAKEVENDOR_CA_FILE="$state/ca.pem"

exec "$root/bootstrap/configure.sh" --plugin-dir "$state/plugins" --file "$state/palo.json" "$@"
