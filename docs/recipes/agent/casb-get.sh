#!/usr/bin/env bash
# Call an Oracle CASB Cloud Service API with the token and tenant id that
# Vault Agent renders into out/casb.curlrc (see agent.hcl):
#
#   CASB_URL=https://<pod>.palerra.net docs/recipes/agent/casb-get.sh /api/v1/<resource>
#
# Oracle CASB wants two headers on every call: Authorization: Bearer <token>
# and X-Apprity-Tenant-Id: <tenant id>. Both come from palo/creds/casb
# (access_token and tenant_id). curl reads them from the rendered file
# (-K), so the token never appears on a command line.
#
# Settings: CASB_URL (required), CASB_CURLRC (default out/casb.curlrc beside
# this script).
set -euo pipefail

api_path="${1:?usage: casb-get.sh /api/v1/<resource>}"
base="${CASB_URL:?set CASB_URL to your tenant, e.g. https://<pod>.palerra.net}"
curlrc="${CASB_CURLRC:-$(dirname "$0")/out/casb.curlrc}"

curl --silent --show-error --fail -K "$curlrc" "${base%/}$api_path"
