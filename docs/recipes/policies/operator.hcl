# The operator of the engine: vendor accounts, roles and the token cache of
# the palo/ mount, but no tokens (creds/ is absent on purpose: operators
# configure, applications read). Registering the plugin and enabling the
# mount need sys/ rights on top; see bootstrap/README.md.
#
#   vault policy write palo-operator docs/recipes/policies/operator.hcl

path "palo/config" {
  capabilities = ["list"]
}

path "palo/config/*" {
  capabilities = ["create", "read", "update", "delete"]
}

path "palo/roles" {
  capabilities = ["list"]
}

path "palo/roles/*" {
  capabilities = ["create", "read", "update", "delete"]
}

path "palo/cache" {
  capabilities = ["read"]
}

path "palo/cache/purge" {
  capabilities = ["update"]
}
