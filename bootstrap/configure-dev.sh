#!/usr/bin/env bash
# `make configure`: runs configure.sh with bootstrap/examples/dev.json
# against the dev Vault and fake vendor that `make dev` (scripts/dev.sh)
# left running, using the state it keeps in .dev/: the Vault address and
# token (env), the plugin directory (plugins/), the fake vendor's URL and
# CA (fakevendor.url, ca.pem) and its accounts' secrets (secrets/<config>).
# Extra arguments go to configure.sh, e.g. --dry-run or --rotate-secrets.
#
# PALO_DEV_STATE names another state folder than .dev/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${PALO_DEV_STATE:-$root/.dev}"

if [[ ! -f "$state/env" || ! -f "$state/fakevendor.url" ]]; then
  echo "configure-dev.sh: no dev Vault state in $state: start one with \`make dev\`" >&2
  exit 1
fi
# The dev Vault's VAULT_ADDR and VAULT_TOKEN.
# shellcheck source=/dev/null
source "$state/env"
export VAULT_ADDR VAULT_TOKEN
FAKEVENDOR_URL="$(cat "$state/fakevendor.url")"
export FAKEVENDOR_URL
export FAKEVENDOR_CA_FILE="$state/ca.pem"
export DEV_SECRETS_DIR="$state/secrets"

exec "$root/bootstrap/configure.sh" --plugin-dir "$state/plugins" \
  --file "$root/bootstrap/examples/dev.json" "$@"
