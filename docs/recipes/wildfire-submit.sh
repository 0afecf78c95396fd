#!/usr/bin/env bash
# Submit a file to the WildFire API with a short-lived token from Vault.
#
#   export VAULT_ADDR=https://vault.example.com:8200
#   export VAULT_TOKEN=...            # a token with the team's policy
#   docs/recipes/wildfire-submit.sh sample.exe
#
# The token comes from `vault read -field=access_token palo/creds/wildfire`,
# or, with WILDFIRE_TOKEN_FILE set, from a file Vault Agent renders (see
# agent/agent.hcl). Read it before each call: Vault hands out the cached token
# while it has life left and a fresh one when it does not, so there is
# nothing to cache or refresh here.
#
# The token reaches curl on standard input (-H @-), never on a command line
# where other users of the machine could see it.
#
# Settings: PALO_MOUNT (default palo), WILDFIRE_ROLE (default wildfire),
# WILDFIRE_URL (default https://wildfire.paloaltonetworks.com).
set -euo pipefail

file="${1:?usage: wildfire-submit.sh FILE}"
mount="${PALO_MOUNT:-palo}"
role="${WILDFIRE_ROLE:-wildfire}"
url="${WILDFIRE_URL:-https://wildfire.paloaltonetworks.com}"

if [[ -n "${WILDFIRE_TOKEN_FILE:-}" ]]; then
  token="$(<"$WILDFIRE_TOKEN_FILE")"
else
  token="$(vault read -field=access_token "$mount/creds/$role")"
fi
[[ -n "$token" ]] || {
  echo "wildfire-submit.sh: no token" >&2
  exit 1
}

printf 'Authorization: Bearer %s\n' "$token" |
  curl --silent --show-error --fail -H @- -F "file=@$file" "$url/publicapi/submit/file"
