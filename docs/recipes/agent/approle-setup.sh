#!/usr/bin/env bash
# What agent.hcl logs in with, set up once by an operator: the AppRole auth
# method (enabled if it is not yet), the policy my-app (my-app.hcl: read on
# the two creds paths the Agent renders), the AppRole role my-app whose
# tokens carry that policy, and the role-id and secret-id files beside this
# script, readable by their owner only (mode 0600).
#
#   export VAULT_ADDR=... VAULT_TOKEN=...   # an operator's token; on `make dev`:
#                                           # eval "$(scripts/dev.sh env)"
#   docs/recipes/agent/approle-setup.sh
#
# Run again, it keeps the method, rewrites the policy and role, and issues
# a new secret-id.
set -euo pipefail

cd "$(dirname "$0")"
umask 077

if ! vault auth list -format=json | grep -q '"approle/"'; then
  vault auth enable approle
fi
vault policy write my-app my-app.hcl
vault write auth/approle/role/my-app token_policies=my-app token_ttl=1h token_max_ttl=4h
# New files, so that umask gives them 0600 whatever mode old ones had.
rm -f role-id secret-id
vault read -field=role_id auth/approle/role/my-app/role-id >role-id
vault write -f -field=secret_id auth/approle/role/my-app/secret-id >secret-id
echo "approle-setup: wrote role-id and secret-id (mode 0600) in $PWD"
