# Delegated role management with allowed_parameters: team secops creates,
# reads, changes and deletes its own roles (names starting with "secops-")
# and reads their tokens, but only on the scm-prod vendor account, and only
# for the two Tenant Service Groups it owns. It cannot touch config/ (the
# vendor secrets), other teams' roles, or the mount.
#
# No required_parameters: Vault applies them to reads too (a read carries
# no parameters), so ["config"] would refuse `vault read` of the team's own
# roles. The engine itself refuses to create a role without a config, and
# allowed_parameters refuses any config but scm-prod.
#
#   vault policy write palo-secops-role-admin docs/recipes/policies/secops-role-admin.hcl

path "palo/roles/secops-*" {
  capabilities = ["create", "read", "update", "delete"]
  allowed_parameters = {
    "config"  = ["scm-prod"]
    "tsg_id"  = ["1234567890", "1234567891"]
    "ttl"     = []
    "min_ttl" = []
    "lease"   = []
  }
}

path "palo/roles" {
  capabilities = ["list"]
}

path "palo/creds/secops-*" {
  capabilities = ["read"]
}
